"""RTL co-simulation with cocotb: ``cosim(design, x, simulator="verilator"|"icarus") -> CosimResult``."""

from skipless.cosim.run import CosimResult, cosim, input_mantissas
from skipless.tools import SIMULATORS, available, simulator_env

__all__ = ["SIMULATORS", "CosimResult", "available", "cosim", "input_mantissas", "simulator_env"]
