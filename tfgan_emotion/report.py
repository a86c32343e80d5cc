"""Per-run report: ``<reports root>/<recipe>/<run>/report.md`` and ``report.html`` with PNG figures beside them.

Reads a run directory laid out as ``paths.py`` says (``config.json`` required; ``metrics.json``,
``logs/losses.csv``, ``samples/`` and ``figures/`` optional) and writes the same content twice: Markdown for the
repository and a self-contained HTML page (inline CSS, no scripts, every text escaped) whose only external
references are the PNGs copied next to it. Missing optional inputs are reported in the document, not raised.

pandas and matplotlib are imported inside the functions that use them, so importing this module stays cheap
for the CLI. Plots use matplotlib's ``Figure`` with the Agg canvas and never touch ``pyplot``'s global state.
"""
from __future__ import annotations

import html
import json
import math
import re
import shutil
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from tfgan_emotion import paths

RUN_DIR_CONTENTS = (
    f"a run directory must contain {paths.CONFIG} (recipe, run, config, runtime, notes) and may contain "
    f"{paths.METRICS}, {paths.LOSSES}, {paths.SAMPLES}/*.png and {paths.FIGURES}/*.png (see tfgan_emotion/paths.py)"
)


# --- value formatting ---------------------------------------------------------------------------------------

def format_value(value: Any) -> str:
    """One table cell as text: floats to 4 significant digits, ints exact, lists comma-joined, dicts as JSON."""
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        x = float(value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=False, default=str)
    return str(value)


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested config dicts as dotted keys, in insertion order."""
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


# --- a tiny document model rendered twice ---------------------------------------------------------------------

@dataclass
class _Doc:
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(("heading", level, text))

    def para(self, text: str, kind: str = "p") -> None:
        self.blocks.append(("para", kind, text))

    def items(self, items: list[str], kind: str = "list") -> None:
        self.blocks.append(("list", kind, list(items)))

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        self.blocks.append(("table", [str(h) for h in header], [[format_value(c) for c in r] for r in rows]))

    def image(self, file_name: str, caption: str) -> None:
        self.blocks.append(("image", file_name, caption))


def _md_text(text: str) -> str:
    # Raw HTML in Markdown would be rendered by most viewers; angle brackets become entities.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(text: str) -> str:
    return _md_text(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """GitHub-flavoured Markdown table (no ``tabulate``); cells escaped for ``|``, newlines and HTML."""
    width = len(header)
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * width]
    for r in rows:
        cells = list(r) + [""] * (width - len(r))
        lines.append("| " + " | ".join(_md_cell(c) for c in cells[:width]) + " |")
    return "\n".join(lines)


def _render_md(doc: _Doc) -> str:
    parts = []
    for b in doc.blocks:
        if b[0] == "heading":
            parts.append("#" * b[1] + " " + _md_text(b[2]).replace("\n", " "))
        elif b[0] == "para":
            text = _md_text(b[2])
            parts.append(f"> **{text}**" if b[1] == "missing" else text)
        elif b[0] == "list":
            parts.append("\n".join(f"- {_md_text(i)}" for i in b[2]))
        elif b[0] == "table":
            parts.append(markdown_table(b[1], b[2]))
        elif b[0] == "image":
            caption = _md_text(b[2]).replace("[", "\\[").replace("]", "\\]")
            parts.append(f"![{caption}]({quote(b[1])})\n\n*{caption}*")
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ccc; padding-bottom: .2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #e3e3e3; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td { font-family: ui-monospace, Menlo, Consolas, monospace; }
.notes { background: #fff6d6; border: 1px solid #e6c200; padding: .6em 1.2em; }
.missing { color: #8a1f11; font-weight: bold; }
figure { display: inline-block; margin: .5em 1em 1em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; image-rendering: pixelated; }
figcaption { font-size: .9em; color: #555; text-align: center; }
"""


