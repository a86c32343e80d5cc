"""`tfgan-emotion bench --gpu-check`: refused without a GPU; its case plan, time caps, CAAE loss comparison and
outputs, checked on the CPU (the worker replaced by a script, or the whole check at tiny settings in the e2e tier)."""
import json
import sys
import textwrap
import time

import pytest
import tensorflow as tf

from tfgan_emotion import cli, gpucheck, runtime

NO_GPU = not tf.config.list_physical_devices("GPU")


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU: the check would run")
def test_without_a_gpu_it_says_so_and_exits_2(tmp_path, capsys):
    assert cli.main(["bench", "--gpu-check", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sees no GPU" in err and "doctor" in err
    assert not (tmp_path / "out").exists()


def test_case_plan():
    ids = [c["id"] for c in gpucheck.plan_cases(["a", "b"], "mixed_bfloat16", 4)]
    assert ids == ["a/float32/no-xla/one-device", "b/float32/no-xla/one-device", "a/auto/no-xla/one-device",
                   "b/auto/no-xla/one-device", "a/auto/no-xla/mirrored", "b/auto/no-xla/mirrored",
                   "a/auto/xla/one-device", "b/auto/xla/one-device", "a/float32/xla/one-device",
                   "b/float32/xla/one-device"]
    # auto = float32 here: no second measurement of the same thing; one GPU: no mirrored case.
    assert [c["id"] for c in gpucheck.plan_cases(["a"], "float32", 0)] == ["a/float32/no-xla/one-device",
                                                                           "a/float32/xla/one-device"]


def _csv(path, rows):
    path.write_text("step,loss_eg,d_img\n" + "".join(f"{s},{a},{b}\n" for s, a, b in rows))
    return path


def test_losses_trend(tmp_path):
    rows = [(5 * i, 1.0 - 0.01 * i, 0.5 + 0.001 * i) for i in range(1, 41)]
    t = gpucheck.losses_trend(_csv(tmp_path / "a.csv", rows))
    assert t["rows"] == 40 and t["window_rows"] == 4 and t["headline"] == "loss_eg" and t["fell"] is True
    assert t["columns"]["loss_eg"]["first_mean"] == pytest.approx(1.0 - 0.01 * 2.5)
    assert t["columns"]["loss_eg"]["last_mean"] == pytest.approx(1.0 - 0.01 * 38.5)
    assert t["columns"]["d_img"]["fell"] is False
    rising = gpucheck.losses_trend(_csv(tmp_path / "b.csv", [(s, 2 - a, b) for s, a, b in rows]))
    assert rising["fell"] is False
    few = gpucheck.losses_trend(_csv(tmp_path / "c.csv", rows[:1]))
    assert few["fell"] is None and "too few" in few["reason"]


FAKE_WORKER = textwrap.dedent("""\
    import json, os, sys, time
    spec = json.load(open(sys.argv[1]))
    out = open(spec["results"], "a", buffering=1)
    def emit(**e):
        out.write(json.dumps(dict(t=time.time(), **e)) + "\\n"); out.flush()
    emit(event="ready", import_s=0.0)
    for c in spec["cases"]:
        emit(event="start", id=c["id"], cap_s=spec["case_max_s"])
        if c["recipe"] == "hang":
            time.sleep(60)
        if c["recipe"] == "crash":
            os._exit(7)
        emit(event="done", id=c["id"], status="ok", step_seconds={"median": 0.01, "min": 0.01, "max": 0.01, "n": 3},
             images_per_second=100.0, first_step_s=0.5, global_batch=1, image_size=8, policy="float32", replicas=1)
    emit(event="finished")
""")


def test_caps_stop_a_hanging_case_and_a_crash_does_not_stop_the_check(tmp_path, monkeypatch):
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    monkeypatch.setattr(gpucheck, "_worker_command", lambda spec: [sys.executable, str(script), str(spec)])
    budget = gpucheck.Budget(case_max_s=1.0, case_min_s=0.5, grace_s=0.5, worker_start_s=30.0)
    cases = gpucheck.plan_cases(["ok1", "hang", "ok2", "crash", "ok3"], "float32", 0)[:5]
    got = {}
    t0 = time.time()
    gpucheck.run_cases(cases, {"tiny": True}, time.time() + 60, budget, tmp_path, lambda i, r: got.update({i: r}),
                       lambda m: None)
    assert time.time() - t0 < 30
    status = {i.split("/")[0]: r["status"] for i, r in got.items()}
    assert status == {"ok1": "ok", "hang": "timed out", "ok2": "ok", "crash": "failed", "ok3": "ok"}
    assert "status 7" in got["crash/float32/no-xla/one-device"]["error"]
    assert "cap of 1 s" in got["hang/float32/no-xla/one-device"]["error"]
    assert len(list(tmp_path.glob("worker-*.jsonl"))) == 3   # started again after the hang and after the crash
    # Out of time: the rest are skipped, not started.
    got.clear()
    gpucheck.run_cases(cases[:2], {}, time.time() + 0.1, budget, tmp_path, lambda i, r: got.update({i: r}),
                       lambda m: None)
    assert {r["status"] for r in got.values()} == {"skipped"}


def test_outputs(tmp_path):
    case = dict(recipe="caae_affectnet", precision="auto", xla=True, strategy="one device",
                id="caae_affectnet/auto/xla/one-device", status="ok", policy="mixed_bfloat16", replicas=1,
                global_batch=49, image_size=96, first_step_s=31.5, step_seconds={"median": 0.0812, "n": 10},
                images_per_second=603.4, gpu_peak_bytes=7 * 2 ** 30)
    failed = dict(case, id="ganmut_affwild2/float32/no-xla/one-device", recipe="ganmut_affwild2", precision="float32",
                  xla=False, status="failed", error="ResourceExhaustedError: OOM when allocating tensor",
                  step_seconds=None, images_per_second=None, first_step_s=None)
    del failed["gpu_peak_bytes"]
    doc = {"created": "2026-01-01T00:00:00", "tiny": False, "budget": gpucheck.Budget().__dict__, "seconds": 455.0,
           "environment": {"tensorflow": "2.21.0", "keras": "3.15.1", "driver": {"driver_version": "550.54.15"},
                           "build": {"is_cuda_build": True, "cuda_version": "12.5.1", "cudnn_version": "9"},
                           "devices": [{"name": "GPU:0", "type": "GPU", "device_name": "NVIDIA H100",
                                        "compute_capability": "9.0"}], "source": {"commit": "b" * 40, "dirty": False}},
           "cases": [case, failed],
           "caae_training": {"status": "ok", "exit_status": 3, "sigterm_after_s": 180.0, "steps": 1200,
                             "files": {"train_images": 490}, "config": {"image_size": 96, "batch_size": 49,
                                                                        "width": 1.0, "identity_net": "random",
                                                                        "identity_size": 224},
                             "runtime": {"precision": "mixed_bfloat16", "devices": ["/device:GPU:0"]},
                             "losses": {"rows": 240, "window_rows": 24, "headline": "loss_eg", "fell": True,
                                        "columns": {"loss_eg": {"first_mean": 0.9, "last_mean": 0.4, "fell": True}}}}}
    js, md = gpucheck.write_outputs(doc, tmp_path / "out")
    assert json.loads(js.read_text())["cases"][1]["error"].startswith("ResourceExhaustedError")
    text = md.read_text()
    row = "| caae_affectnet | 96 | 49 | one device | auto (mixed_bfloat16) | on | ok | 31.50 | 0.0812 | 603 | 7.00 GiB |"
    assert row in text
    assert "| ganmut_affwild2 |" in text and "failed" in text and "OOM when allocating" in text
    assert "| loss_eg | 0.9 | 0.4 | yes |" in text and "loss_eg fell" in text
    assert "NVIDIA H100 (compute capability 9.0)" in text and "550.54.15" in text


@pytest.mark.e2e
@pytest.mark.skipif(not NO_GPU, reason="the tiny CPU path; on a GPU machine run the real check")
def test_tiny_check_on_the_cpu(tmp_path, capsys):
    # The same code path as on a GPU, at tiny settings: a worker process timing one recipe in float32 with XLA off
    # and on and under MirroredStrategy over two logical CPUs, and 40 s of tiny CAAE training stopped by SIGTERM.
    out = tmp_path / "gpu-check"
    status = cli.main(["bench", "--gpu-check", "--allow-cpu", "--tiny", "--recipes", "dcgan_fer2013", "--steps",
                       "2", "--warmup", "1", "--logical-cpus", "2", "--out", str(out)])
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "gpu-check.json"), str(out / "gpu-check.md")]
    doc = json.loads((out / "gpu-check.json").read_text())
    assert doc["tiny"] and doc["seconds"] < doc["budget"]["total_s"]
    # Where auto is float32 (no native bf16): float32, mirrored, XLA; with bf16 the auto cases come in between.
    auto = runtime.resolve_precision("auto")[0]
    ids = [c["id"] for c in doc["cases"]]
    assert ids == [c["id"] for c in gpucheck.plan_cases(["dcgan_fer2013"], auto, 2)]
    assert ids[0] == "dcgan_fer2013/float32/no-xla/one-device" and ids[-1] == "dcgan_fer2013/float32/xla/one-device"
    assert "dcgan_fer2013/auto/no-xla/mirrored" in ids and len(ids) == (3 if auto == "float32" else 5)
    for c in doc["cases"]:
        assert c["status"] == "ok", c
        assert c["step_seconds"]["n"] == 2 and c["images_per_second"] > 0 and c["first_step_s"] > 0
    mirrored = doc["cases"][ids.index("dcgan_fer2013/auto/no-xla/mirrored")]
    assert mirrored["replicas"] == 2 and mirrored["global_batch"] == 8
    ct = doc["caae_training"]
    assert ct["status"] == "ok" and ct["exit_status"] == 3 and ct["steps"] >= 1   # a loaded CPU starts slowly
    assert ct["losses"]["rows"] >= 1 and (out / "caae_losses.csv").exists()
    if ct["losses"]["rows"] >= 2:
        assert ct["losses"]["headline"] == "loss_eg" and ct["losses"]["fell"] in (True, False)
    else:
        assert ct["losses"]["fell"] is None
    assert status == (0 if ct["losses"]["fell"] else 1)
    md = (out / "gpu-check.md").read_text()
    assert "TINY settings" in md and "| dcgan_fer2013 | 48 | 4 | one device | float32 | on | ok |" in md
