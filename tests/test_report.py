"""report.write_report on a fake run directory laid out as tfgan_emotion/paths.py says."""
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from tfgan_emotion import paths
from tfgan_emotion.report import format_value, latest_samples, markdown_table, write_report

EVIL = "<script>alert('x')</script>"


def _png(path: Path, value: int = 0) -> None:
    from matplotlib.image import imsave

    path.parent.mkdir(parents=True, exist_ok=True)
    imsave(path, np.full((4, 4, 3), value, dtype=np.uint8))


def _config(recipe="caae_affectnet", run="smoke-01", **extra) -> dict:
    cfg = {
        "recipe": recipe,
        "run": run,
        "system": "caae",
        "config": {"learning_rate": 0.0002, "batch_size": 48, "image_size": 96, "tag": EVIL,
                   "optimizer": {"beta_1": 0.5}},
        "runtime": {"strategy": "default", "replicas": 1, "devices": ["/cpu:0"], "precision": "float32"},
        "command": "python recipes/caae_affectnet.py --smoke",
        "created": "2025-01-01T00:00:00",
        "notes": ["--smoke: 20 steps instead of 100000", "synthetic AffectNet-like faces (no dataset on disk)"],
    }
    cfg.update(extra)
    return cfg


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    rd = tmp_path / "checkpoints" / "smoke-01"
    rd.mkdir(parents=True)
    (rd / paths.CONFIG).write_text(json.dumps(_config()))
    losses = paths.run_file(rd, paths.LOSSES)
    losses.write_text("step,g_loss,d_loss,identity_loss\n"
                      "10,2.5,1.25,0.9\n20,2.0,1.0,0.7\n30,1.5,0.875,0.55\n")
    (rd / paths.METRICS).write_text(json.dumps({
        "step": 30,
        "fid_proxy": 12.3456789,
        "va_regression": {"valence": {"rmse": 0.34012, "ccc": 0.8213}, "arousal": {"rmse": 0.362, "ccc": 0.5514}},
        "discriminator_f1": {"real": 0.28, "fake": 0.37, "average": 0.26},
    }))
    _png(rd / paths.SAMPLES / "step_000010.png", 10)
    _png(rd / paths.SAMPLES / "step_000030.png", 30)
    _png(rd / paths.SAMPLES / "step_000020.png", 20)
    _png(rd / paths.FIGURES / "va_grid.png", 50)
    _png(rd / paths.FIGURES / "loss_curves.png", 60)  # clashes with the report's own plot: copied under a new name
    return rd


def _md_images(md: str) -> list[str]:
    return [unquote(m) for m in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)]


def test_full_report(run_dir: Path, tmp_path: Path):
    root = tmp_path / "reports"
    md_path = write_report(run_dir, reports_root=root)
    out = root / "caae_affectnet" / "smoke-01"
    assert md_path == out / "report.md"
    assert md_path.is_file() and (out / "report.html").is_file()
    md = md_path.read_text()
    html = (out / "report.html").read_text()

    # title and notes come first, before runtime or any number
    assert md.startswith("# Report: caae_affectnet / smoke-01")
    notes_at = md.index("--smoke: 20 steps instead of 100000")
    assert "synthetic AffectNet-like faces" in md
    assert notes_at < md.index("## Runtime") < md.index("## Metrics")

    # runtime and resolved config
    for text in ("| strategy | default |", "| replicas | 1 |", "| devices | /cpu:0 |", "| precision | float32 |",
                 "| learning_rate | 0.0002 |", "| batch_size | 48 |", "| optimizer.beta_1 | 0.5 |"):
        assert text in md, text

    # metrics: dict of dicts -> one table with rows; dict of scalars -> two columns; scalars -> summary
    assert "|  | rmse | ccc |" in md
    assert "| valence | 0.3401 | 0.8213 |" in md
    assert "| arousal | 0.362 | 0.5514 |" in md
    assert "| fake | 0.37 |" in md
    assert "### summary" in md
    assert "| fid_proxy | 12.35 |" in md and "| step | 30 |" in md

    # losses: plotted and summarised
    assert (out / "loss_curves.png").stat().st_size > 1000
    assert "| g_loss | 2.5 | 1.5 | 1.5 | 2.5 |" in md

    # images: latest sample only, every figure, links resolve to copies beside the report
    images = _md_images(md)
    assert set(images) == {"loss_curves.png", "step_000030.png", "va_grid.png", "figure_loss_curves.png"}
    for name in images:
        assert (out / name).is_file(), name
        assert f'src="{name}"' in html
    assert "*va_grid*" in md and "<figcaption>va_grid</figcaption>" in html
    assert "## Missing inputs" not in md

    # HTML: escaped, self-contained
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert "<style>" in html
    assert EVIL not in md