def _render_html(doc: _Doc, title: str) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>"]
    for b in doc.blocks:
        if b[0] == "heading":
            out.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
        elif b[0] == "para":
            cls = ' class="missing"' if b[1] == "missing" else ""
            out.append(f"<p{cls}>{e(b[2])}</p>")
        elif b[0] == "list":
            cls = ' class="notes"' if b[1] == "notes" else ""
            out.append(f"<ul{cls}>" + "".join(f"<li>{e(i)}</li>" for i in b[2]) + "</ul>")
        elif b[0] == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in b[1])
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in b[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b[0] == "image":
            src = e(quote(b[1]), quote=True)
            out.append(f'<figure><img src="{src}" alt="{e(b[2], quote=True)}">'
                       f"<figcaption>{e(b[2])}</figcaption></figure>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


# Public names for other reports (bench, compare): build a Document, render it as Markdown and as HTML.
Document = _Doc


def render_markdown(doc: _Doc) -> str:
    return _render_md(doc)


def render_html(doc: _Doc, title: str) -> str:
    return _render_html(doc, title)


# --- reading the run directory --------------------------------------------------------------------------------

def _load_config(run_dir: Path) -> dict:
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a directory; {RUN_DIR_CONTENTS}")
    cfg_path = run_dir / paths.CONFIG
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path} not found; {RUN_DIR_CONTENTS}")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{cfg_path} is not valid JSON: {err}") from err
    if not isinstance(cfg, dict):
        raise ValueError(f"{cfg_path} must hold a JSON object, got {type(cfg).__name__}")
    return cfg


def _safe_name(text: Any, fallback: str) -> str:
    """A recipe/run name usable as one path component."""
    name = re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(text or "")).strip("._")
    return name or fallback


def _step_of(path: Path) -> int:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else -1


def latest_samples(samples_dir: Path) -> list[Path]:
    """The newest grid of each kind in ``samples/``: files are grouped by name with digits masked
    (``step_000100.png`` and ``interp_step_000100.png`` are two kinds) and the highest step of each kept."""
    if not samples_dir.is_dir():
        return []
    groups: dict[str, Path] = {}
    for p in sorted(samples_dir.glob("*.png")):
        key = re.sub(r"\d+", "#", p.stem)
        if key not in groups or (_step_of(p), p.name) > (_step_of(groups[key]), groups[key].name):
            groups[key] = p
    return sorted(groups.values())


class _Copier:
    """Copies PNGs next to the report under unique names (a figure may share a name with a sample)."""

    def __init__(self, out_dir: Path, reserved: set[str]):
        self.out_dir = out_dir
        self.used = set(reserved)

    def __call__(self, src: Path, prefix: str) -> str:
        name = src.name
        if name in self.used:
            name = f"{prefix}_{src.name}"
        n = 2
        while name in self.used:
            name = f"{prefix}{n}_{src.name}"
            n += 1
        self.used.add(name)
        shutil.copyfile(src, self.out_dir / name)
        return name


