"""The CAAE networks and VGG-Face against SPECS "CAAE" (paper 001 III.A-B): layer types, kernels, strides, widths,
activations, BN and label-concatenation placement, output ranges, saving, the VGG-Face weight-file layout and the
identity-preserving loss."""
import shutil

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import keras_policy
from tfgan_emotion.nets import caae, vggface
from tfgan_emotion.nets.layers import LabelEnlarge, SpatialLabelTile


@pytest.fixture(scope="module", autouse=True)
def _float32():
    with keras_policy("float32"):
        yield


@pytest.fixture(scope="module")
def paper_nets():
    return caae.build()


@pytest.fixture(scope="module")
def tiny_nets():
    return caae.build(image_size=32, width=0.25)


def _body(model):
    """The layers of a functional model without its InputLayers, in topological order."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _kinds(model):
    return [type(layer).__name__ for layer in _body(model)]


def _inbound(layer):
    """Names of the layers that feed ``layer`` (functional models, one call each)."""
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation.name for t in node.input_tensors]


def _assert_conv(layer, filters, stride, cls=keras.layers.Conv2D):
    assert isinstance(layer, cls), layer.name
    assert layer.filters == filters, layer.name
    assert tuple(layer.kernel_size) == (5, 5), layer.name
    assert tuple(layer.strides) == (stride, stride), layer.name
    assert layer.padding == "same", layer.name
    assert layer.activation is keras.activations.linear, layer.name


# ---------------------------------------------------------------- E
def test_encoder_matches_specs(paper_nets):
    e = paper_nets["encoder"]
    assert e.name == "encoder"
    assert _kinds(e) == ["Conv2D", "ReLU"] * 4 + ["Flatten", "Dense", "Activation"]
    body = _body(e)
    for i, filters in enumerate((64, 128, 256, 512)):
        _assert_conv(body[2 * i], filters, 2)
        assert body[2 * i].name == f"e_conv{i + 1}"
    assert e.get_layer("e_flatten").output.shape == (None, 6 * 6 * 512)
    assert e.get_layer("e_dense").units == 50
    assert e.get_layer("e_tanh").activation is keras.activations.tanh
    assert tuple(e.input.shape) == (None, 96, 96, 3) and tuple(e.output.shape) == (None, 50)


# ---------------------------------------------------------------- G
def test_generator_matches_specs(paper_nets):
    g = paper_nets["generator"]
    assert [tuple(t.shape) for t in g.inputs] == [(None, 50), (None, 2)]
    assert _kinds(g) == (["LabelEnlarge", "Concatenate", "Dense", "Reshape", "ReLU"]
                         + ["Conv2DTranspose", "ReLU"] * 5 + ["Conv2DTranspose", "Activation"])
    assert g.get_layer("g_concat").output.shape == (None, 150)        # z(50) | valence x50 | arousal x50
    assert g.get_layer("g_dense").units == 6 * 6 * 1024
    assert g.get_layer("g_reshape").output.shape == (None, 6, 6, 1024)
    sizes = []
    for i, (filters, stride) in enumerate(zip((512, 256, 128, 64, 32, 3), (2, 2, 2, 2, 1, 1)), start=1):
        layer = g.get_layer(f"g_deconv{i}")
        _assert_conv(layer, filters, stride, keras.layers.Conv2DTranspose)
        sizes.append(layer.output.shape[1])
    assert sizes == [12, 24, 48, 96, 96, 96]
    assert g.get_layer("g_tanh").activation is keras.activations.tanh
    assert tuple(g.output.shape) == (None, 96, 96, 3)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in g.layers)


def test_generator_label_enlargement_order(tiny_nets):
    g = tiny_nets["generator"]
    head = keras.Model(g.inputs, g.get_layer("g_concat").output)
    z = np.full((1, 50), 0.5, np.float32)
    out = head([tf.constant(z), tf.constant([[0.3, -0.7]])]).numpy()[0]
    np.testing.assert_allclose(out[:50], 0.5)
    np.testing.assert_allclose(out[50:100], 0.3, rtol=1e-6)
    np.testing.assert_allclose(out[100:], -0.7, rtol=1e-6)


# ---------------------------------------------------------------- D_img
def test_d_img_blocks_match_specs(paper_nets):
    d = paper_nets["d_img"]
    assert [tuple(t.shape) for t in d.inputs] == [(None, 96, 96, 3), (None, 2)]
    for i, filters in enumerate((16, 32, 64, 128), start=1):
        conv = d.get_layer(f"dimg_conv{i}")
        _assert_conv(conv, filters, 2)
        assert _inbound(d.get_layer(f"dimg_bn{i}")) == [conv.name]
        assert isinstance(d.get_layer(f"dimg_bn{i}"), keras.layers.BatchNormalization)
        assert _inbound(d.get_layer(f"dimg_relu{i}")) == [f"dimg_bn{i}"]
    dense = d.get_layer("dimg_dense1")
    assert dense.units == 1024 and dense.activation is keras.activations.linear
    assert d.get_layer("dimg_lrelu1").negative_slope == pytest.approx(0.2)
    assert d.get_layer("dimg_dense2").units == 1
    assert d.get_layer("dimg_dense2").activation is keras.activations.linear      # a logit
    assert tuple(d.output.shape) == (None, 1)
    assert _inbound(d.get_layer("dimg_conv1")) == ["image"]       # the label never joins the input image


@pytest.mark.parametrize("mode, blocks", [("every", (1, 2, 3, 4)), ("first", (1,))])
def test_d_img_label_concat_positions(mode, blocks):
    d = caae.build(image_size=32, label_concat=mode)["d_img"]        # paper widths, small images
    concats = [layer for layer in d.layers if isinstance(layer, keras.layers.Concatenate)]
    assert [c.name for c in concats] == [f"dimg_label_concat{i}" for i in blocks]
    side = {1: 16, 2: 8, 3: 4, 4: 2}
    filters = {1: 16, 2: 32, 3: 64, 4: 128}
    for i, concat in zip(blocks, concats):
        node = concat._inbound_nodes[0]
        assert [tuple(t.shape) for t in node.input_tensors] == [(None, side[i], side[i], filters[i]),
                                                                (None, side[i], side[i], 32)]
        assert _inbound(concat)[0] == f"dimg_relu{i}"                     # after conv + BN + ReLU
    conv_in = [d.get_layer(f"dimg_conv{i}").input.shape[-1] for i in (2, 3, 4)]
    flat = d.get_layer("dimg_flatten").output.shape[-1]
    if mode == "every":
        assert conv_in == [48, 64, 96] and flat == 2 * 2 * 160
    else:
        assert conv_in == [48, 32, 64] and flat == 2 * 2 * 128


def test_spatial_label_tile_values():
    feature = tf.zeros((2, 3, 4, 5))
    label = tf.constant([[0.25, -0.5], [1.0, 0.0]])
    out = SpatialLabelTile(16)([feature, label]).numpy()
    assert out.shape == (2, 3, 4, 32)
    np.testing.assert_allclose(out[0, 2, 3, :16], 0.25)
    np.testing.assert_allclose(out[0, 0, 0, 16:], -0.5)
    np.testing.assert_allclose(out[1, 1, 2], [1.0] * 16 + [0.0] * 16)
    np.testing.assert_allclose(LabelEnlarge(3)(tf.constant([[1.0, 2.0]])).numpy(), [[1, 1, 1, 2, 2, 2]])


# ---------------------------------------------------------------- D_z
def test_d_z_matches_specs(paper_nets):
    d = paper_nets["d_z"]
    assert tuple(d.input.shape) == (None, 50)
    assert _kinds(d) == ["Dense", "BatchNormalization", "ReLU"] * 3 + ["Dense"]
    dense = [layer for layer in d.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [64, 32, 16, 1]
    assert all(layer.activation is keras.activations.linear for layer in dense)
    assert [layer.name for layer in dense] == ["dz_dense1", "dz_dense2", "dz_dense3", "dz_dense4"]


# ---------------------------------------------------------------- common
def test_parameter_counts_at_paper_width(paper_nets):
    def conv(k_in, k_out):
        return 5 * 5 * k_in * k_out + k_out

    encoder = conv(3, 64) + conv(64, 128) + conv(128, 256) + conv(256, 512) + 6 * 6 * 512 * 50 + 50
    generator = (150 * 6 * 6 * 1024 + 6 * 6 * 1024 + conv(1024, 512) + conv(512, 256) + conv(256, 128)
                 + conv(128, 64) + conv(64, 32) + conv(32, 3))
    bn = 3  # scale=False: beta, moving mean, moving variance per channel
    d_img = (conv(3, 16) + conv(48, 32) + conv(64, 64) + conv(96, 128) + bn * (16 + 32 + 64 + 128)
             + 6 * 6 * 160 * 1024 + 1024 + 1024 + 1)
    d_z = 50 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16 + 16 + 1 + bn * (64 + 32 + 16)
    counts = {name: net.count_params() for name, net in paper_nets.items()}
    assert counts == {"encoder": encoder, "generator": generator, "d_img": d_img, "d_z": d_z}


def test_initialisation_normal_002_biases_zero(paper_nets):
    for net in paper_nets.values():
        for layer in net.layers:
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense)):
                assert not np.any(layer.bias.numpy()), layer.name
                kernel = layer.kernel.numpy()
                if kernel.size >= 100_000:
                    assert abs(kernel.mean()) < 1e-3, layer.name
                    assert kernel.std() == pytest.approx(0.02, rel=0.03), layer.name


def test_width_shrinks_every_channel_count(tiny_nets):
    e, g, d = tiny_nets["encoder"], tiny_nets["generator"], tiny_nets["d_img"]
    assert [e.get_layer(f"e_conv{i}").filters for i in range(1, 5)] == [16, 32, 64, 128]
    assert g.get_layer("g_reshape").output.shape == (None, 2, 2, 256)
    assert [g.get_layer(f"g_deconv{i}").filters for i in range(1, 7)] == [128, 64, 32, 16, 8, 3]
    assert [d.get_layer(f"dimg_conv{i}").filters for i in range(1, 5)] == [4, 8, 16, 32]
    assert d.get_layer("dimg_dense1").units == 256
    assert tuple(g.output.shape) == (None, 32, 32, 3)
    assert caae.build(image_size=16, width=0.01)["d_img"].get_layer("dimg_conv1").filters == 1


def test_output_ranges_and_shapes():
    nets = caae.build(image_size=32, width=0.25, kernel_init=keras.initializers.RandomNormal(0.0, 1.0, seed=1))
    x = tf.random.uniform((4, 32, 32, 3), -1.0, 1.0, seed=2)
    y = tf.random.uniform((4, 2), -1.0, 1.0, seed=3)
    z = nets["encoder"](x).numpy()
    image = nets["generator"]([tf.constant(z), y]).numpy()
    logit = nets["d_img"]([tf.constant(image), y], training=True).numpy()
    dz = nets["d_z"](tf.constant(z), training=True).numpy()
    assert z.shape == (4, 50) and image.shape == (4, 32, 32, 3) and logit.shape == dz.shape == (4, 1)
    assert np.abs(z).max() <= 1.0 and np.abs(z).max() > 0.9           # tanh, saturated by the large weights
    assert np.abs(image).max() <= 1.0 and np.abs(image).max() > 0.9
    assert np.abs(logit).max() > 1.0                                  # a logit, not a probability


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiple of 16"):
        caae.build(image_size=40)
    with pytest.raises(ValueError, match="label_concat"):
        caae.build(image_size=16, label_concat="last")


def test_save_and_load_safe_mode(tiny_nets, tmp_path):
    x = tf.random.uniform((2, 32, 32, 3), -1.0, 1.0, seed=4)
    y = tf.constant([[0.5, -0.5], [-1.0, 1.0]])
    z = tiny_nets["encoder"](x)
    inputs = {"encoder": x, "generator": [z, y], "d_img": [x, y], "d_z": z}
    for name, net in tiny_nets.items():
        path = tmp_path / f"{name}.keras"
        net.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in net.layers]
        np.testing.assert_allclose(loaded(inputs[name]).numpy(), net(inputs[name]).numpy(), atol=1e-6)


def test_mixed_bfloat16_outputs_float32():
    with keras_policy("mixed_bfloat16"):
        nets = caae.build(image_size=16, width=0.125)
    assert nets["generator"].get_layer("g_label_enlarge").compute_dtype == "bfloat16"
    x = tf.random.uniform((2, 16, 16, 3), -1.0, 1.0)
    y = tf.constant([[0.5, -0.5], [-1.0, 1.0]])
    z = nets["encoder"](x)
    outputs = [z, nets["generator"]([z, y]), nets["d_img"]([x, y]), nets["d_z"](z)]
    assert [o.dtype for o in outputs] == [tf.float32] * 4


# ---------------------------------------------------------------- VGG-Face
KERAS_VGGFACE_NAMES = [
    "conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2", "conv3_1", "conv3_2", "conv3_3", "pool3",
    "conv4_1", "conv4_2", "conv4_3", "pool4", "conv5_1", "conv5_2", "conv5_3", "pool5",
    "flatten", "fc6", "fc6/relu", "fc7", "fc7/relu", "fc8", "fc8/softmax"]    # keras-vggface VGG16, in order
CONV_SHAPES = {"conv1_1": (3, 64), "conv1_2": (64, 64), "conv2_1": (64, 128), "conv2_2": (128, 128),
               "conv3_1": (128, 256), "conv3_2": (256, 256), "conv3_3": (256, 256), "conv4_1": (256, 512),
               "conv4_2": (512, 512), "conv4_3": (512, 512), "conv5_1": (512, 512), "conv5_2": (512, 512),
               "conv5_3": (512, 512)}


def test_vggface_layer_names_and_shapes():
    vgg = vggface.build_vggface(224)
    names = [layer.name for layer in _body(vgg) if not isinstance(layer, keras.layers.ReLU)]
    assert names == [n.replace("/", "_") for n in KERAS_VGGFACE_NAMES]
    shapes = {layer.name: [tuple(w.shape) for w in layer.weights] for layer in vgg.layers if layer.weights}
    expected = {name: [(3, 3, cin, cout), (cout,)] for name, (cin, cout) in CONV_SHAPES.items()}
    expected.update({"fc6": [(7 * 7 * 512, 4096), (4096,)], "fc7": [(4096, 4096), (4096,)],
                     "fc8": [(4096, 2622), (2622,)]})
    assert shapes == expected
    for name in CONV_SHAPES:                     # linear conv, then its own ReLU: pre-ReLU outputs can be tapped
        assert vgg.get_layer(name).activation is keras.activations.linear
        relu = vgg.get_layer("relu" + name[4:])
        assert _inbound(relu) == [name]
    assert tuple(vgg.output.shape) == (None, 2622)


def _write_keras2_h5(path, arrays, extra_layers=("pool1", "fc6/relu")):
    """A weight file in the Keras 2 ``save_weights`` HDF5 layout of keras-vggface's files."""
    with h5py.File(path, "w") as f:
        names = list(arrays) + list(extra_layers)
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name in names:
            group = f.require_group(name)
            values = arrays.get(name, [])
            weight_names = [f"{name}/kernel:0", f"{name}/bias:0"][:len(values)]
            group.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
            for weight_name, value in zip(weight_names, values):
                group.create_dataset(weight_name, data=value)


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    arrays = {name: [rng.standard_normal((3, 3, cin, cout), np.float32) * 0.01,
                     rng.standard_normal((cout,), np.float32)] for name, (cin, cout) in CONV_SHAPES.items()}
    path = tmp_path_factory.mktemp("vgg") / "rcmalli_vggface_tf_notop_vgg16.h5"
    _write_keras2_h5(path, arrays)
    return path, arrays


