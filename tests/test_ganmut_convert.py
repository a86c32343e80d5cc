"""`tfgan-emotion convert ganmut`: the authors' PyTorch generator checkpoints (linear and gaussian 2-D models) read
without PyTorch by a restricted unpickler, mapped key by key into the port's generator, and written as a run that
`edit`, `evaluate`/`export` (reopen), `compare` and `study` accept. The checkpoints are written here in torch.save's
own layouts (tests/torchsave.py), and the converted generator is held to a NumPy reference of the original's
forward pass (NCHW, BGR input)."""
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import torchsave as T
from tfgan_emotion import cli
from tfgan_emotion.convert import CheckpointError, UnsafeCheckpointError, read_state_dict
from tfgan_emotion.convert import ganmut as C

ROOT = Path(__file__).resolve().parent.parent
SIZE, CONV = 32, 8          # tiny: 32x32 faces, 8 channels (the authors': 128x128, 64)


def _write(path, data: bytes) -> Path:
    Path(path).write_bytes(data)
    return Path(path)


def _model(parametrization, blocks=6):
    from tfgan_emotion.gans.ganmut import GANmut, GANmutConfig

    return GANmut(GANmutConfig(image_size=SIZE, width=CONV / 64, residual_blocks=blocks,
                               parametrization=parametrization, discriminator=False))


def _reference(st, faces_rgb, z, blocks=6):
    """The original generator on the same photos: NHWC RGB -> its NCHW BGR input, and its output back to RGB."""
    out = T.ganmut_forward(st, faces_rgb[..., ::-1].transpose(0, 3, 1, 2), z, blocks)
    return out[:, ::-1].transpose(0, 2, 3, 1)


# -- reading torch.save files ------------------------------------------------------------------------------------

def test_both_torch_save_layouts_read_back_with_offsets_strides_and_dtypes(tmp_path):
    base = np.arange(24, dtype=np.float32)
    shared = T.Storage(base, None)
    state = {"plain": np.arange(6, dtype=np.float32).reshape(2, 3),
             "transposed": T.Tensor(shared, 0, (4, 3), (1, 4)),          # a non-contiguous view: stride (1, 4)
             "offset": T.Tensor(shared, 13, (2, 5), (5, 1)),             # same storage, from element 13
             "half": np.array([0.5, -2.0], np.float16), "long": np.array(7, np.int64),
             "flags": np.array([True, False]), "bytes": np.arange(3, dtype=np.uint8)}
    expected = {"plain": state["plain"], "transposed": base[:12].reshape(3, 4).T, "offset": base[13:23].reshape(2, 5),
                "half": state["half"], "long": state["long"], "flags": state["flags"], "bytes": state["bytes"]}
    for data in (T.zip_bytes(state, archive="1000000-G"), T.legacy_bytes(state)):
        got = read_state_dict(_write(tmp_path / "G.ckpt", data))
        assert list(got) == list(expected)
        for k, v in expected.items():
            assert got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v), k
    bad = T.Tensor(T.Storage(np.zeros(4, np.float32), None), 2, (3,), (1,))    # reaches past its storage
    with pytest.raises(CheckpointError, match="past the end"):
        read_state_dict(_write(tmp_path / "G.ckpt", T.zip_bytes({"w": bad})))


