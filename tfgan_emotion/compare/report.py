"""The comparison's table, figure and report."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .protocol import COLUMN_TITLES, COLUMNS, COMMON, GALLERY, SYSTEMS

# --------------------------------------------------------------------------------------------------------------
# The table, the figure and the report
# --------------------------------------------------------------------------------------------------------------

NA_REASONS = {
    "categorical": "categorical control (a class, no valence/arousal request): the protocol scores categorical systems by "
                   "category accuracy",
    "generator": "not an editing model: it draws faces from z, so there is no input identity to preserve",
    "no_intensity": "no continuous control: the fer2013 DCGAN takes a class index, there is no intensity to sweep",
    "no_rise": "no sweep raises the measured intensity toward its emotion (paper 002's score is undefined)",
}


def table_cells(recipe: str, res: dict, budget: dict) -> dict:
    """{column: {"value": number or {"valence", "arousal"}} or {"na": reason key}} for one system."""
    spec = SYSTEMS[recipe]
    cells = {}
    if "va" in res:
        for col, key in (("va_ccc", "ccc"), ("va_rmse", "rmse"), ("va_sagr", "sagr")):
            cells[col] = {"value": {d: res["va"][d][key] for d in ("valence", "arousal")}}
    else:
        for col in ("va_ccc", "va_rmse", "va_sagr"):
            cells[col] = {"na": "categorical"}
    cells["category_accuracy"] = {"value": res["category_accuracy"]}
    cells["identity_top1"] = {"value": res["identity_top1"]} if spec.compare.editing else {"na": "generator"}
    cells["frechet_distance"] = {"value": res["frechet_distance"]}
    if spec.compare.smoothness == "no":
        cells["smoothness"] = {"na": "no_intensity"}
    elif not math.isfinite(res["smoothness"]["score"]):
        cells["smoothness"] = {"na": "no_rise"}
    else:
        cells["smoothness"] = {"value": res["smoothness"]["score"], "marked": spec.compare.smoothness == "marked",
                               "rising": f"{res['smoothness']['rising']}/{res['smoothness']['emotions']}"}
    cells["budget_images"] = {"value": budget["images"]}
    return cells


def _fmt(x, digits=3) -> str:
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    return "nan" if not math.isfinite(x) else f"{x:.{digits}g}" if abs(x) >= 100 else f"{x:.{digits}f}"


def cell_text(col: str, cell: dict, footnotes: list) -> str:
    if "na" in cell:
        key = cell["na"]
        if key not in footnotes:
            footnotes.append(key)
        return f"n/a [{footnotes.index(key) + 1}]"
    v = cell["value"]
    if isinstance(v, dict):
        return f"{_fmt(v['valence'])} / {_fmt(v['arousal'])}"
    text = _fmt(v) if col != "budget_images" else f"{int(v):,}"
    if col == "smoothness":
        text += f" ({cell['rising']} rise)" + (" †" if cell.get("marked") else "")
    return text


def save_figure(results: dict, path: Path) -> Path:
    """Rows: per system the truth (its domain) and the system; columns: the source, then the 6 classes at t = 1."""
    import tensorflow as tf

    from ..eval import common

    rows, titles = [], []

    def display(x):
        x = np.asarray(x, np.float32)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, -1)
        return tf.image.resize(x, (64, 64), method="bilinear").numpy()

    for recipe, res in results.items():
        f = res["_figure"]
        gen_src = f["source"] if SYSTEMS[recipe].compare.editing else np.zeros_like(f["source"])
        rows.append(display(np.concatenate([f["source"][None], f["truth"]])))
        titles.append(f"truth ({res['domain']['style']})")
        rows.append(display(np.concatenate([gen_src[None], f["generated"]])))
        titles.append(SYSTEMS[recipe].title.split(" (")[0].replace("label-interp. ", ""))
    fig = common.figure((1.3 * 7 + 2.0, 1.25 * len(rows) + 0.6))
    common.show_image_rows(fig, np.stack(rows), col_titles=["source"] + list(COMMON.names), row_titles=titles,
                           title="The same identities edited to each FACES emotion (t = 1); cGAN: one z per row")
    return common.save_figure(fig, path)


def write_report(out: Path, doc_json: dict) -> Path:
    from .. import report

    systems = doc_json["systems"]
    footnotes: list = []
    header = ["system", "control"] + [COLUMN_TITLES[c] for c in COLUMNS]
    rows = [[SYSTEMS[r].title, SYSTEMS[r].compare.control] + [cell_text(c, doc_json["table"][r][c], footnotes)
                                                        for c in COLUMNS] for r in systems]
    doc = report.Document()
    doc.heading(1, "Five systems compared on the synthetic faces' ground truth")
    smoke = "SMOKE RUN: a few steps per system, the numbers mean nothing. " if doc_json["smoke"] else ""
    doc.para(f"{doc_json['created']}; {smoke}budget {doc_json['budget_text']}. "
             f"Command: {' '.join(doc_json['command'])}")
    doc.heading(2, "Results")
    doc.table(header, rows)
    notes = [f"[{i + 1}] {NA_REASONS[k]}" for i, k in enumerate(footnotes)]
    notes += [f"† {SYSTEMS[r].compare.marked_because}" for r in systems if SYSTEMS[r].compare.smoothness == "marked"]
    fd_n = sorted({doc_json["results"][r]["frechet_samples"] for r in systems})
    fd_dim = doc_json["results"][systems[0]]["feature_dim"]
    notes.append(f"FD: {'/'.join(str(n) for n in fd_n)} faces per side in {fd_dim}-D features, so it is biased "
                 "upward by the small sample and only comparable between the rows of this table (each against the "
                 "truth of its own domain), not with published FID/FED values.")
    notes.append("Read identity top-1 together with category accuracy: an editor that returned its input unchanged "
                 "would keep the identity and score 1/6 on categories. The identification compares grey 48x48 "
                 "features, so outline, hair and tones already carry much of it, even in blurry edits.")
    notes.append("Higher is better for CCC, SAGR, accuracy and identity top-1; lower for RMSE, FD and smoothness "
                 "(a linear ramp scores 1/9, a single jump 1). 'k/5 rise': emotions whose measured-intensity curve "
                 "rises from t = 0.1 to 1.0; the score averages those.")
    doc.items(notes, "notes")
    doc.heading(2, "Budget")
    bud = doc_json["budget"]
    doc.table(["system", "recipe", "resolution", "precision", "steps", "images/step", "images seen", "training s",
               "wall s", "run"],
              [[SYSTEMS[r].title, r, bud[r]["resolution"], bud[r]["precision"], bud[r]["steps"],
                bud[r]["images_per_step"], f"{bud[r]['images']:,}",
                "-" if bud[r]["training_seconds"] is None else bud[r]["training_seconds"],
                "-" if bud[r]["wall_seconds"] is None else bud[r]["wall_seconds"], bud[r]["run_dir"]]
               for r in systems])
    doc.items(doc_json["budget_notes"])
    doc.heading(2, "The measuring stick: the shared evaluation network")
    ev = doc_json["evaluator"]
    doc.para(f"{ev['architecture']}; trained on {ev['training_images']:,} renders ({ev['identity_classes']} training "
             f"identities, nuisance on) in {ev['seconds']} s; on its training renders VA RMSE "
             f"{ev['train_va_rmse']:.3f}, identity accuracy {ev['train_identity_accuracy']:.3f}. Below, per "
             "system domain (held-out identities): 'perfect editor' = the truth renders of every request, i.e. the "
             "best any system can score here; 'with nuisance' = the same faces rendered with pose, light, blur and "
             "noise (how well the network generalises); smoothness of the renderer's own sweeps (ideal 1/9).")

    def quality_row(r):
        q, d = doc_json["results"][r]["evaluator_quality"], doc_json["results"][r]["domain"]
        return [f"{SYSTEMS[r].title} {d['size']}px {d['style']}",
                f"{_fmt(q['truth_va_ccc']['valence'])} / {_fmt(q['truth_va_ccc']['arousal'])}",
                _fmt(q["truth_category_accuracy"]),
                f"{_fmt(q['va']['valence']['ccc'])} / {_fmt(q['va']['arousal']['ccc'])}",
                _fmt(q["category_accuracy"]), _fmt(q["identity_top1"]),
                _fmt(doc_json["results"][r]["identity_chance"]), _fmt(q["smoothness_truth"])]

    doc.table(["domain (system)", "perfect editor: VA CCC (v / a)", "perfect editor: category acc.",
               "with nuisance: VA CCC (v / a)", "with nuisance: category acc.", "with nuisance: identity top-1",
               "chance", "truth smoothness"], [quality_row(r) for r in systems])
    doc.heading(2, "Details")
    det = []
    for r in systems:
        res = doc_json["results"][r]
        line = (f"{SYSTEMS[r].title}: {res['requests']} requests ({res['requests_t1']} at t = 1) on "
                f"{res['identities']} held-out identities; category accuracy per class "
                + ", ".join(f"{k} {_fmt(v, 2)}" for k, v in res["category_accuracy_per_class"].items()))
        if "cosine_source_edit" in res:
            line += (f"; feature cosine source-edit {_fmt(res['cosine_source_edit'])} (source-truth "
                     f"{_fmt(res['cosine_source_truth'])}); identification chance {_fmt(res['identity_chance'])}")
        if "smoothness" in res:
            line += "; smoothness per emotion " + ", ".join(f"{k} {_fmt(v, 2)}" for k, v in
                                                            res["smoothness"]["per_emotion"].items())
        det.append(line)
    doc.items(det)
    doc.heading(2, "Protocol")
    doc.items(doc_json["protocol"])
    doc.image("figures/edits.png", "Rows: the renderer's truth in each system's domain, then the system; columns: "
              "the source face and the six FACES emotions at full intensity")
    md = out / "compare.md"
    md.write_text(report.render_markdown(doc))
    (out / "compare.html").write_text(report.render_html(doc, "tfgan-emotion compare"))
    return md


PROTOCOL = [
    "Classes: the 6 FACES emotions (neutral, fear, anger, sadness, disgust, happiness), every vocabulary's common "
    "subset, mapped to each system's class index by canonical name (labels.Vocabulary.index).",
    "Request (identity, class c, intensity t): requested (valence, arousal) = t x the class's circumplex direction "
    "(labels.CIRCUMPLEX_DEGREES; what labels.va_from_category gives at radius t), neutral = (0, 0). Continuous "
    "systems get neutral plus the 5 emotions at each intensity of --intensities (1.0 always included); categorical "
    "systems neutral plus the 5 emotions at t = 1.",
    "Controls: CAAE edit(v, a); GANmut edit_emotion(c in AffectNet order, rho = t); label-interpolation cGAN "
    "generate(z, (1-t) onehot(neutral) + t onehot(c)) (paper 000's neutral -> emotion interpolation; its 5.1 VA "
    "targeting addresses one dimension at a time, so it is not used for 2-D requests), one fixed z ~ U(-1, 1) per "
    "identity slot; FExGAN transfer(x, (1-t) onehot(neutral) + t onehot(c)) in FERG order; fer2013 DCGAN "
    "transfer(x, c in fer2013 order).",
    "Source faces: held-out identities (the stand-ins' test identity range, never trained on) rendered neutral in the "
    "canonical pose without nuisance, at each system's own size/channels and stand-in style (FExGAN: the FERG "
    "characters, which are the only 6 identities of its stand-in and are seen in its training; cGAN: the FACES "
    "studio style). Truth: the renderer's face of the same identity and style at the requested (valence, arousal).",
    "Shared evaluation network: every image converted to 48x48 grey (luminance, area resize); one CNN "
    "(eval/common.build_classifier) with a linear (valence, arousal) head and an identity head, trained with "
    "10 x MSE + cross-entropy on renders of all five domains (training identities, nuisance on, (valence, arousal) "
    "15% near neutral, else uniform angle, radius U(0.1, 1)); cached in OUT/evaluator and reused when its settings "
    "match.",
    "VA CCC / RMSE / SAGR: requested vs measured (the head's raw output) over all requests of a continuous system; "
    "SAGR leaves out requested zeros (neutral: no sign to agree with).",
    "Category accuracy: labels.category_from_va(measured, FACES) equals the requested class, on the t = 1 requests "
    "(every class once per identity), for every system.",
    f"Identity preservation: top-1 identification of each t = 1 edit among the truth renders of the {GALLERY} "
    "identities of its gallery (consecutive held-out identities) showing the same request, by cosine similarity of "
    "the evaluation network's fc1 features (chance = 1 / gallery size); editing systems only.",
    "FD: Frechet distance (eval/metrics.frechet_distance) between fc1 features of the generated faces and of the "
    "truth renders of the same t = 1 requests.",
    "Smoothness: paper 002's score (eval/metrics.smoothness) of the measured intensity toward the requested "
    "emotion (projection of the measured (v, a) on its direction), averaged over identities at t = 0.1 .. 1.0, one "
    "curve per emotion, averaged over the emotions whose curve rises (the count is shown).",
    "Budget: one number of training images for every system; steps = ceil(budget / images per step) with images "
    "per step = the recipe's default batch (GANmut: 5 critic batches of 16 = 80 per generator step; FExGAN: 32 "
    "source/target pairs; fer2013 DCGAN: its steps split between the cDCGAN and encoder phases as in its synthetic "
    "default, 1,000 of 3,800). Each recipe runs with its synthetic defaults plus --steps, --skip-eval, in its own "
    "process.",
]