def test_vggface_weights_load_by_name(vgg_file):
    path, arrays = vgg_file
    with h5py.File(path, "r") as f:                         # the layout: datasets under <layer>/<layer>/kernel:0
        assert f["conv1_1"]["conv1_1/kernel:0"].shape == (3, 3, 3, 64)
        assert "fc6" in f and "relu" in f["fc6"]
    vgg = vggface.build_vggface(32, include_top=False)
    assert vggface.load_vggface_weights(vgg, path) is vgg
    for name, (kernel, bias) in arrays.items():
        np.testing.assert_array_equal(vgg.get_layer(name).kernel.numpy(), kernel)
        np.testing.assert_array_equal(vgg.get_layer(name).bias.numpy(), bias)


def test_vggface_weight_errors(vgg_file, tmp_path):
    path, arrays = vgg_file
    vgg = vggface.build_vggface(32, include_top=False)
    with pytest.raises(FileNotFoundError, match="(?s)rcmalli_vggface_tf_vgg16.h5.*identity-net random"):
        vggface.load_vggface_weights(vgg, tmp_path / "absent.h5")
    text = tmp_path / "weights.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        vggface.load_vggface_weights(vgg, text)
    keras3 = tmp_path / "model.weights.h5"
    with h5py.File(keras3, "w") as f:
        f.create_group("layers")
    with pytest.raises(ValueError, match="layer_names"):
        vggface.load_vggface_weights(vgg, keras3)

    missing = tmp_path / "missing.h5"
    shutil.copy(path, missing)
    with h5py.File(missing, "a") as f:
        f.attrs["layer_names"] = np.array([n for n in f.attrs["layer_names"] if n != b"conv5_3"])
    with pytest.raises(ValueError, match="conv5_3"):
        vggface.load_vggface_weights(vgg, missing)

    wrong = tmp_path / "wrong.h5"
    shutil.copy(path, wrong)
    with h5py.File(wrong, "a") as f:
        del f["conv2_1"]["conv2_1/kernel:0"]
        f["conv2_1"].create_dataset("conv2_1/kernel:0", data=np.zeros((3, 3, 64, 64), np.float32))
    before = vgg.get_layer("conv1_1").kernel.numpy()
    with pytest.raises(ValueError, match="conv2_1.*shape"):
        vggface.load_vggface_weights(vgg, wrong)
    np.testing.assert_array_equal(vgg.get_layer("conv1_1").kernel.numpy(), before)   # nothing half-loaded

    top = vggface.build_vggface(32, include_top=True)
    with pytest.raises(ValueError, match="fc6"):
        vggface.load_vggface_weights(top, path)


