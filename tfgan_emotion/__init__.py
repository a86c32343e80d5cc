"""tfgan_emotion: faithful TensorFlow/Keras reimplementations of five emotional-face GAN papers.

The Python API (see :mod:`tfgan_emotion.api`): ``train``, ``load``, ``evaluate``, ``export_run``; the systems are in
:mod:`tfgan_emotion.systems`.
"""
import os

# TensorFlow's C++ info lines (oneDNN, CUDA probing) drown the progress output; users can still set the variable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

from .api import Model, evaluate, export_run, load, train  # noqa: E402,F401
from .systems.base import UsageError  # noqa: E402,F401