def test_report_without_optional_inputs(tmp_path: Path):
    rd = tmp_path / "bare"
    rd.mkdir()
    (rd / paths.CONFIG).write_text(json.dumps(_config(run="bare-run")))
    md_path = write_report(rd, reports_root=tmp_path / "reports")
    md = md_path.read_text()
    assert (md_path.parent / "report.html").is_file()
    assert "--smoke: 20 steps" in md
    assert "## Missing inputs" in md
    assert "metrics.json not found" in md
    assert "logs/losses.csv not found" in md
    assert "no sample grids" in md and "no evaluation figures" in md
    assert _md_images(md) == []


def test_report_with_empty_losses_and_minimal_config(tmp_path: Path):
    rd = tmp_path / "minimal"
    rd.mkdir()
    (rd / paths.CONFIG).write_text(json.dumps({"recipe": "dcgan_fer2013", "run": "r1"}))
    paths.run_file(rd, paths.LOSSES).write_text("step,g_loss\n")
    md = write_report(rd, reports_root=tmp_path / "reports").read_text()
    assert "header but no rows" in md
    assert "No notes recorded" in md
    assert "records no runtime" in md


def test_missing_config_or_directory_raises(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        write_report(empty, reports_root=tmp_path / "reports")
    with pytest.raises(FileNotFoundError, match="must contain config.json"):
        write_report(tmp_path / "nope", reports_root=tmp_path / "reports")
    (empty / paths.CONFIG).write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        write_report(empty, reports_root=tmp_path / "reports")


def test_latest_samples_per_kind(tmp_path: Path):
    d = tmp_path / "samples"
    for name in ("step_000100.png", "step_000900.png", "step_001000.png", "interp_step_000500.png",
                 "interp_step_000200.png"):
        _png(d / name)
    assert [p.name for p in latest_samples(d)] == ["interp_step_000500.png", "step_001000.png"]
    assert latest_samples(tmp_path / "absent") == []


def test_format_and_markdown_table():
    assert format_value(0.123456) == "0.1235"
    assert format_value(np.float32(2.0)) == "2"
    assert format_value(np.int64(7)) == "7"
    assert format_value(1234567.0) == "1.235e+06"
    assert format_value(float("nan")) == "nan"
    assert format_value(True) == "true"
    assert format_value([1, 0.5]) == "1, 0.5"
    table = markdown_table(["a", "b"], [["x|y", "<b>"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | &lt;b&gt; |"]


def test_import_does_not_load_tensorflow_pandas_or_matplotlib():
    code = ("import sys, tfgan_emotion.report, tfgan_emotion.eval.metrics; "
            "print(sorted(m for m in ('tensorflow', 'pandas', 'matplotlib', 'keras') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.stdout.strip() == "[]"


def test_paper_items_and_evaluation_notes_have_their_own_sections(tmp_path: Path):
    """The paper's tables/figures table comes right after the notes; notes the evaluation added join the notes;
    neither is repeated as a metrics table."""
    rd = tmp_path / "run"
    rd.mkdir()
    (rd / paths.CONFIG).write_text(json.dumps(_config(notes=["trained on synthetic faces"])))
    items = [{"item": "Table IV", "shows": "edited-face VA accuracy", "status": "reproduced", "how": "table4_edits"},
             {"item": "Fig. 2", "shows": "200 CelebA faces", "status": "analogue", "how": "--fig2-faces DIR"}]
    (rd / paths.METRICS).write_text(json.dumps({"step": 3, "paper_items": items,
                                                "evaluation_notes": ["Fig. 2 used AffectNet faces"]}))
    md = write_report(rd, tmp_path / "reports").read_text()
    notes, rest = md.split("## The paper's tables and figures in this run", 1)
    assert "trained on synthetic faces" in notes and "Fig. 2 used AffectNet faces" in notes
    table = rest.split("## ", 1)[0]
    assert "| Table IV | edited-face VA accuracy | reproduced | table4_edits |" in table
    assert "| Fig. 2 | 200 CelebA faces | analogue | --fig2-faces DIR |" in table
    assert "### paper_items" not in md and "### evaluation_notes" not in md
    assert "evaluation_notes" not in md.split("## Metrics", 1)[1]
