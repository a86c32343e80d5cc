"""`tfgan-emotion bench`: the measurements behind bench.json, and the file itself on one recipe."""
import json
import math

import numpy as np
import pytest
import tensorflow as tf
import keras

from tfgan_emotion import bench, cli


def test_flop_count_matches_hand_count():
    # A matmul (2mnk), a bias add (mn) and a 3x3 convolution (2 * out pixels * 9 * Cin * Cout): the profiler's count
    # is what bench divides by the step time, so it must be exact on ops whose cost is known.
    m, n, k = 8, 16, 32

    @tf.function
    def f(a, b, bias, x, w):
        return tf.matmul(a, b) + bias, tf.nn.conv2d(x, w, 1, "SAME")

    cf = f.get_concrete_function(tf.TensorSpec([m, k]), tf.TensorSpec([k, n]), tf.TensorSpec([n]),
                                 tf.TensorSpec([2, 10, 10, 4]), tf.TensorSpec([3, 3, 4, 5]))
    assert bench.count_flops(cf) == 2 * m * n * k + m * n + 2 * (2 * 10 * 10) * 9 * 4 * 5


def test_flop_count_leaves_out_gradients_nobody_uses():
    # d(sum conv(x, w))/dx: TensorFlow's conv gradient emits the input AND the filter backprop, and prunes the
    # filter one before running. The count must be forward + input backprop (each 2 * 8*8*2 * 9 * 3 * 4), not 3x.
    @tf.function
    def grad(x, w):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "SAME"))
        return loss, tape.gradient(loss, x)

    cf = grad.get_concrete_function(tf.TensorSpec([2, 8, 8, 3]), tf.TensorSpec([3, 3, 3, 4]))
    conv = 2 * (2 * 8 * 8 * 4) * 9 * 3
    assert {op.type for op in cf.graph.get_operations()} >= {"Conv2DBackpropInput", "Conv2DBackpropFilter"}
    assert 2 * conv <= bench.count_flops(cf) <= 2 * conv * 1.05


def test_matmul_peak_and_loss_check():
    peak = bench.matmul_peak("float32", n=128, repeats=2)
    assert peak["n"] == 128 and peak["flops_per_second"] > 1e6
    f32 = {"losses": {"a": {"mean": 1.0, "std": 0.1}, "b": {"mean": 2.0, "std": 0.01}}}
    auto = {"losses": {"a": {"mean": 1.15, "std": 0.1}, "b": {"mean": 2.1, "std": 0.01}}}
    q = bench.quality_check(f32, auto)
    assert q["a"]["within_noise"] and not q["b"]["within_noise"]
    assert q["b"]["difference"] == pytest.approx(0.1)


def test_bad_arguments_are_refused(tmp_path, capsys):
    assert cli.main(["bench", "--recipes", "nope", "--reports", str(tmp_path)]) == 2
    assert "unknown recipe" in capsys.readouterr().err
    assert cli.main(["bench", "--recipes", "dcgan_fer2013", "--steps", "0", "--reports", str(tmp_path)]) == 2
    assert "--steps must be >= 1" in capsys.readouterr().err
    assert not list(tmp_path.rglob("bench.json"))