def _plot_losses(df, out_path: Path) -> list[str]:
    """One subplot per logged column against ``step`` (loss_curves.png); returns the plotted columns."""
    import pandas as pd
    from matplotlib.figure import Figure

    x = pd.to_numeric(df["step"], errors="coerce") if "step" in df.columns else pd.Series(range(len(df)))
    cols = [c for c in df.columns if c != "step"]
    numeric = {c: pd.to_numeric(df[c], errors="coerce") for c in cols}
    cols = [c for c in cols if numeric[c].notna().any()]
    if not cols:
        return []
    ncols = min(3, len(cols))
    nrows = math.ceil(len(cols) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 2.8 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(cols):
            ax.set_visible(False)
            continue
        ax.plot(x, numeric[cols[i]], linewidth=1.2, marker="o" if len(df) < 30 else None, markersize=3)
        ax.set_title(str(cols[i]), fontsize=10)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    fig.savefig(out_path, dpi=100)
    return cols


def _missing(doc: "_Doc", missing: list[str], msg: str) -> None:
    """Record an absent or unreadable input: listed at the top of the report and said where it would be."""
    missing.append(msg)
    doc.para(msg, "missing")


def _losses_section(doc: _Doc, run_dir: Path, out_dir: Path, missing: list[str]) -> None:
    import pandas as pd

    doc.heading(2, "Training losses")
    csv_path = run_dir / paths.LOSSES
    if not csv_path.is_file():
        _missing(doc, missing, f"{paths.LOSSES} not found: no training losses were logged for this run.")
        return
    try:
        df = pd.read_csv(csv_path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        _missing(doc, missing, f"{paths.LOSSES} could not be read ({err}).")
        return
    if df.empty:
        _missing(doc, missing, f"{paths.LOSSES} has a header but no rows: training logged nothing yet.")
        return
    cols = _plot_losses(df, out_dir / "loss_curves.png")
    if not cols:
        doc.para(f"{paths.LOSSES} has no numeric columns to plot.", "missing")
        return
    steps = pd.to_numeric(df["step"], errors="coerce") if "step" in df.columns else None
    span = (f"steps {format_value(steps.min())} to {format_value(steps.max())}" if steps is not None
            else "no step column")
    doc.para(f"{len(df)} logged rows, {span}.")
    doc.image("loss_curves.png", "loss_curves")
    rows = []
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").dropna()  # a loss of a later training phase starts later
        if len(v):
            rows.append([c, v.iloc[0], v.iloc[-1], v.min(), v.max()])
    doc.table(["column", "first", "last", "min", "max"], rows)


# metrics.json keys the report renders in their own sections (not as metric tables)
_OWN_SECTIONS = ("paper_items", "evaluation_notes")


def _read_metrics(run_dir: Path) -> dict:
    try:
        m = json.loads((run_dir / paths.METRICS).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return m if isinstance(m, dict) else {}


def _paper_section(doc: _Doc, items) -> None:
    """The paper's tables and figures, each with whether and how this run reproduced it."""
    if not isinstance(items, list) or not items:
        return
    doc.heading(2, "The paper's tables and figures in this run")
    rows = [[i.get("item", ""), i.get("shows", ""), i.get("status", ""), i.get("how", "")]
            for i in items if isinstance(i, dict)]
    doc.table(["item", "what the paper shows", "this run", "where, and which flag"], rows)


def _metrics_section(doc: _Doc, run_dir: Path, missing: list[str]) -> None:
    doc.heading(2, "Metrics")
    m_path = run_dir / paths.METRICS
    if not m_path.is_file():
        _missing(doc, missing, f"{paths.METRICS} not found: the run has not been evaluated yet.")
        return
    try:
        metrics = json.loads(m_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        _missing(doc, missing, f"{paths.METRICS} is not valid JSON ({err}).")
        return
    if not isinstance(metrics, dict) or not metrics:
        doc.para(f"{paths.METRICS} holds no results.", "missing")
        return
    summary = []
    for name, value in metrics.items():
        if name in _OWN_SECTIONS:
            continue
        if not isinstance(value, dict):
            summary.append([name, value])
            continue
        tables = {k: v for k, v in value.items() if isinstance(v, dict)}
        scalars = [[k, v] for k, v in value.items() if not isinstance(v, dict)]
        doc.heading(3, str(name))
        if tables:
            columns: list[str] = []
            for row in tables.values():
                columns += [str(c) for c in row if str(c) not in columns]
            doc.table([""] + columns, [[r] + [row.get(c, "") for c in columns] for r, row in tables.items()])
        if scalars:
            doc.table(["name", "value"], scalars)
        if not tables and not scalars:
            doc.para("(empty)")
    if summary:
        doc.heading(3, "summary")
        doc.table(["name", "value"], summary)


def _environment_section(doc: _Doc, env) -> None:
    """TensorFlow, Keras, CUDA, cuDNN, driver, devices and source commit from config.json's ``environment``
    (written by runtime.environment); runs recorded before it existed get one line saying so."""
    from .runtime import describe_build, describe_commit, describe_devices

    doc.heading(3, "Environment")
    if not isinstance(env, dict) or not env:
        doc.para(f"{paths.CONFIG} records no environment (the run was made before runs recorded it).")
        return
    driver = env.get("driver") if isinstance(env.get("driver"), dict) else {}
    rows = [["TensorFlow", f"{env.get('tensorflow', '(not recorded)')} ({describe_build(env)})"],
            ["Keras", env.get("keras", "(not recorded)")],
            ["Python", env.get("python", "(not recorded)")],
            ["NVIDIA driver", driver.get("driver_version", "(not recorded)")],
            ["devices", "; ".join(describe_devices(env))],
            ["source commit", describe_commit(env)]]
    dnn = env.get("onednn")
    if isinstance(dnn, dict) and "detail" in dnn:
        rows.insert(4, ["oneDNN CPU kernels", dnn["detail"]])
    doc.table(["", "value"], rows)


def _images_section(doc: _Doc, title: str, files: list[Path], copy: _Copier, prefix: str, missing_msg: str,
                    missing: list[str]) -> None:
    doc.heading(2, title)
    if not files:
        _missing(doc, missing, missing_msg)
        return
    for src in files:
        doc.image(copy(src, prefix), src.stem)


def write_report(run_dir: str | Path, reports_root: str | Path = paths.DEFAULT_REPORTS) -> Path:
    """Write ``<reports_root>/<recipe>/<run>/report.md`` and ``report.html`` for one run directory.

    Sections, in order: title (recipe, run), the config's ``notes`` (what a --smoke or synthetic run shrank) with
    the notes the evaluation added (metrics.json ``evaluation_notes``), the paper's tables and figures and how this
    run reproduced each (metrics.json ``paper_items``), what is missing, runtime, resolved config, training losses (``loss_curves.png`` + first/last/min/max table),
    metrics tables, the latest sample grids and every figure. PNGs are copied next to the report and linked
    relatively. Returns the path of ``report.md``; ``report.html`` is beside it.

    Raises ``FileNotFoundError`` if ``run_dir`` is not a directory or has no ``config.json``, ``ValueError`` if
    ``config.json`` is not a JSON object. Missing optional inputs are stated in the report instead.
    """
    run_dir = Path(run_dir)
    cfg = _load_config(run_dir)
    recipe = _safe_name(cfg.get("recipe"), "unknown_recipe")
    run = _safe_name(cfg.get("run"), _safe_name(run_dir.name, "run"))
    out_dir = Path(reports_root) / recipe / run
    out_dir.mkdir(parents=True, exist_ok=True)

    doc = _Doc()
    missing: list[str] = []
    title = f"{cfg.get('recipe', recipe)} / {cfg.get('run', run)}"
    doc.heading(1, f"Report: {title}")

    # Notes first: researchers must see what a --smoke or synthetic run shrank before any number.
    notes = cfg.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    metrics = _read_metrics(run_dir)
    later = metrics.get("evaluation_notes") or []
    notes = list(dict.fromkeys([str(n) for n in notes] + [str(n) for n in later if isinstance(later, list)]))
    doc.heading(2, "Notes")
    if notes:
        doc.items(notes, "notes")
    else:
        doc.para("No notes recorded for this run.")
    _paper_section(doc, metrics.get("paper_items"))

    body = _Doc()
    runtime = cfg.get("runtime")
    body.heading(2, "Runtime")
    if isinstance(runtime, dict) and runtime:
        keys = ["strategy", "replicas", "devices", "precision"]
        keys += [k for k in runtime if k not in keys]
        body.table(["setting", "value"], [[k, runtime.get(k, "(not recorded)")] for k in keys])
    else:
        _missing(body, missing, f"{paths.CONFIG} records no runtime (strategy, replicas, devices, precision).")
    run_rows = [[k, cfg[k]] for k in ("system", "command", "created") if k in cfg]
    run_rows.append(["run directory", str(run_dir)])
    body.table(["run", "value"], run_rows)
    _environment_section(body, cfg.get("environment"))

    body.heading(2, "Configuration")
    config = cfg.get("config")
    if isinstance(config, dict) and config:
        body.table(["parameter", "value"], [[k, v] for k, v in _flatten(config)])
    else:
        _missing(body, missing, f"{paths.CONFIG} has no resolved hyperparameters under 'config'.")

    _losses_section(body, run_dir, out_dir, missing)
    _metrics_section(body, run_dir, missing)

    copy = _Copier(out_dir, {"report.md", "report.html", "loss_curves.png"})
    _images_section(body, "Samples (latest)", latest_samples(run_dir / paths.SAMPLES), copy, "sample",
                    f"no sample grids in {paths.SAMPLES}/.", missing)
    figures_dir = run_dir / paths.FIGURES
    figures = sorted(figures_dir.rglob("*.png")) if figures_dir.is_dir() else []
    _images_section(body, "Figures", figures, copy, "figure", f"no evaluation figures in {paths.FIGURES}/.",
                    missing)

    if missing:
        doc.heading(2, "Missing inputs")
        doc.items(missing)
    doc.blocks.extend(body.blocks)

    md_path = out_dir / "report.md"
    md_path.write_text(_render_md(doc), encoding="utf-8")
    (out_dir / "report.html").write_text(_render_html(doc, f"Report: {title}"), encoding="utf-8")
    return md_path
