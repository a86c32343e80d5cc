"""``tfgan-emotion study analyze``: merge the participants' answer files with the hidden key and report.

Every answer file is checked before anything is counted: the header, the study id (a file from another study is
refused), every row (known image id, one of the study's emotions, an integer rating 1..5, a response time >= 0 ms,
one participant id per file), no (image, emotion) pair answered twice, and every pair answered (``--allow-incomplete``
keeps partial files). Across files: two files with the same participant id, or with the same answers, are
duplicates. Any problem stops the analysis with a list of them (file, line, what, what to do); ``--skip-bad``
analyses the good files instead and lists the refused ones in the report.

What is computed (the participant is the unit: each participant's ratings are first averaged over the images of a
cell, then the cell's mean and its 95% confidence interval, mean +- t(0.975, n-1) x sd / sqrt(n), are taken over
participants):
  agreement     mean rating (1 = strongly agree .. 5 = strongly disagree) per source (real / generated) x intended
                emotion x rated emotion: paper 000 Fig. 12, one panel per intended emotion.
  recognition   an answer to an image recognises its intended emotion when that emotion gets the image's best
                (lowest) rating; a tie between k best emotions counts 1/k for each. Per source x intended emotion.
  agreed        the share of answers rating the intended emotion 1 or 2 (agree or strongly agree).
  confusion     per source: intended emotion (rows) x perceived emotion (columns, the best-rated, ties split),
                rows summing to 1.
  per image     the intended emotion's mean rating and the recognition rate of every image, to find weak stimuli.
Recognition and confusion count an image for a participant only when every emotion of it was rated (partial files
kept with --allow-incomplete); agreement uses every rating.
Writes OUT/analysis.json, report.md, report.html, responses_merged.csv (one row per answer with its source and
intended emotion, for your own statistics) and figures/; OUT defaults to STUDY_DIR/analysis.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import math
import sys
from pathlib import Path

import numpy as np

from .make import KEY_COLUMNS, KEY_FILE, STUDY_FILE

COLUMNS = ("study_id", "participant_id", "trial", "image_id", "emotion", "rating", "response_ms")
REQUIRED = ("participant_id", "image_id", "emotion", "rating", "response_ms")
SOURCES = ("real", "generated")
SCALE = (1.0, 5.0)  # 1 = strongly agree .. 5 = strongly disagree
MAX_LISTED = 8  # problems listed per file before "... and N more"


class AnswersRejected(ValueError):
    """One or more answer files failed the checks; ``problems`` maps each file to its list of problems."""

    def __init__(self, problems: dict[str, list[str]]):
        self.problems = problems
        super().__init__(format_problems(problems))


def format_problems(problems: dict[str, list[str]]) -> str:
    lines = [f"{len(problems)} answer file(s) refused:"]
    for path, items in problems.items():
        lines.append(f"  {path}:")
        lines += [f"    - {p}" for p in items[:MAX_LISTED]]
        if len(items) > MAX_LISTED:
            lines.append(f"    - ... and {len(items) - MAX_LISTED} more")
    lines.append("Fix or remove these files (the page writes them; an edited or truncated file cannot be trusted), "
                 "or run again with --skip-bad to analyse the other files.")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Reading the study and the answers
# --------------------------------------------------------------------------------------------------------------

def read_study(study_dir) -> tuple[dict, dict[str, tuple[str, str]]]:
    """(study.json, {image id: (source, intended emotion)}); clear errors for a folder that is not a study."""
    study_dir = Path(study_dir)
    meta_path, key_path = study_dir / STUDY_FILE, study_dir / KEY_FILE
    for p in (meta_path, key_path):
        if not p.exists():
            raise FileNotFoundError(f"{study_dir} is not a study folder (no {p.name}); give the -o folder of "
                                    "`tfgan-emotion study make`")
    meta = json.loads(meta_path.read_text())
    emotions = [e["key"] for e in meta["emotions"]]
    key = {}
    with open(key_path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or tuple(rows[0][:len(KEY_COLUMNS)]) != KEY_COLUMNS:
        raise ValueError(f"{key_path}: header must start with {','.join(KEY_COLUMNS)}; the key file was edited")
    for line, r in enumerate(rows[1:], start=2):
        if len(r) < 3 or r[1] not in SOURCES or r[2] not in emotions:
            raise ValueError(f"{key_path} line {line}: {r!r} is not 'image id, real|generated, one of the study's "
                             "emotions'; restore the key file written by `study make`")
        key[r[0]] = (r[1], r[2])
    return meta, key


def _number(text: str, kind):
    try:
        v = kind(text)
    except (TypeError, ValueError):
        return None
    return v if (kind is int or math.isfinite(v)) else None


def check_file(path, meta: dict, key: dict, allow_incomplete: bool = False) -> tuple[list[dict], list[str]]:
    """(answer rows, problems) of one answer file; the rows are valid only when there are no problems."""
    path = Path(path)
    emotions = [e["key"] for e in meta["emotions"]]
    problems: list[str] = []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        return [], [f"cannot read the file ({e})"]
    except UnicodeDecodeError:
        return [], ["not a UTF-8 text file: is this the CSV the page downloaded?"]
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        return [], ["empty file"]
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [f"line 1: the header lacks {', '.join(missing)} (expected {','.join(COLUMNS)}): is this the CSV "
                    "the page downloaded?"]
    col = {c: header.index(c) for c in COLUMNS if c in header}
    out, seen, pids = [], {}, {}
    for line, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            problems.append(f"line {line}: {len(r)} fields, the header has {len(header)}")
            continue
        get = {c: r[i].strip() for c, i in col.items()}
        if "study_id" in get and get["study_id"] != meta["study_id"]:
            problems.append(f"line {line}: study id {get['study_id']!r} is not this study's ({meta['study_id']}): the "
                            "file answers another study's page")
            continue
        bad = []
        if get["image_id"] not in key:
            bad.append(f"unknown image id {get['image_id']!r}")
        if get["emotion"] not in emotions:
            bad.append(f"emotion {get['emotion']!r} is not one of {', '.join(emotions)}")
        rating = _number(get["rating"], int)
        if rating is None or not 1 <= rating <= 5:
            bad.append(f"rating {get['rating']!r} is not an integer from 1 (strongly agree) to 5 (strongly disagree)")
        ms = _number(get["response_ms"], float)
        if ms is None or ms < 0:
            bad.append(f"response time {get['response_ms']!r} is not a number of milliseconds >= 0")
        if not get["participant_id"]:
            bad.append("empty participant id")
        if bad:
            problems.append(f"line {line}: " + "; ".join(bad))
            continue
        pids.setdefault(get["participant_id"], line)
        pair = (get["image_id"], get["emotion"])
        if pair in seen:
            problems.append(f"line {line}: image {pair[0]} / {pair[1]} answered again (first on line {seen[pair]})")
            continue
        seen[pair] = line
        out.append({"participant_id": get["participant_id"], "image_id": get["image_id"], "emotion": get["emotion"],
                    "rating": rating, "response_ms": ms,
                    "trial": _number(get.get("trial", ""), int)})
    if len(pids) > 1:
        problems.append("more than one participant id in one file: " + ", ".join(
            f"{p!r} (from line {n})" for p, n in pids.items()) + "; one file per participant")
    if not problems and not out:
        problems.append("no answers (only a header)")
    if not problems and not allow_incomplete:
        want = len(key) * len(emotions)
        if len(seen) < want:
            gaps = sorted({i for i in key for e in emotions if (i, e) not in seen})
            problems.append(f"incomplete: {len(seen)} of {want} answers ({len(gaps)} image(s) not fully rated, e.g. "
                            f"{', '.join(gaps[:3])}); use --allow-incomplete to keep partial files")
    return out, problems


def load_answers(files, meta: dict, key: dict, allow_incomplete: bool = False,
                 skip_bad: bool = False) -> tuple[list[dict], dict[str, list[str]], list[str]]:
    """(answer rows of the accepted files, {refused file: problems}, accepted files). Raises
    :class:`AnswersRejected` when a file is refused and not ``skip_bad``."""
    files = [Path(f) for f in files]
    expanded = []
    for f in files:
        if f.is_dir():
            expanded += sorted(f.glob("*.csv"))
        else:
            expanded.append(f)
    if not expanded:
        raise ValueError("no answer files given (RESPONSES: the CSV files the participants sent, or a folder of them)")
    rows, rejected, accepted = [], {}, []
    by_hash, by_pid = {}, {}
    for f in expanded:
        name = str(f)
        if name in accepted or name in rejected:
            continue  # the same path given twice (e.g. a folder and a glob)
        answers, problems = check_file(f, meta, key, allow_incomplete)
        digest = hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else None
        if not problems:
            if digest in by_hash:
                problems.append(f"duplicate: the same answers as {by_hash[digest]}; keep one of the two files")
            else:
                pid = answers[0]["participant_id"]
                if pid in by_pid:
                    problems.append(f"duplicate participant id {pid!r}: {by_pid[pid]} has it too; a participant "
                                    "answers once (give a second sitting another id, or keep one file)")
        if problems:
            rejected[name] = problems
            continue
        by_hash[digest] = name
        by_pid[answers[0]["participant_id"]] = name
        accepted.append(name)
        rows += answers
    if rejected and not skip_bad:
        raise AnswersRejected(rejected)
    if not rows:
        raise AnswersRejected(rejected) if rejected else ValueError("no answers to analyse")
    return rows, rejected, accepted


# --------------------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------------------

def mean_ci(values, bounds: tuple[float, float] | None = None) -> dict:
    """Mean and 95% t confidence interval of per-participant values (interval None below 2 participants); with
    ``bounds``, the interval is clipped to the values the measure can take (a t interval of ratings near the end of
    the scale would otherwise reach past it)."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], np.float64)
    n = len(v)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    m = float(v.mean())
    if n < 2:
        return {"mean": m, "low": None, "high": None, "n": 1}
    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
    low, high = m - half, m + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": m, "low": low, "high": high, "n": n}


