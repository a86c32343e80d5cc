"""GANmut's evaluation protocol and data handling as paper 002 has them (sections V.C-D, VI): the emotion classifiers
train on a separate balanced set, never on the GAN's training images; the discriminator F1 reads training images;
one smoothness rule; Fig. 8 counts each training set; the combined set's AffectNet images pass through the face
detector unless --affectnet-crops box; the notes and the paper-item statuses say which fallback a run took. All
unit-level: tiny arrays and images, fake networks and a fake detector, no training."""
from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf
import keras
from PIL import Image

from tfgan_emotion import systems
from tfgan_emotion.data import crops, detect
from tfgan_emotion.eval import ganmut as G
from tfgan_emotion.eval import metrics as M
from test_ganmut_data import affectnet_tree, cropped_aligned_tree, expr_file, solid

pytestmark = pytest.mark.usefixtures("no_network")
NAMES = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "anger"]
SIZE = 8


class FakeGAN:
    """edit_emotion / edit shift the face by the request, so each (class, rho) gives other pixels."""

    def __init__(self):
        self.config = types.SimpleNamespace(image_size=SIZE)
        x = keras.Input((SIZE, SIZE, 3))
        self.discriminator = keras.Model(x, [keras.layers.Conv2D(1, 3, padding="same")(x),
                                             keras.layers.Conv2D(7, SIZE)(x)])

    def edit_emotion(self, faces, emotion, rho):
        return tf.constant(np.clip(np.asarray(faces, np.float32) + 0.05 * (int(emotion) + 1) * float(rho), -1, 1))

    def edit(self, faces, theta, rho):
        return tf.constant(np.clip(np.asarray(faces, np.float32) + 0.1 * float(theta) * float(rho), -1, 1))

    def unit_directions(self):
        t = np.arange(6) * np.pi / 3
        return np.stack([np.cos(t), np.sin(t)], -1)


def tiny_classifier(n_classes):
    x = keras.Input((SIZE, SIZE, 3))
    h = keras.layers.Dense(4, name="features")(keras.layers.Flatten()(x))
    model = keras.Model(x, keras.layers.Dense(n_classes, name="logits")(h))
    model.pretrained, model.phases, model.class_ids = False, ({"trains": "fake"},), tuple(range(n_classes))
    return model


def faces(n, offset, seed):
    rng = np.random.default_rng(seed)
    return {"image": np.clip(rng.uniform(-0.5, 0.5, (n, SIZE, SIZE, 3)) + offset, -1, 1).astype(np.float32),
            "expression": (np.arange(n) % 7).astype(np.int32)}


def test_classifiers_never_see_a_gan_training_image_and_table_v_reads_training_images(monkeypatch, tmp_path):
    gan_train, held, classifier_set = faces(28, -0.4, 0), faces(21, 0.0, 1), faces(14, 0.4, 2)
    trained, d_sets = [], []

    def fake_training(name, images, labels, steps, image_size, weights=None, seed=0, input_size=None, log=None):
        trained.append((name, np.asarray(images), np.asarray(labels)))
        return tiny_classifier(7)

    original_f1 = G.discriminator_f1

    def recording_f1(gan, real, fake):
        d_sets.append(np.asarray(real))
        return original_f1(gan, real, fake)

    monkeypatch.setattr(G, "train_emotion_classifier", fake_training)
    monkeypatch.setattr(G, "discriminator_f1", recording_f1)
    distribution = {"Aff-Wild2": {"neutral": 3, "happy": 5}, "AffectNet": {"sad": 2}, "Combined": {"neutral": 3}}
    out = G.evaluate(FakeGAN(), classifier_set, held, gan_train, NAMES, 1, log=lambda m: None,
                     figures_dir=tmp_path, max_eval_faces=21, classifier_validation=faces(7, 0.4, 3),
                     distribution=distribution)

    assert [t[0] for t in trained] == list(G.CLASSIFIERS)
    for _, images, labels in trained:
        assert np.array_equal(images, classifier_set["image"]) and np.array_equal(labels, classifier_set["expression"])
        for image in gan_train["image"]:   # no GAN training image reaches the classifiers
            assert not np.any(np.all(np.isclose(images, image), axis=(1, 2, 3)))
    # Table V: the "real" faces are the GAN's training images (no augmentation given), not the held-out faces
    real = d_sets[0]
    assert len(real) == out["discriminator"]["images"] // 2 > 0
    assert all(np.any(np.all(np.isclose(gan_train["image"], r), axis=(1, 2, 3))) for r in real)
    assert not any(np.any(np.all(np.isclose(held["image"], r), axis=(1, 2, 3))) for r in real)
    assert out["discriminator"]["real_images"] == "the GAN's training images"
    assert set(out["discriminator_held_out"]) >= {"f1_real", "f1_generated", "f1_average"}
    assert out["classifier_set"] == {"images": 14, "per_class": {n: 2 for n in NAMES}}
    assert out["classifiers"]["vgg16"]["validation"]["images"] == 7
    assert out["smoothness_inputs"] == "neutral held-out faces"
    assert (tmp_path / "fig8_emotion_distribution.png").is_file()


