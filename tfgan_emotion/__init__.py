"""tfgan_emotion: faithful TensorFlow/Keras reimplementations of five emotional-face GAN papers."""
import os

# TensorFlow's C++ info lines (oneDNN, CUDA probing) drown the progress output; users can still set the variable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
