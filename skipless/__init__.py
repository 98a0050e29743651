"""skipless: a verification and benchmark harness for skip-less, quantized ResNets on FPGAs."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) buries the harness' own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

import warnings as _warnings

# Two harmless warnings Keras prints for every QKeras model it serializes or builds.
_warnings.filterwarnings("ignore", message=r"The `keras.constraints.serialize\(\)` API should only be used")
_warnings.filterwarnings("ignore", message=r"The initializer HeNormal is unseeded")
_warnings.filterwarnings("ignore", message=r"You are saving your model as an HDF5 file")