def test_table_v_passes_training_images_through_the_training_augmentation():
    gan, images = FakeGAN(), faces(14, 0.0, 4)["image"]
    plain, _ = G.discriminator_inputs(gan, images, 14, None)
    augmented, generated = G.discriminator_inputs(gan, images, 14, lambda x, training: tf.reverse(x, [2]))
    assert np.allclose(augmented, plain[:, :, ::-1]) and len(generated) == len(augmented) == 14
    assert np.allclose(generated[:2], gan.edit_emotion(augmented[:2], 0, 0.0).numpy())   # edits of the same inputs


def test_one_smoothness_rule_in_the_score_and_the_table():
    curves = np.array([np.linspace(0.1, 0.9, 10), np.linspace(0.9, 0.1, 10), [0.2] * 10,
                       [0.1] * 5 + [0.8] * 5, np.linspace(0.3, 0.6, 10), np.linspace(0.2, 0.4, 10)])
    table = G.smoothness_table(curves, NAMES[1:])
    rising = [M.smoothness(c) for c in curves if c[-1] > c[0]]
    assert table["average"] == pytest.approx(np.mean(rising)) == pytest.approx(M.smoothness_score(curves))
    assert table["rising"] == M.smoothness_rising(curves) == 4 and table["emotions"] == 6
    assert table["non_rising"] == ["sad", "surprise"] and table["rule"] == M.SMOOTHNESS_RULE
    assert np.isnan(table["per_emotion"]["sad"])
    none = G.smoothness_table(curves[1:3], NAMES[1:3])
    assert np.isnan(none["average"]) and np.isnan(M.smoothness_score(curves[1:3])) and none["rising"] == 0


# ------------------------------------------------------------------------------------------------------------------
# The system's data: combined AffectNet through the detector, the classifier set, Fig. 8 counts
# ------------------------------------------------------------------------------------------------------------------
class FakeDetector(detect.Detector):
    """Finds one face, the image's top-left quadrant; remembers the sizes of the images it was given."""

    name = "fake"

    def __init__(self):
        self.seen = []

    def _detect(self, image):
        self.seen.append(image.shape[:2])
        h, w = image.shape[:2]
        return [((0.0, 0.0, w / 2, h / 2), 0.9)]


def real_layout(root):
    """Aff-Wild2 (12x12 cropped_aligned frames; train: neutral, happy, disgust, surprise, anger; validation: happy,
    sad) and AffectNet (20x20 images, classes 0, 3, 6 kept) as the readers take them."""
    aw2 = cropped_aligned_tree(root / "aw2")
    expr_file(aw2, "vid9", [4, 5], set_dir="Validation_Set")
    for i in (1, 2):
        solid(aw2 / "cropped_aligned" / "vid9" / f"{i:05d}.jpg", (12, 12), (0, 0, 90 * i))
    return aw2, affectnet_tree(root / "affectnet")


