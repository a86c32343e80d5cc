"""Built-in synthetic faces: a procedural face renderer with known ground truth, and stand-ins for every dataset.

Without any dataset on disk every recipe still runs on these faces. They are NOT real faces and NOT samples of the
real datasets: they are cartoon faces drawn from smooth masks, rendered in numpy for a whole batch at once. They
exist so that the pipelines, losses and evaluation protocols can be exercised end to end, and so that a model's
ability to learn expression and identity can be measured against exact labels. Numbers obtained on them say
nothing about the papers' results.

The package has three parts, each documented in its module:

- :mod:`.renderer`: the face renderer. :func:`render_faces` draws faces from identity, valence and arousal;
  :func:`identity_params` (a person per integer id, and the FERG-like and FACES-like styles),
  :func:`expression_features` (the expression as a smooth function of valence and arousal) and
  :func:`sample_nuisance` (pose, lighting, blur and noise) are its parts.
- :mod:`.standins`: the dataset stand-ins (:data:`STANDINS`): :func:`make_arrays` and :func:`make_dataset` give a
  stand-in split with its dataset's vocabulary, image size, channels and label fields, validation and test
  identities held out from training.
- :mod:`.writers`: dataset-shaped files on disk in the real releases' layouts: :func:`write_affwild2_frames`
  (Aff-Wild2 frames and expression annotations) and :func:`write_affectnet_files` (AffectNet images and CSV).

Every name is importable from this package (``from tfgan_emotion.data import synthetic as synth``;
``synth.make_arrays(...)``).
"""
from tfgan_emotion.data.synthetic.renderer import (
    ACCENT_NAMES, CHARACTER_STYLES, EXPRESSION_FEATURES, IDENTITY_FIELDS, MAX_BLUR, NUISANCE_FIELDS, STYLES, _ZOOM,
    accent_weights, expression_features, identity_params, render_faces, sample_nuisance,
)
from tfgan_emotion.data.synthetic.standins import (
    AFFWILD2_FRAMES, PROTOTYPES_10, SPLITS, STANDINS, VA_COVERAGE, StandIn, _plan, make_arrays, make_dataset,
)
from tfgan_emotion.data.synthetic.writers import write_affectnet_files, write_affwild2_frames

__all__ = [
    # renderer
    "ACCENT_NAMES", "CHARACTER_STYLES", "EXPRESSION_FEATURES", "IDENTITY_FIELDS", "MAX_BLUR", "NUISANCE_FIELDS",
    "STYLES", "accent_weights", "expression_features", "identity_params", "render_faces", "sample_nuisance",
    # standins
    "AFFWILD2_FRAMES", "PROTOTYPES_10", "SPLITS", "STANDINS", "VA_COVERAGE", "StandIn", "make_arrays", "make_dataset",
    # writers
    "write_affectnet_files", "write_affwild2_frames",
]
# _ZOOM (the renderer's face units per half frame) and _plan (a stand-in's labels without pixels) are re-exported
# for the tests, which measure faces in face units and check the identity pools of the splits.
