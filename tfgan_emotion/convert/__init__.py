"""``tfgan-emotion convert``: load networks published with a paper's original code into a run directory of this
suite, so that ``edit``, ``evaluate``, ``compare``, ``study`` and the Python API take them like a trained run.

- :mod:`.torchfile`: reads a PyTorch ``torch.save`` state dict into NumPy arrays without PyTorch and without running
  anything the file names (a restricted unpickler).
- :mod:`.ganmut`: the GANmut authors' generators (linear or gaussian 2-D model) -> a ``ganmut_affwild2`` run.

Importing this package does not import TensorFlow; writing a run does.
"""
from __future__ import annotations

from .torchfile import CheckpointError, UnsafeCheckpointError, read_state_dict  # noqa: F401

CONVERTERS = ("ganmut",)
