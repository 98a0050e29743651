"""hls4ml conversion (bit-exact), C-simulation on every core, and the bit-exactness check.

    project = convert(model, "hls_projects/my-model")     # any QKeras model that passes check_model
    y = csim(project, x)                                   # fixed-point outputs as float64
    result = verify(model, project, x)                     # exact comparison with QKeras, diagnosed
"""

from skipless.hls.checks import check_model
from skipless.hls.csim import csim
from skipless.hls.diagnose import Divergence, Verification, first_divergence, verify
from skipless.hls.project import HLSProject, HLSSettings, convert, stock_model

__all__ = [
    "Divergence",
    "HLSProject",
    "HLSSettings",
    "Verification",
    "check_model",
    "convert",
    "csim",
    "first_divergence",
    "stock_model",
    "verify",
]