def classifier_tree(root):
    """A CSV classifier set: 3 images of each of classes 0-6 (16x16, one grey level each) plus 2 extra happy."""
    rows = ["path,expression"]
    for i, k in enumerate([k for k in range(7) for _ in range(3)] + [1, 1]):
        solid(root / f"{i}.jpg", (16, 16), (10 * i, 10 * i, 10 * i))
        rows.append(f"{i}.jpg,{k}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


def load(tmp_path, monkeypatch, *flags):
    fake = FakeDetector()
    monkeypatch.setattr(detect, "make_detector", lambda name, weights=None, **kwargs: fake)
    system = systems.get("ganmut_affwild2")
    aw2, net = real_layout(tmp_path)
    args = system.parser().parse_args(["--data-dir", str(aw2), "--image-size", "32", "--eval-faces", "8",
                                       *[str(f).replace("AFFECTNET", str(net)) for f in flags]])
    plan = system.plan(args)
    data = system.load_data(args, plan, tmp_path / "run", lambda m: None)
    return system, args, plan, data, fake


def test_combined_affectnet_goes_through_the_detector_by_default(tmp_path, monkeypatch):
    labels = classifier_tree(tmp_path / "cls")
    system, args, plan, data, fake = load(tmp_path, monkeypatch, "--combined", "AFFECTNET", "--classifier-data",
                                          labels)
    assert (20, 20) in fake.seen and fake.seen.count((20, 20)) == 3        # every kept AffectNet image detected
    net = data.info["affectnet_crops"]
    assert net["detector"] == "fake" and net["kept"] == 3 and net["per_class"] == {"neutral": 1, "surprise": 1,
                                                                                     "anger": 1}
    assert any("pass through mtcnn like the Aff-Wild2 frames" in n and "3 of 3 kept" in n for n in plan.notes)
    # Fig. 8: each training set's label counts (Aff-Wild2: neutral, happy, disgust, surprise, anger)
    d = data.info["label_distribution"]
    assert list(d) == ["Aff-Wild2", "AffectNet", "Combined"]
    assert d["Aff-Wild2"] == {**{n: 0 for n in NAMES}, "neutral": 1, "happy": 1, "surprise": 1, "disgust": 1,
                              "anger": 1}
    assert d["AffectNet"] == {**{n: 0 for n in NAMES}, "neutral": 1, "surprise": 1, "anger": 1}
    assert d["Combined"] == {n: d["Aff-Wild2"][n] + d["AffectNet"][n] for n in NAMES}
    out = G.save_distribution_figure(d, NAMES, tmp_path / "fig8.png")
    assert Image.open(out).size[0] > 3 * Image.open(out).size[1] / 2      # three panels side by side
    # The classifier set: balanced (3 per class, the 2 extra happy left out), none of the GAN's training images
    cls = data.arrays["classifier"]
    assert np.bincount(cls["expression"], minlength=7).tolist() == [3] * 7
    assert data.info["classifier_set"] == {"source": "classifier_data", "path": str(labels), "images": 21}
    for image in data.arrays["gan_train"]["image"]:
        assert not np.any(np.all(np.isclose(cls["image"], image, atol=0.02), axis=(1, 2, 3)))
    assert data.arrays["classifier_validation"] is None                     # one CSV: no validation split
    rows = system.coverage(args, plan, {"classifier_set": data.info["classifier_set"]})
    status = {r["item"]: r["status"] for r in rows}
    assert status["Fig. 8"] == "reproduced" and status["Table I"] == "not reproduced"


@pytest.mark.e2e
def test_affectnet_crops_box_keeps_the_annotation_boxes_and_says_so(tmp_path, monkeypatch):
    system, args, plan, data, fake = load(tmp_path, monkeypatch, "--combined", "AFFECTNET", "--affectnet-crops",
                                          "box")
    assert (20, 20) not in fake.seen and (12, 12) in fake.seen              # only the Aff-Wild2 frames detected
    assert "affectnet_crops" not in data.info and data.info["label_distribution"]["AffectNet"]["anger"] == 1
    assert any(n.startswith("--affectnet-crops box") for n in plan.notes)
    rows = {r["item"]: r for r in system.coverage(args, plan, {"classifier_set": data.info["classifier_set"],
                                                               "discriminator": {}})}
    assert rows["Table V"]["status"] == "analogue" and "--affectnet-crops box" in rows["Table V"]["how"]
    # no --classifier-data on real data: the disclosed fallback
    assert data.info["classifier_set"]["source"] == "gan_training_crops"
    assert data.arrays["classifier"] is data.arrays["gan_train"]
    notes = system.evaluation_notes(args, {"classifier_set": {**data.info["classifier_set"], "per_class": {}}})
    assert notes[0].startswith("FALLBACK: no --classifier-data")
    assert any("no held-out face is labelled neutral" in n for n in system.evaluation_notes(
        args, {"smoothness_inputs": "all held-out faces (none is labelled neutral)"}))
    assert rows["Table II"]["status"] == "analogue" and "no --classifier-data" in rows["Table II"]["how"]
    with pytest.raises(ValueError, match="--affectnet-crops"):
        system.plan(system.parser().parse_args(["--affectnet-crops", "box"]))


def test_coverage_follows_the_detector_the_weights_and_the_classifier_set(tmp_path):
    system = systems.get("ganmut_affwild2")
    (tmp_path / "w.h5").write_text("")
    paper = ["--data-dir", str(tmp_path), "--detector", "retinaface", "--detector-weights", str(tmp_path / "w.h5"),
             "--vgg16-weights", str(tmp_path / "w.h5"), "--resnet50-weights", str(tmp_path / "w.h5"),
             "--classifier-data", str(tmp_path), "--combined", str(tmp_path)]
    args = system.parser().parse_args(paper)
    plan = system.plan(args)
    rows = {r["item"]: r["status"] for r in system.coverage(
        args, plan, {"classifier_set": {"source": "classifier_data"}, "discriminator": {}})}
    assert {k: rows[k] for k in ("Table I", "Table III", "Table IV", "Table V", "Fig. 8")} == dict.fromkeys(
        ("Table I", "Table III", "Table IV", "Table V", "Fig. 8"), "reproduced")
    assert rows["Table II"] == "not reproduced" and rows["Fig. 1"] == "not reproduced"
    assert not any("ImageNet" in n for n in plan.notes)
    synthetic = system.parser().parse_args([])
    rows = {r["item"]: r for r in system.coverage(synthetic, system.plan(synthetic), {})}
    assert rows["Table II"]["status"] == "analogue" and "synthetic" in rows["Table II"]["how"]
    assert rows["Fig. 8"]["status"] == "analogue" and "--combined" in rows["Fig. 8"]["how"]
    assert len(rows) == len(system.paper_items) == 15


def test_synthetic_classifier_set_is_other_people_and_reaches_the_evaluation(tmp_path, monkeypatch):
    """The synthetic default's classifier set: the AffectNet-like stand-in's held-out people, balanced; the system
    hands it (not the GAN's crops) to the evaluation and notes it."""
    system = systems.get("ganmut_affwild2")
    arrays = system._synthetic_classifier_arrays("test", 70, 32, seed=0)
    assert np.bincount(arrays["expression"], minlength=7).tolist() == [10] * 7
    from tfgan_emotion.data import synthetic

    people = synthetic.make_arrays("affectnet", "test", n=80, size=32, seed=0)["identity"]
    assert people.min() >= 2_000_000     # the stand-in's test people: neither training videos nor evaluation faces
    seen = {}
    monkeypatch.setattr(G, "evaluate", lambda gan, classifier_set, held, gan_train, *a, **k: seen.update(
        classifier=classifier_set, gan_train=gan_train) or {"classifier_set": {"images": 70, "per_class": {}}})
    notes = []
    run = types.SimpleNamespace(args=system.parser().parse_args([]), dir=tmp_path, note=notes.append)
    plan = system.plan(run.args)
    data = types.SimpleNamespace(arrays={"classifier": arrays, "gan_train": {"image": np.zeros((2, 32, 32, 3))},
                                         "classifier_validation": None, "crop_examples": []},
                                 held={}, info={"classifier_set": {"source": "synthetic", "images": 70}})
    out = system.evaluate(run, None, plan, data, lambda m: None)
    assert seen["classifier"] is arrays and seen["gan_train"] is data.arrays["gan_train"]
    assert out["classifier_set"]["source"] == "synthetic"
    assert any("separate SYNTHETIC AffectNet-like set" in n for n in notes)
    assert any("paper 002 is silent" in n for n in notes)


def test_a_dead_feature_layer_leaves_fed_undefined_not_zero():
    """A classifier that learned nothing (every real face gives the same features) would score FED 0, a perfect
    match; it is NaN with the reason instead, and the run's notes carry the reason."""
    real, fake = faces(14, 0.0, 5), faces(14, 0.3, 6)
    dead = tiny_classifier(7)
    dead.get_layer("features").set_weights([np.zeros((SIZE * SIZE * 3, 4)), np.ones(4)])
    scores = G.classifier_scores(dead, real["image"], real["expression"], fake["image"], fake["expression"])
    assert np.isnan(scores["fed"]) and scores["fed_undefined"] == G.FED_UNDEFINED
    alive = G.classifier_scores(tiny_classifier(7), real["image"], real["expression"], fake["image"],
                                fake["expression"])
    assert np.isfinite(alive["fed"]) and alive["fed"] > 0 and "fed_undefined" not in alive
    system = systems.get("ganmut_affwild2")
    notes = system.evaluation_notes(system.parser().parse_args([]), {"classifiers": {"vgg16": scores}})
    assert any(n.startswith("vgg16 FED (Table III): the classifier's feature layer") for n in notes)
    assert scores["classes_predicted_real"] == 1 and any("the same class" in n for n in notes)