class _Call:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_a_pickle_naming_anything_else_is_refused_and_nothing_in_it_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    attacks = {"os.system": pickle.dumps({"w": _Call(os.system, f"touch {marker}")}, protocol=2),
               "builtins.eval": pickle.dumps({"w": _Call(eval, f"open({str(marker)!r}, 'w')")}, protocol=2),
               "builtins.exec": pickle.dumps(_Call(exec, f"open({str(marker)!r}, 'w')"), protocol=2)}
    for name, payload in attacks.items():
        for data in (T.zip_bytes({}, pickled=payload), T.legacy_bytes({}, pickled=payload)):
            ckpt = _write(tmp_path / "G.ckpt", data)
            with pytest.raises(UnsafeCheckpointError) as e:
                read_state_dict(ckpt, "not a GANmut generator checkpoint")
            # os.system pickles as posix.system (or nt.system): the message names what the file references.
            assert "which is not allowed; nothing in it was executed" in str(e.value)
            assert name.split(".")[1] in str(e.value) and not marker.exists()
    assert cli.main(["convert", "ganmut", str(ckpt), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err       # protocol 2 names the builtins module __builtin__
    assert "not a GANmut generator checkpoint: it references __builtin__.exec, which is not allowed" in err
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_files_that_are_not_torch_state_dicts_are_refused_clearly(tmp_path):
    cases = {b"hello": "neither a zip archive nor a pickle",
             pickle.dumps([1, 2], protocol=2): "not a torch.save file",
             T.zip_bytes({}, pickled=pickle.dumps([1, 2], protocol=2)): "not a state dict"}
    for data, match in cases.items():
        with pytest.raises(CheckpointError, match=match):
            read_state_dict(_write(tmp_path / "x.ckpt", data))
    with zipfile.ZipFile(tmp_path / "script.pt", "w") as zf:        # a TorchScript archive
        zf.writestr("m/constants.pkl", b"")
        zf.writestr("m/code/m.py", b"")
    with pytest.raises(CheckpointError, match="TorchScript"):
        read_state_dict(tmp_path / "script.pt")


# -- mapping the original's keys ---------------------------------------------------------------------------------

@pytest.mark.parametrize("parametrization", ["linear", "gaussian"])
def test_every_original_key_maps_and_a_missing_unexpected_or_misshaped_key_is_named(parametrization):
    st = T.ganmut_state(parametrization, conv_dim=CONV, blocks=6)
    layout = C.inspect(st)
    assert layout == C.Layout(parametrization, CONV, 6, 7) and layout.width == 0.125
    assert C.inspect(T.ganmut_state(parametrization, conv_dim=64, running_stats=False)).width == 1.0
    weights = C.keras_weights(st, layout)
    model = _model(parametrization)
    ported = {(layer.name, w.path.split("/")[-1]) for net in (model.generator, model.conditional_space)
              for layer in net.layers for w in layer.weights}
    assert set(weights) == ported                 # every weight of the port comes from the checkpoint
    required, unused = C.expected_keys(layout)
    assert set(required) | set(unused) == set(st)
    other = "gaussian" if parametrization == "linear" else "linear"
    for broken, match in (
            ({k: v for k, v in st.items() if k != "main.12.main.3.weight"}, r"missing key main\.12\.main\.3\.weight"),
            ({**st, "main.99.weight": np.zeros(3, np.float32)}, r"unexpected key main\.99\.weight"),
            ({**st, "main.18.weight": np.zeros((16, 9, 4, 4), np.float32)},
             r"main\.18\.weight has shape \(16, 9, 4, 4\), expected \(16, 8, 4, 4\)"),
            ({**st, "main.1.running_var": np.zeros(3, np.float32)}, r"main\.1\.running_var has shape \(3,\)")):
        with pytest.raises(CheckpointError, match=match):
            C.inspect(broken)
    with pytest.raises(CheckpointError, match=f"--parametrization {parametrization}"):
        C.inspect(st, other)


@pytest.mark.parametrize("parametrization", ["linear", "gaussian"])
def test_converted_generator_equals_the_originals_forward_pass_on_bgr_nchw(parametrization, float32_policy):
    st = T.ganmut_state(parametrization, conv_dim=CONV, blocks=6, seed=3)
    model = _model(parametrization)
    C.load_into(model, C.keras_weights(st, C.inspect(st)))
    faces = np.random.default_rng(0).uniform(-1, 1, (4, SIZE, SIZE, 3)).astype(np.float32)
    emotion, rho = np.array([0, 1, 4, 6]), np.array([0.7, 0.3, 0.8, 1.0], np.float32)
    code = T.linear_code if parametrization == "linear" else T.gaussian_code
    ours = model.edit_emotion(faces, emotion, rho).numpy()
    np.testing.assert_allclose(ours, _reference(st, faces, code(st, emotion, rho)), atol=2e-5)
    theta = np.array([0.0, 1.0, 2.5, 4.0], np.float32)
    z = np.stack([rho * np.cos(theta), rho * np.sin(theta)], -1)       # the notebook's manual code / point (x, y)
    np.testing.assert_allclose(model.edit(faces, theta, rho).numpy(), _reference(st, faces, z), atol=2e-5)


# -- the run directory -------------------------------------------------------------------------------------------

BLOCKS = 1    # residual blocks of the converted run (the SavedModel export dominates the conversion's time)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A gaussian generator in the legacy layout converted as a user does: (run dir, state dict). (The linear model
    takes the same path; the tests above hold both to the reference.)"""
    root = tmp_path_factory.mktemp("convert")
    st = T.ganmut_state("gaussian", conv_dim=CONV, blocks=BLOCKS, seed=10)
    ckpt = _write(root / "1000000-G.ckpt", T.legacy_bytes(st))
    assert cli.main(["convert", "ganmut", str(ckpt), "-o", str(root / "run"), "--image-size", str(SIZE),
                     "--eval-faces", "40"]) == 0
    return root / "run", st


def test_edit_command_on_a_converted_run_edits_as_the_original(converted, tmp_path):
    from PIL import Image

    from tfgan_emotion.editing import read_face

    face = tmp_path / "face.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 40, 3), np.uint8)).save(face)
    run_dir, st = converted
    out = tmp_path / "out.png"
    assert cli.main(["edit", "--run", str(run_dir), "--emotion", "happy", "--rho", "0.8", "--image", str(face), "-o",
                     str(out)]) == 0
    got = np.asarray(Image.open(out), np.int16)
    want = _reference(st, read_face(face, SIZE, 3)[None], T.gaussian_code(st, [1], [0.8]), blocks=BLOCKS)[0]
    want = np.clip((want + 1.0) * 127.5 + 0.5, 0, 255).astype(np.int16)
    assert got.shape == (SIZE, SIZE, 3) and np.abs(got - want).max() <= 1


def test_converted_runs_reopen_for_evaluate_and_export_and_compare_and_study_take_them(converted):
    from tfgan_emotion.compare.runner import check_run
    from tfgan_emotion.study.make import open_run
    from tfgan_emotion.systems.base import reopen

    run_dir, st = converted
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["recipe"] == "ganmut_affwild2" and cfg["config"]["parametrization"] == "gaussian"
    assert cfg["config"]["discriminator"] is False and cfg["runtime"]["precision"] == "float32"
    assert cfg["args"]["eval_faces"] == 40 and cfg["converted"]["original_iterations"] == 1000000
    assert any("No discriminator" in n for n in cfg["notes"]) and any("BGR" in n for n in cfg["notes"])
    assert {f.name for f in (run_dir / "export").glob("*.keras")} == {"generator.keras", "conditional_space.keras"}
    re, plan, _ = reopen(run_dir, purpose="export", log=lambda m: None)
    assert re.model.config.parametrization == "gaussian" and re.model.discriminator is None and re.step == 200000
    np.testing.assert_array_equal(re.model.gaussians.mu.numpy(), st["mu.weight"])
    kernel = re.model.generator.get_layer("g_conv_out").kernel.numpy()
    np.testing.assert_array_equal(kernel, st[f"main.{15 + BLOCKS}.weight"].transpose(2, 3, 1, 0)[..., ::-1])
    assert plan.config.image_size == SIZE and plan.ev["eval_faces"] == 40
    check_run(run_dir)
    assert open_run(run_dir).size == SIZE


def test_convert_refuses_a_used_folder_and_flags_it_cannot_honour(converted, tmp_path, capsys):
    run_dir, st = converted
    ckpt = _write(tmp_path / "G.ckpt", T.zip_bytes(st))
    for argv, match in ((["-o", str(run_dir)], "already holds a run"),
                        (["-o", str(tmp_path / "a"), "--out", "x"], "--out cannot be given"),
                        (["-o", str(tmp_path / "b"), "--width", "0.5"], "--width cannot be given"),
                        (["-o", str(tmp_path / "c"), "--bogus", "1"], "--bogus 1: not a flag"),
                        (["-o", str(tmp_path / "d"), "--data-dir", str(tmp_path / "nowhere")], "nowhere"),
                        (["-o", str(tmp_path / "e"), "--parametrization", "linear"], "--parametrization gaussian"),
                        (["-o", str(tmp_path / "f"), "--image-size", "100"], "power of two")):
        assert cli.main(["convert", "ganmut", str(ckpt), *argv]) == 2
        assert match in capsys.readouterr().err
    assert not any((tmp_path / k).exists() for k in "abcdef")
    with pytest.raises(SystemExit):
        cli.main(["edit", "--run", str(run_dir), "--bogus"])          # other commands still refuse unknown flags


def test_the_cli_and_the_reader_import_without_tensorflow():
    code = "import sys, tfgan_emotion.cli, tfgan_emotion.convert; assert 'tensorflow' not in sys.modules"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr[-2000:]


# -- the gaussian conditional space the gaussian checkpoints load into ----------------------------------------------

def test_gaussian_space_codes_distances_and_loss_are_the_originals(float32_policy):
    from tfgan_emotion.gans.ganmut import symmetric_kl

    st = T.ganmut_state("gaussian", conv_dim=CONV, blocks=1, seed=5)
    model = _model("gaussian", blocks=1)
    C.load_into(model, C.keras_weights(st, C.inspect(st)))
    g = model.gaussians
    m = np.tanh(st["mu.weight"].astype(np.float64))
    z = np.random.default_rng(0).uniform(-1, 1, (5, 2))
    # The original's covariance C_k = R diag(|axes_k|) R^T, inverted, as a quadratic form around each mode.
    inv = []
    for (a0, a1), t in zip(np.abs(st["covariance_axes.weight"]), st["covariance_angles.weight"][0]):
        r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        inv.append(np.linalg.inv(r @ np.diag([a0, a1]) @ r.T))
    v = z[:, None, :] - m[None]
    d2 = np.einsum("bki,kij,bkj->bk", v, np.array(inv), v)
    np.testing.assert_allclose(g.mahalanobis(z.astype(np.float32)), d2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.code(np.array([0, 3, 3]), np.array([0.9, 0.0, 1.0])),
                               [m[0], m[0], m[3]], atol=1e-6)            # neutral: its mode; rho 1: the class's mode
    u = model.unit_directions()
    np.testing.assert_allclose(u, (m[1:] - m[0]) / np.linalg.norm(m[1:] - m[0], axis=1, keepdims=True), atol=1e-6)
    codes = model.gaussian_codes(np.full((9, 2), 0.5, np.float32)).numpy()
    np.testing.assert_allclose(codes[:7], m, atol=1e-6)                   # the first 7 samples at the 7 modes
    assert np.all(codes[7:] == 0.5)
    p, q = np.random.default_rng(1).normal(size=(2, 4, 7))
    sp, sq = (np.exp(x) / np.exp(x).sum(-1, keepdims=True) for x in (p, q))
    expected = np.mean(np.sum(sp * np.log(sp / sq) + sq * np.log(sq / sp), -1))    # KL(p||q) + KL(q||p), batchmean
    assert float(symmetric_kl(p, q)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.e2e
def test_a_few_gaussian_steps_move_every_loss_and_the_gaussians(tmp_path, float32_policy):
    import tensorflow as tf

    from tfgan_emotion import training
    from tfgan_emotion.data import synthetic as synth
    from tfgan_emotion.gans import ganmut as GM

    d = synth.make_arrays("affectnet", "train", n=32, size=SIZE, seed=0)
    ds = GM.attach_draws(tf.data.Dataset.from_tensor_slices(
        {"image": d["image"], "expression": np.clip(d["expression"], 0, 6).astype(np.int32)}), seed=0)
    cfg = GM.GANmutConfig(image_size=SIZE, width=0.125, residual_blocks=2, batch_size=8, n_critic=2,
                          parametrization="gaussian")
    model = GM.GANmut(cfg, seed=0)
    before = [w.numpy().copy() for w in model.gaussians.weights]
    tc = training.TrainConfig(steps=4, batch_size=cfg.step_batch, checkpoint_every=4, sample_every=0, log_every=1,
                              verbose=False)
    assert training.train(model, ds, tmp_path, tc).step == 4
    header, *rows = (tmp_path / "logs" / "losses.csv").read_text().split()
    values = np.array([[float(v) for v in r.split(",")] for r in rows])
    assert np.all(np.isfinite(values))
    for name in ("d_adv", "d_cls", "d_gp", "d_info", "g_adv", "g_cls", "g_prediction", "g_rec"):
        assert np.ptp(values[:, header.split(",").index(name)]) > 0, name
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before, model.gaussians.weights))
