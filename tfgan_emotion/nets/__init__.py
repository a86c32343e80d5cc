"""Network builders, one module per paper. Importing this package registers the custom layers, which
``keras.saving.load_model`` needs to load exported ``.keras`` files (``import tfgan_emotion.nets`` first)."""
from . import layers  # noqa: F401  (registers the serialisable custom layers)