# ---------------------------------------------------------------- identity loss
@pytest.fixture(scope="module")
def identity_net():
    config = vggface.IdentityNet(input_size=32)
    return config, config.build()


def test_identity_features_are_pre_relu_taps(identity_net):
    config, features = identity_net
    assert not features.trainable and not features.trainable_weights
    assert [tuple(o.shape) for o in features.outputs] == [(None, 32, 32, 64), (None, 16, 16, 128),
                                                          (None, 8, 8, 256), (None, 4, 4, 512), (None, 2, 2, 512)]
    assert [o._keras_history.operation.name for o in features.outputs] == list(vggface.IDENTITY_TAPS)
    out = features(vggface.preprocess(tf.random.uniform((2, 32, 32, 3), -1.0, 1.0), 32))
    assert all(float(tf.reduce_min(o)) < 0.0 for o in out)                # ReLU would clip these


def test_preprocess_mean_resize_and_channel_order():
    red = tf.constant(np.tile(np.array([1.0, -1.0, -1.0], np.float32), (1, 8, 8, 1)))   # pure red, RGB in [-1, 1]
    rgb = vggface.preprocess(red, size=16, channel_order="rgb").numpy()
    bgr = vggface.preprocess(red, size=16, channel_order="bgr").numpy()
    assert rgb.shape == bgr.shape == (1, 16, 16, 3) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb[0, 5, 7], [255 - 129.1863, -104.7624, -93.5940], rtol=1e-5)
    np.testing.assert_allclose(bgr[0, 5, 7], [-93.5940, -104.7624, 255 - 129.1863], rtol=1e-5)