def analyse(rows: list[dict], meta: dict, key: dict) -> dict:
    import pandas as pd

    emotions = [e["key"] for e in meta["emotions"]]
    df = pd.DataFrame(rows)
    df["source"] = [key[i][0] for i in df["image_id"]]
    df["intended"] = [key[i][1] for i in df["image_id"]]
    participants = sorted(df["participant_id"].unique())

    # Agreement (Fig. 12): participant means per (source, intended, rated), then over participants.
    groups: dict[tuple, dict] = {}
    for (s, i, r, p), v in df.groupby(["source", "intended", "emotion", "participant_id"])["rating"].mean().items():
        groups.setdefault((s, i, r), {})[p] = float(v)
    agreement = {s: {i: {r: mean_ci(list(groups.get((s, i, r), {}).values()), SCALE) for r in emotions}
                     for i in emotions} for s in SOURCES}

    # Per (participant, image): the perceived emotion(s) = best (lowest) rating; ties split.
    wide = df.pivot_table(index=["participant_id", "image_id"], columns="emotion", values="rating", aggfunc="first")
    wide = wide.reindex(columns=emotions)
    complete = wide.notna().all(axis=1)
    wide = wide[complete]
    best = wide.min(axis=1)
    share = wide.eq(best, axis=0).astype(float)
    share = share.div(share.sum(axis=1), axis=0)          # 1/k for each of k tied best emotions
    img = wide.index.get_level_values("image_id")
    src = np.array([key[i][0] for i in img])
    intended = np.array([key[i][1] for i in img])
    pid = wide.index.get_level_values("participant_id")
    credit = np.array([share.iloc[k][intended[k]] for k in range(len(share))])
    agreed = np.array([float(wide.iloc[k][intended[k]] <= 2) for k in range(len(wide))])
    per = pd.DataFrame({"participant_id": pid, "image_id": img, "source": src, "intended": intended,
                        "credit": credit, "agreed": agreed})

    def by_participant(frame, column):
        return mean_ci(frame.groupby("participant_id")[column].mean().tolist(), (0.0, 1.0))

    recognition, agreed_rate = {}, {}
    for s in SOURCES:
        fs = per[per["source"] == s]
        recognition[s] = {i: by_participant(fs[fs["intended"] == i], "credit") for i in emotions}
        recognition[s]["all"] = by_participant(fs, "credit")
        agreed_rate[s] = {i: by_participant(fs[fs["intended"] == i], "agreed") for i in emotions}
        agreed_rate[s]["all"] = by_participant(fs, "agreed")

    confusion = {}
    for s in SOURCES:
        m = np.full((len(emotions), len(emotions)), np.nan)
        for a, i in enumerate(emotions):
            sel = (src == s) & (intended == i)
            if sel.any():
                m[a] = share[sel].mean(axis=0).reindex(emotions).to_numpy()
        confusion[s] = m.tolist()

    # Generated minus real agreement with the intended emotion, paired within participants.
    difference = {}
    for i in emotions:
        r, g = groups.get(("real", i, i), {}), groups.get(("generated", i, i), {})
        span = SCALE[1] - SCALE[0]
        difference[i] = mean_ci([g[p] - r[p] for p in sorted(set(r) & set(g))], (-span, span))

    images = []
    for image_id, (s, i) in sorted(key.items(), key=lambda kv: (kv[1][0], emotions.index(kv[1][1]), kv[0])):
        d = df[(df["image_id"] == image_id) & (df["emotion"] == i)]
        c = per[per["image_id"] == image_id]["credit"]
        images.append({"image_id": image_id, "source": s, "intended": i, "answers": int(len(d)),
                       "intended_rating": float(d["rating"].mean()) if len(d) else None,
                       "recognition": float(c.mean()) if len(c) else None})

    times = df.drop_duplicates(["participant_id", "image_id"])
    return {
        "participants": participants, "n_participants": len(participants), "answers": int(len(df)),
        "emotions": emotions, "agreement": agreement, "recognition": recognition, "agreed": agreed_rate,
        "confusion": confusion, "difference_generated_minus_real": difference, "images": images,
        "response_seconds_median": {s: (float(times[times["source"] == s]["response_ms"].median()) / 1000.0
                                        if (times["source"] == s).any() else None) for s in SOURCES},
    }


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------

