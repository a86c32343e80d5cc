"""tfgan_emotion: faithful TensorFlow/Keras reimplementations of five emotional-face GAN papers.

The Python API (see :mod:`tfgan_emotion.api`): ``train``, ``load``, ``evaluate``, ``export_run``; the systems are in
:mod:`tfgan_emotion.systems`.
"""
import os
import platform

# TensorFlow's C++ info lines (oneDNN, CUDA probing) drown the progress output; users can still set the variable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's CPU kernels. TensorFlow turns them on by itself only on x86 CPUs with AVX-512 VNNI/BF16 or AMX; on the
# others (AVX2) it falls back to Eigen's kernels, which ran every recipe's default training step 1.2-2.0x slower
# (README, "CPUs without AVX-512"). TensorFlow reads the variable once, when it is imported, so this only takes
# effect when tfgan_emotion is imported first (the command line and the recipes always are);
# TF_ENABLE_ONEDNN_OPTS=0 keeps TensorFlow's own choice. runtime.onednn() says what the process got.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

from .api import Model, evaluate, export_run, load, train  # noqa: E402,F401
from .systems.base import UsageError  # noqa: E402,F401