@pytest.mark.e2e
def test_bench_one_recipe_writes_every_field(tmp_path, capsys):
    before = keras.mixed_precision.global_policy().name
    argv = ["bench", "--recipes", "cgan_fashion_mnist", "--steps", "2", "--warmup", "1", "--pipeline-batches", "2",
            "--pipeline-seconds", "0.2", "--eval-batches", "2", "--eval-batch-size", "16", "--fixture-images", "16",
            "--matmul-size", "256", "--reports", str(tmp_path)]
    import time

    t0 = time.perf_counter()
    assert cli.main(argv) == 0
    wall = time.perf_counter() - t0
    assert keras.mixed_precision.global_policy().name == before  # the policy is restored for whoever runs next
    path = next(tmp_path.glob("bench/*/bench.json"))
    assert capsys.readouterr().out.splitlines()[0] == str(path)
    doc = json.loads(path.read_text())
    assert (path.parent / "bench.md").exists() and (path.parent / "bench.html").exists()
    e = doc["recipes"]["cgan_fashion_mnist"]
    assert e["paper_settings"] and e["image_size"] == 28 and e["batch"] == 32  # paper 000 4.2
    assert set(e["training"]) == {"float32", "auto"}
    for policy, r in e["training"].items():
        st = r["step_seconds"]
        assert st["n"] == 2 and 0 < st["min"] <= st["median"] <= st["max"]
        # Bounds from outside the benchmark: the measured steps cannot have taken longer than the whole command,
        # and a step's images are the global batch (32 on one replica).
        assert r["global_batch"] == 32 and st["n"] * st["median"] < wall
        assert r["images_per_second"] > 3 * 32 / wall
        assert 1e9 < r["flops_per_step"] < 1e11  # DCGAN-width G and D at 28x28, batch 32: about 20 GFLOP
        assert r["fraction_of_matmul_peak"] > 0   # against the same process's matmul probe (noisy on a shared CPU)
        assert r["memory"]["rss_peak_bytes"] > 0
        assert all(math.isfinite(v["mean"]) for v in r["losses"].values()) and {"d_loss", "g_loss"} <= set(r["losses"])
    assert 0.2 < e["auto_vs_float32_speedup"] < 10
    assert set(e["auto_vs_float32_losses"]) == {"d_loss", "g_loss"}
    for name in ("synthetic", "affectnet_jpeg"):
        p = e["input_pipeline"][name]
        assert p["batches"] >= 2 and p["images_per_second"] > 0
        assert p["ratio_to_training"] > 0
    g = e["generation_evaluation"]
    assert g["endpoint"] == "generate" and g["evaluators"] == ["efficientnet_b0_classifier"]
    # Generation followed by evaluation is slower than either alone, and so is paper 001's projected evaluation.
    assert g["images_per_second"] < min(g["generation_images_per_second"], g["evaluation_images_per_second"])
    assert g["paper001_projected_seconds"] > 220_500 / g["generation_images_per_second"]
    assert e["peak_memory_bytes"] >= e["training"]["auto"]["memory"]["rss_peak_bytes"]
    s = doc["summary"]["cgan_fashion_mnist"]
    assert s["input_pipeline_min_ratio"] == pytest.approx(min(p["ratio_to_training"]
                                                              for p in e["input_pipeline"].values()))
    assert doc["machine"]["cpu_count"] >= 1 and doc["fixture"]["images"] == 16
    md = (path.parent / "bench.md").read_text()
    for heading in ("Training step", "Input pipeline alone", "Precision: auto vs float32", "Generation + evaluation",
                    "Targets"):
        assert heading in md


def test_peak_probe_keeps_every_probe_and_reports_the_best():
    probe = bench.PeakProbe("float32", 128)
    values = [probe() for _ in range(4)]
    s = probe.summary()
    assert s["probes"] == 4 and s["best_flops_per_second"] == max(values) > 0
    assert min(values) <= s["median_flops_per_second"] <= max(values)


@pytest.mark.e2e
def test_default_preset_times_the_run_a_first_user_makes(tmp_path, capsys):
    argv = ["bench", "--preset", "default", "--recipes", "caae_affectnet", "--precision", "auto", "--steps", "3",
            "--warmup", "1", "--pipeline-batches", "1", "--pipeline-seconds", "0.1", "--eval-batches", "1",
            "--eval-batch-size", "4", "--fixture-images", "4", "--matmul-size", "512", "--reports", str(tmp_path)]
    assert cli.main(argv) == 0
    doc = json.loads(next(tmp_path.glob("bench/*/bench.json")).read_text())
    e = doc["recipes"]["caae_affectnet"]
    # the synthetic default's settings: 32x32, width x0.25, batch 49, no identity network
    assert (e["preset"], e["image_size"], e["width"], e["batch"]) == ("default", 32, 0.25, 49)
    r = e["training"]["auto"]
    # auto is what the run without data trains in (float32 there, whatever bf16 the machine has), and says so
    assert r["policy"] == "float32" and e["auto_precision"].startswith("float32")
    assert 2e9 < r["flops_per_step"] < 1.5e10        # about 6.5 GFLOP; the paper-size step with VGG-Face is 2.3 TFLOP
    probes = r["peak_probes"]
    assert probes["probes"] == 3 and probes["n"] == 512
    best = max(doc["matmul_peak"]["float32"]["flops_per_second"], probes["best_flops_per_second"])
    assert r["matmul_peak_flops_per_second"] == pytest.approx(best)
    assert r["fraction_of_matmul_peak"] == pytest.approx(r["achieved_flops_per_second"] / best)
    md = next(tmp_path.glob("bench/*/bench.md")).read_text()
    assert "default-run preset" in md and "auto precision float32" in md
    with pytest.raises(SystemExit):
        cli.main(["bench", "--preset", "nope", "--reports", str(tmp_path)])