def _ci_text(c: dict, digits: int = 2, percent: bool = False) -> str:
    if c["mean"] is None:
        return "-"
    f = (lambda x: f"{100 * x:.0f}%") if percent else (lambda x: f"{x:.{digits}f}")
    if c["low"] is None:
        return f"{f(c['mean'])} (n=1, no CI)"
    return f"{f(c['mean'])} [{f(c['low'])}, {f(c['high'])}]"


def agreement_figure(res: dict, labels: dict, path: Path) -> Path:
    """Paper 000 Fig. 12: one panel per intended emotion; bars = mean agreement per rated emotion, real (blue) vs
    generated (orange), 95% CIs; the axis runs from 5 (strongly disagree) at the bottom to 1 (strongly agree)."""
    from ..eval import common

    emotions = res["emotions"]
    n = len(emotions)
    cols = min(n, 4)
    nrows = math.ceil(n / cols)
    fig = common.figure((3.3 * cols, 2.6 * nrows + 0.6))
    axes = np.atleast_1d(fig.subplots(nrows, cols, squeeze=False)).ravel()
    x = np.arange(n)
    width = 0.38
    colours = {"real": "#1f77b4", "generated": "#ff7f0e"}
    for k, i in enumerate(emotions):
        ax = axes[k]
        for j, s in enumerate(SOURCES):
            cells = [res["agreement"][s][i][r] for r in emotions]
            means = np.array([np.nan if c["mean"] is None else c["mean"] for c in cells])
            lo = np.array([np.nan if c["low"] is None else c["mean"] - c["low"] for c in cells])
            hi = np.array([np.nan if c["high"] is None else c["high"] - c["mean"] for c in cells])
            # Bars grow upward from "strongly disagree" (5) toward "strongly agree" (1).
            ax.bar(x + (j - 0.5) * width, 5.0 - means, width, bottom=means, color=colours[s],
                   label=s if k == 0 else None)
            if np.isfinite(lo).any():
                ax.errorbar(x + (j - 0.5) * width, means, yerr=np.nan_to_num(np.stack([lo, hi])), fmt="none",
                            ecolor="black", elinewidth=0.8, capsize=2)
        ax.set_ylim(5.0, 1.0)
        ax.set_yticks([1, 2, 3, 4, 5])
        ax.set_xticks(x, [labels[r] for r in emotions], rotation=45, ha="right", fontsize=7)
        ax.set_title(f"intended: {labels[i]}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        if k % cols == 0:
            ax.set_ylabel("agreement (1 strongly agree)", fontsize=8)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle(f"Perceived emotions ({res['n_participants']} participants; 95% CI over participants)",
                 fontsize=10)
    return common.save_figure(fig, path)


def confusion_figure(res: dict, labels: dict, path: Path) -> Path:
    from ..eval import common

    emotions = res["emotions"]
    names = [labels[e] for e in emotions]
    fig = common.figure((4.2 * len(SOURCES), 4.0))
    axes = fig.subplots(1, len(SOURCES))
    for ax, s in zip(axes, SOURCES):
        m = np.array(res["confusion"][s], np.float64)
        ax.imshow(np.nan_to_num(m), vmin=0, vmax=1, cmap="Blues")
        for a in range(len(emotions)):
            for b in range(len(emotions)):
                if np.isfinite(m[a, b]):
                    ax.text(b, a, f"{m[a, b]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if m[a, b] > 0.6 else "black")
        ax.set_xticks(range(len(emotions)), names, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(emotions)), names, fontsize=7)
        ax.set_xlabel("perceived (best rated)", fontsize=8)
        ax.set_ylabel("intended", fontsize=8)
        ax.set_title(s, fontsize=9)
    return common.save_figure(fig, path)


def write_outputs(out: Path, res: dict, meta: dict, rows: list[dict], key: dict, rejected: dict,
                  accepted: list[str]) -> Path:
    from .. import report

    out.mkdir(parents=True, exist_ok=True)
    emotions = res["emotions"]
    labels = {e["key"]: e["label"] for e in meta["emotions"]}
    with open(out / "responses_merged.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["participant_id", "trial", "image_id", "source", "intended_emotion", "rated_emotion", "rating",
                    "response_ms"])
        for r in rows:
            w.writerow([r["participant_id"], "" if r["trial"] is None else r["trial"], r["image_id"],
                        key[r["image_id"]][0], key[r["image_id"]][1], r["emotion"], r["rating"], r["response_ms"]])
    fig_agree = agreement_figure(res, labels, out / "figures" / "agreement.png")
    fig_conf = confusion_figure(res, labels, out / "figures" / "confusion.png")
    doc_json = {"created": datetime.datetime.now().isoformat(timespec="seconds"), "study": meta,
                "accepted_files": accepted, "refused_files": rejected, **res}
    (out / "analysis.json").write_text(json.dumps(doc_json, indent=2))

    doc = report.Document()
    doc.heading(1, f"User study: {meta['title']}")
    doc.para(f"Study {meta['study_id']} made {meta['created']} from the {meta['recipe']} run {meta['run']} "
             f"({meta['mode']} mode; real images: {meta['real']}). {res['n_participants']} participants, "
             f"{res['answers']} answers, {len(key)} images ({meta['per_emotion']} real and {meta['per_emotion']} "
             f"generated per emotion). Scale: {meta['scale']}. Confidence intervals: 95%, t over participants, "
             "clipped to the range of the measure.")
    if rejected:
        doc.para("Refused answer files (not counted): " + "; ".join(f"{p}: {', '.join(v[:2])}"
                                                                     for p, v in rejected.items()), kind="missing")
    doc.heading(2, "Perceived emotions (paper 000 Fig. 12)")
    doc.image(str(fig_agree.relative_to(out)), "Mean agreement per intended emotion (panel) and rated emotion; "
              "blue real, orange generated; lower = stronger agreement")
    for s in SOURCES:
        doc.heading(3, f"Mean agreement, {s} images (rows intended, columns rated; mean [95% CI])")
        doc.table(["intended / rated"] + [labels[r] for r in emotions],
                  [[labels[i]] + [_ci_text(res["agreement"][s][i][r]) for r in emotions] for i in emotions])
    doc.heading(2, "Recognition")
    doc.para("Recognised = the intended emotion got the image's best (lowest) rating, ties split; agreed = the "
             "intended emotion was rated 1 or 2. Generated - real: the paired difference of the intended emotion's "
             "mean rating (negative = generated images agree more).")
    rec_rows = []
    for i in emotions + ["all"]:
        name = labels.get(i, "all emotions")
        diff = _ci_text(res["difference_generated_minus_real"][i]) if i != "all" else ""
        rec_rows.append([name] + [_ci_text(res["recognition"][s][i], percent=True) for s in SOURCES] +
                        [_ci_text(res["agreed"][s][i], percent=True) for s in SOURCES] + [diff])
    doc.table(["intended", "recognised (real)", "recognised (generated)", "agreed (real)", "agreed (generated)",
               "generated - real rating"], rec_rows)
    doc.heading(2, "Confusion matrices")
    doc.image(str(fig_conf.relative_to(out)), "Intended (rows) x perceived (columns) emotion per source")
    for s in SOURCES:
        doc.heading(3, f"{s} images")
        m = res["confusion"][s]
        doc.table(["intended / perceived"] + [labels[r] for r in emotions],
                  [[labels[i]] + ["-" if not math.isfinite(v) else f"{v:.2f}" for v in m[a]]
                   for a, i in enumerate(emotions)])
    doc.heading(2, "Images")
    med = res["response_seconds_median"]
    doc.para("Median response time per image: " + ", ".join(f"{s} {med[s]:.1f} s" for s in SOURCES
                                                            if med[s] is not None) + ".")
    doc.table(["image", "source", "intended", "answers", "intended rating", "recognised"],
              [[r["image_id"], r["source"], labels[r["intended"]], r["answers"],
                "-" if r["intended_rating"] is None else f"{r['intended_rating']:.2f}",
                "-" if r["recognition"] is None else f"{100 * r['recognition']:.0f}%"] for r in res["images"]])
    doc.heading(2, "Files")
    doc.items([f"answers: {', '.join(accepted)}", "responses_merged.csv: every answer with its source and intended "
               "emotion", "analysis.json: every number above"])
    (out / "report.md").write_text(report.render_markdown(doc))
    (out / "report.html").write_text(report.render_html(doc, f"User study {meta['study_id']}"))
    return out / "report.md"


def analyze_study(args) -> Path:
    meta, key = read_study(args.study_dir)
    rows, rejected, accepted = load_answers(args.responses, meta, key, args.allow_incomplete, args.skip_bad)
    if rejected:
        print(format_problems(rejected).rsplit("\n", 1)[0] + "\n(--skip-bad: analysing the other files)",
              file=sys.stderr)
    res = analyse(rows, meta, key)
    out = Path(args.output) if args.output else Path(args.study_dir) / "analysis"
    path = write_outputs(out, res, meta, rows, key, rejected, accepted)
    print(f"[study] {res['n_participants']} participants, {res['answers']} answers from {len(accepted)} files; "
          f"report {path}", file=sys.stderr)
    return path