def _reference_loss(features, x, g, size):
    fx = features(vggface.preprocess(x, size))
    fg = features(vggface.preprocess(g, size))
    sides = [size, size // 2, size // 4, size // 8, size // 16]
    return sum(float(np.mean(np.abs(a.numpy() - b.numpy()))) / s ** 2 for a, b, s in zip(fx, fg, sides))


def test_identity_loss_formula_and_first_n_images(identity_net):
    config, features = identity_net
    x = tf.random.uniform((20, 24, 24, 3), -1.0, 1.0, seed=5)
    g = tf.random.uniform((20, 24, 24, 3), -1.0, 1.0, seed=6)
    loss = vggface.identity_loss(features, x, g, n=16, size=32)
    assert loss.dtype == tf.float32 and loss.shape == ()
    assert float(loss) == pytest.approx(_reference_loss(features, x[:16], g[:16], 32), rel=1e-4)
    assert float(loss) == pytest.approx(float(config.loss(features, x, g)), rel=1e-6)
    assert float(vggface.identity_loss(features, x, x, n=16, size=32)) == 0.0

    g_tail = tf.concat([g[:16], -g[16:]], axis=0)                   # images 17+ changed: loss unchanged
    assert float(vggface.identity_loss(features, x, g_tail, n=16, size=32)) == pytest.approx(float(loss), rel=1e-6)
    g_head = tf.concat([x[:1], g[1:]], axis=0)                      # image 1 changed (to x's): loss drops
    assert float(vggface.identity_loss(features, x, g_head, n=16, size=32)) < 0.99 * float(loss)

    small = vggface.identity_loss(features, x[:4], g[:4], n=16, size=32)   # batch smaller than n: all of it
    assert float(small) == pytest.approx(_reference_loss(features, x[:4], g[:4], 32), rel=1e-4)


def test_identity_loss_gradient_reaches_g_only(identity_net):
    _, features = identity_net
    x = tf.Variable(tf.random.uniform((18, 32, 32, 3), -1.0, 1.0, seed=7))
    g = tf.Variable(tf.random.uniform((18, 32, 32, 3), -1.0, 1.0, seed=8))
    with tf.GradientTape() as tape:
        loss = vggface.identity_loss(features, x, g, n=16, size=32)
    grad_x, grad_g = tape.gradient(loss, [x, g])
    assert grad_x is None or not np.any(grad_x.numpy())
    assert np.all(np.any(grad_g.numpy()[:16] != 0, axis=(1, 2, 3)))
    assert not np.any(grad_g.numpy()[16:])
