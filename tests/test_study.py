"""``tfgan-emotion study``: the questionnaire page driven in real headless Chromium with the keyboard
alone, the analysis of the answers it downloads, and the refusal of malformed answer files."""
import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfgan_emotion import cli
from tfgan_emotion.study import analyze as A
from tfgan_emotion.study import make as M
from tfgan_emotion.data import labels as L

FACE_RECIPES = ("cgan_faces", "caae_affectnet", "fexgan_ferg", "dcgan_fer2013", "ganmut_affwild2")


def run_dir(smoke_runs, recipe):
    return smoke_runs.run_dir(recipe)


def make(*argv) -> int:
    return cli.main(["study", "make", *[str(a) for a in argv]])


def analyze(*argv) -> int:
    return cli.main(["study", "analyze", *[str(a) for a in argv]])


def read_key(study):
    with open(study / M.KEY_FILE, newline="") as fh:
        return {r["image_id"]: r for r in csv.DictReader(fh)}


# The answers the tests give, by rule: real images get "strongly agree" (1) for their intended emotion, generated
# ones "agree" (2); real SADNESS images are ALSO rated 1 for disgust (paper 000: real sadness "mistaken for Disgust
# more frequently"), a tie that counts half; every other emotion gets 4 (neutral) or 5.
def rule(source, intended, rated):
    if rated == intended:
        return 1 if source == "real" else 2
    if source == "real" and intended == "sad" and rated == "disgust":
        return 1
    return 4 if rated == "neutral" else 5


def write_answers(path, study, participant, rating=rule, study_id=None, drop=0):
    meta = json.loads((study / M.STUDY_FILE).read_text())
    key = read_key(study)
    rows = []
    for t, (image_id, k) in enumerate(sorted(key.items()), start=1):
        for e in meta["emotions"]:
            rows.append([study_id or meta["study_id"], participant, t, image_id, e["key"],
                         rating(k["source"], k["intended_emotion"], e["key"]), 1000 + t])
    rows = rows[:len(rows) - drop]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(A.COLUMNS)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def faces_study(smoke_runs, tmp_path_factory):
    """Paper 000's design on the cgan_faces smoke run: 6 emotions x 3 real + 3 generated = 36 images."""
    out = tmp_path_factory.mktemp("study") / "faces"
    assert make("--run", run_dir(smoke_runs, "cgan_faces"), "--per-emotion", 3, "-o", out, "--seed", 5) == 0
    return out


# --------------------------------------------------------------------------------------------------------------
# study make
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("recipe", FACE_RECIPES)
def test_make_writes_page_images_and_hidden_key_for_every_face_system(smoke_runs, tmp_path, recipe):
    run = M.open_run(run_dir(smoke_runs, recipe))
    out = tmp_path / recipe
    assert make("--run", run.path, "--per-emotion", 2, "-o", out) == 0
    meta = json.loads((out / M.STUDY_FILE).read_text())
    emotions = [e["key"] for e in meta["emotions"]]
    assert emotions == list(run.info.vocabulary.canonical)  # every emotion the system is conditioned on
    key = read_key(out)
    assert len(key) == 2 * 2 * len(emotions)
    for source in A.SOURCES:
        for e in emotions:
            assert sum(k["source"] == source and k["intended_emotion"] == e for k in key.values()) == 2
    page = out / M.PAGE_DIR
    files = sorted(p.name for p in (page / "images").iterdir())
    assert files == sorted(f"{i}.png" for i in key)
    for i in key:
        with Image.open(page / "images" / f"{i}.png") as im:
            assert im.size == (run.size, run.size)  # real images resized to the generator's size (paper 5.5)
            assert im.mode == ("L" if run.channels == 1 else "RGB")
    # Nothing in the participants' folder tells real from generated or the intended emotion.
    assert sorted(p.name for p in page.iterdir()) == ["images", "index.html"]
    text = (page / "index.html").read_text()
    words = text
    for i in key:  # the random hexadecimal ids can spell a word (one was "iccaaeca666")
        words = words.replace(i, "")
    for word in ("generated", "real", "fake", "synthetic", "intended", "renderer", recipe, run.system):
        assert word not in words.lower(), word
    data = json.loads(text.split('<script id="study-data" type="application/json">')[1].split("</script>")[0])
    assert data["images"] == sorted(key)  # listed sorted by opaque id: the list order says nothing either
    assert data["id"] == meta["study_id"]
    assert [e["key"] for e in data["emotions"]] == emotions


def test_make_generated_images_are_the_runs_outputs(smoke_runs, tmp_path):
    """The stored generated faces are what the exported model gives for the key's request (cGAN: generate(z,
    onehot(e)) with the seed's noise; CAAE: edit(source, v, a) at the emotion's circumplex direction)."""
    from tfgan_emotion.export import load_saved_model

    for recipe in ("cgan_faces", "caae_affectnet"):
        run = M.open_run(run_dir(smoke_runs, recipe))
        out = tmp_path / recipe
        assert make("--run", run.path, "--per-emotion", 1, "-o", out, "--seed", 3) == 0
        key = read_key(out)
        emotions = [e["key"] for e in json.loads((out / M.STUDY_FILE).read_text())["emotions"]]
        model = load_saved_model(run.path)
        endpoint, inputs = M.endpoint_inputs(run, "generate" if recipe == "cgan_faces" else "edit", emotions, 1.0)
        if recipe == "cgan_faces":
            inputs["z"] = np.random.default_rng([3, 0x57]).uniform(-1, 1, (len(emotions), 100)).astype(np.float32)
        else:
            inputs["image"], _ = M.renderer_faces(run, len(emotions), None, 0.0, 0, 3)
            # CAAE targets: intensity x the emotion's direction; neutral (0, 0), happy points to +valence.
            assert inputs["valence"][emotions.index("neutral")] == 0 and inputs["arousal"][emotions.index("neutral")] == 0
            assert inputs["valence"][emotions.index("happy")] > 0.9
        want = getattr(model, endpoint)(**inputs)["image"].numpy()
        gen = {k["intended_emotion"]: i for i, k in key.items() if k["source"] == "generated"}
        for j, e in enumerate(emotions):
            got = np.asarray(Image.open(out / M.PAGE_DIR / "images" / f"{gen[e]}.png"), np.float32) / 127.5 - 1
            assert np.abs(got - want[j]).max() <= 1.5 / 127.5 + 1e-6, (recipe, e)


def test_make_edits_given_source_faces_and_offers_edit_mode(smoke_runs, tmp_path):
    caae = M.open_run(run_dir(smoke_runs, "caae_affectnet"))
    src = tmp_path / "sources"
    src.mkdir()
    for j in range(3):
        Image.fromarray(np.full((70, 50, 3), 60 * j, np.uint8)).save(src / f"face{j}.png")
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "caae"
    assert make("--run", caae.path, "--per-emotion", 1, "--source-dir", src, "-o", out) == 0
    gen = [k for k in read_key(out).values() if k["source"] == "generated"]
    assert len(gen) == 7
    used = sorted(Path(k["origin"].split("; source ")[1]).name for k in gen)
    assert used == sorted([f"face{j % 3}.png" for j in range(7)])  # the 3 faces in turn
    # fer2013 DCGAN: --mode edit transfers the renderer's neutral faces through the inverse encoder.
    out = tmp_path / "dcgan"
    assert make("--run", run_dir(smoke_runs, "dcgan_fer2013"), "--per-emotion", 1, "--mode", "edit", "-o", out) == 0
    assert all(k["origin"].startswith("transfer to") for k in read_key(out).values() if k["source"] == "generated")
    assert json.loads((out / M.STUDY_FILE).read_text())["mode"] == "edit"
    assert make("--run", caae.path, "--mode", "generate", "-o", tmp_path / "x") == 2  # CAAE only edits


def test_make_reads_real_faces_from_emotion_folders(smoke_runs, tmp_path):
    run = M.open_run(run_dir(smoke_runs, "cgan_faces"))
    real = tmp_path / "real"
    names = {"neutral": "neutral", "fear": "fear", "anger": "anger", "sad": "sadness", "disgust": "disgust",
             "happy": "Happy"}  # dataset and canonical spellings, any case
    for k, (canonical, folder) in enumerate(names.items()):
        (real / folder).mkdir(parents=True)
        for j in range(3):
            x = np.full((90, 120, 3), 20 * k + j, np.uint8)  # not square, not the run's size
            Image.fromarray(x).save(real / folder / f"{j}.jpg")
    (real / "contempt").mkdir()  # not one of the study's emotions: left out with a note
    out = tmp_path / "study"
    assert make("--run", run.path, "--per-emotion", 2, "--real-dir", real, "-o", out) == 0
    key = read_key(out)
    reals = [k for k in key.values() if k["source"] == "real"]
    assert len(reals) == 12
    for k in reals:
        origin = Path(k["origin"])
        assert origin.parent.name == names[k["intended_emotion"]]
        with Image.open(out / M.PAGE_DIR / "images" / f"{k['image_id']}.png") as im:
            assert im.size == (run.size, run.size)
            assert np.asarray(im)[0, 0, 0] == 20 * list(names).index(k["intended_emotion"]) + int(origin.stem)
    shutil.rmtree(real / "fear")
    rc = make("--run", run.path, "--real-dir", real, "-o", tmp_path / "study2")
    assert rc == 2


def test_make_reads_real_faces_from_the_faces_release(smoke_runs, tmp_path):
    """--real-dataset faces: FACES file names (<id>_<age>_<gender>_<emotion code>_<set>.jpg), portrait photos."""
    run = M.open_run(run_dir(smoke_runs, "cgan_faces"))
    root = tmp_path / "FACES"
    root.mkdir()
    codes = "nfasdh"  # the FACES order: neutral, fear, anger, sadness, disgust, happiness
    for person in range(3):
        for k, code in enumerate(codes):
            x = np.full((60, 48, 3), 40 * k + person, np.uint8)
            Image.fromarray(x).save(root / f"{person:03d}_y_f_{code}_a.jpg", quality=100)
    out = tmp_path / "study"
    assert make("--run", run.path, "--per-emotion", 2, "--real-dir", root, "--real-dataset", "faces", "-o", out) == 0
    reals = [k for k in read_key(out).values() if k["source"] == "real"]
    assert len(reals) == 12
    for k in reals:
        name = Path(k["origin"].split(": ", 1)[1]).name
        assert codes.index(name.split("_")[3]) == [e for e in L.FACES.canonical].index(
            k["intended_emotion"])
        with Image.open(out / M.PAGE_DIR / "images" / f"{k['image_id']}.png") as im:
            value = np.asarray(im, np.float32)[run.size // 2, run.size // 2, 0]
        assert abs(value - (40 * codes.index(name.split("_")[3]) + int(name[:3]))) <= 3  # JPEG rounding
    assert make("--run", run.path, "--per-emotion", 4, "--real-dir", root, "--real-dataset", "faces",
                "-o", tmp_path / "too_many") == 2  # 3 photos per emotion


def test_make_refuses_bad_requests(smoke_runs, tmp_path, capsys):
    cgan = run_dir(smoke_runs, "cgan_faces")
    assert make("--run", tmp_path, "-o", tmp_path / "a") == 2
    assert "not a run directory" in capsys.readouterr().err
    # A cGAN of Fashion-MNIST has no emotion labels.
    fm = tmp_path / "fm"
    shutil.copytree(cgan, fm)
    cfg = json.loads((fm / "config.json").read_text())
    cfg["recipe"], cfg["config"]["dataset"] = "cgan_fashion_mnist", "fashion_mnist"
    (fm / "config.json").write_text(json.dumps(cfg))
    assert make("--run", fm, "-o", tmp_path / "b") == 2
    assert "does not generate faces with emotion labels" in capsys.readouterr().err
    assert make("--run", cgan, "--emotions", "happy", "contempt", "-o", tmp_path / "c") == 2
    assert "'contempt' is not an emotion" in capsys.readouterr().err
    assert make("--run", cgan, "--source-dir", tmp_path, "-o", tmp_path / "d") == 2
    assert "takes no source faces" in capsys.readouterr().err
    assert make("--run", cgan, "--per-emotion", 1, "-o", tmp_path / "e") == 0
    assert make("--run", cgan, "--per-emotion", 1, "-o", tmp_path / "e") == 2  # would orphan the first page's answers
    assert "already holds a study" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------
# The page in a real browser
# --------------------------------------------------------------------------------------------------------------

CHROMIUM = os.environ.get("TFGAN_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network (no background connections) and a root user in a container.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download). Skipped where either is missing, except
    under TFGAN_REQUIRE_BROWSER=1 (.ci/run sets it after installing Chromium), where that is a failure."""
    required = os.environ.get("TFGAN_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set TFGAN_CHROMIUM)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Participant:
    """One participant at the page, keyboard only; records every non-file request and every script error."""

    def __init__(self, browser, study, downloads):
        self.key = read_key(study)
        self.study = study
        self.downloads = downloads
        self.context = browser.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.errors, self.requests = [], []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("request", lambda r: None if r.url.startswith(("file://", "blob:", "data:"))
                     else self.requests.append(r.url))
        self.open()

    def open(self):
        self.page.goto((self.study / M.PAGE_DIR / "index.html").resolve().as_uri())

    def start(self, pid):
        assert self.page.evaluate("document.activeElement.id") == "participant"
        self.page.keyboard.type(pid)
        self.page.keyboard.press("Enter")

    def progress(self):
        return self.page.inner_text("#progress")

    def current(self):
        src = self.page.get_attribute("#stimulus", "src")
        return Path(src).stem

    def answer(self, rating=rule):
        """Rate every emotion row of the current face by number keys and press Enter; returns the image id."""
        image = self.current()
        k = self.key[image]
        legends = self.page.eval_on_selector_all("#rows fieldset", "fs => fs.map(f => f.dataset.emotion)")
        for e in legends:
            self.page.keyboard.press(str(rating(k["source"], k["intended_emotion"], e)))
        self.page.keyboard.press("Enter")
        return image

    def download(self):
        assert self.page.evaluate("document.activeElement.id") == "download"
        with self.page.expect_download() as d:
            self.page.keyboard.press("Enter")
        target = self.downloads / d.value.suggested_filename
        d.value.save_as(target)
        return target

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def answered(browser, faces_study, tmp_path_factory):
    """Two participants answer the whole faces study in the browser; returns their downloaded CSV files and what
    the tests saw on the way."""
    downloads = tmp_path_factory.mktemp("downloads")
    seen = {}
    files = []
    for pid in ("p01", "p02"):
        who = Participant(browser, faces_study, downloads)
        order = []
        if pid == "p01":
            # Accessibility: every control has a label, every group a legend; the image alt text reveals nothing.
            who.start("bad id!")
            seen["bad_id_error"] = who.page.inner_text("#start-error")
            who.page.keyboard.press("Control+A")
            who.start("p01")
            seen["a11y"] = who.page.evaluate("""() => ({
                radios: document.querySelectorAll('input[type=radio]').length,
                unlabelled: [...document.querySelectorAll('input')].filter(i => !i.labels.length).length,
                fieldsets: document.querySelectorAll('#rows fieldset').length,
                legends: document.querySelectorAll('#rows fieldset > legend').length,
                external: document.querySelectorAll('script[src], link[href], iframe, object').length,
                alt: document.getElementById('stimulus').alt,
                focused: document.activeElement.name})""")
            # Enter with nothing answered: stays on the face and says what is missing.
            who.page.keyboard.press("Enter")
            seen["missing_error"] = who.page.inner_text("#trial-error")
            seen["missing_progress"] = who.progress()
            for _ in range(10):
                order.append(who.answer())
            # A crash or a closed tab loses nothing: the same id continues at face 11.
            who.open()
            who.start("p01")
            seen["resumed_progress"] = who.progress()
        else:
            who.start(pid)
        while not who.page.is_visible("#done-screen"):
            order.append(who.answer())
        files.append(who.download())
        seen[pid] = {"order": order, "errors": who.errors, "requests": who.requests}
        who.close()
    return files, seen


def test_page_is_accessible_and_answered_with_the_keyboard_alone(answered, faces_study):
    files, seen = answered
    a = seen["a11y"]
    assert a["radios"] == 6 * 5 and a["unlabelled"] == 0
    assert a["fieldsets"] == 6 and a["legends"] == 6
    assert a["external"] == 0
    assert a["alt"] == "Face 1 of 36"
    assert a["focused"] == "emotion-0"  # the first question has the focus: number keys answer at once
    assert "participant ID" in seen["bad_id_error"]
    assert "Still to answer: Neutral, Fear, Anger, Sadness, Disgust, Happiness" in seen["missing_error"]
    assert seen["missing_progress"] == "Face 1 of 36"
    assert seen["resumed_progress"] == "Face 11 of 36"
    for pid in ("p01", "p02"):
        assert seen[pid]["errors"] == [] and seen[pid]["requests"] == []  # offline from file://, no script errors
        assert sorted(seen[pid]["order"]) == sorted(read_key(faces_study))  # every image exactly once
    # Each participant has an own random order (and neither is the listed, sorted order).
    assert seen["p01"]["order"] != seen["p02"]["order"]
    assert seen["p01"]["order"] != sorted(seen["p01"]["order"])


def test_downloaded_answers_hold_every_rating(answered, faces_study):
    files, seen = answered
    meta = json.loads((faces_study / M.STUDY_FILE).read_text())
    key = read_key(faces_study)
    for path, pid in zip(files, ("p01", "p02")):
        assert path.name == f"answers-{meta['study_id']}-{pid}.csv"
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert tuple(rows[0]) == A.COLUMNS
        assert len(rows) == 36 * 6
        assert {r["participant_id"] for r in rows} == {pid}
        assert [rows[6 * t]["image_id"] for t in range(36)] == seen[pid]["order"]
        assert [int(r["trial"]) for r in rows[::6]] == list(range(1, 37))
        for r in rows:
            k = key[r["image_id"]]
            assert int(r["rating"]) == rule(k["source"], k["intended_emotion"], r["emotion"])
            assert float(r["response_ms"]) >= 0


def test_analysis_of_the_browser_answers_gives_the_expected_table(answered, faces_study, tmp_path):
    files, _ = answered
    out = tmp_path / "analysis"
    assert analyze(faces_study, *files, "-o", out) == 0
    res = json.loads((out / "analysis.json").read_text())
    emotions = res["emotions"]
    assert res["n_participants"] == 2 and res["answers"] == 2 * 36 * 6
    for s in A.SOURCES:
        for i in emotions:
            for r in emotions:
                c = res["agreement"][s][i][r]
                assert c["n"] == 2 and c["mean"] == rule(s, i, r), (s, i, r)
                assert c["low"] == c["mean"] == c["high"]  # both answered alike: a zero-width interval
    # Recognition: everything but real sadness, which ties with disgust and counts half.
    for i in emotions:
        assert res["recognition"]["generated"][i]["mean"] == 1.0
        assert res["recognition"]["real"][i]["mean"] == (0.5 if i == "sad" else 1.0)
        assert res["agreed"]["real"][i]["mean"] == res["agreed"]["generated"][i]["mean"] == 1.0
        assert res["difference_generated_minus_real"][i]["mean"] == 1.0
    assert res["recognition"]["real"]["all"]["mean"] == pytest.approx(1 - 0.5 / 6)
    conf = {s: np.array(res["confusion"][s]) for s in A.SOURCES}
    np.testing.assert_allclose(conf["generated"], np.eye(6))
    want = np.eye(6)
    sad, disgust = emotions.index("sad"), emotions.index("disgust")
    want[sad, sad] = want[sad, disgust] = 0.5
    np.testing.assert_allclose(conf["real"], want)
    md = (out / "report.md").read_text()
    assert "figures/agreement.png" in md and "figures/confusion.png" in md
    assert "| Sadness | 0.00 | 0.00 | 0.00 | 0.50 | 0.50 | 0.00 |" in md  # the real images' confusion row
    assert (out / "figures" / "agreement.png").stat().st_size > 0 and (out / "report.html").exists()
    with open(out / "responses_merged.csv", newline="") as fh:
        merged = list(csv.DictReader(fh))
    assert len(merged) == 2 * 36 * 6 and {m["source"] for m in merged} == set(A.SOURCES)


# --------------------------------------------------------------------------------------------------------------
# study analyze: statistics and refusals (answer files written here)
# --------------------------------------------------------------------------------------------------------------

def test_analysis_statistics_by_hand(faces_study, tmp_path):
    """Random ratings from 5 participants: every agreement cell is the mean over participants of each participant's
    mean over the cell's images, with a t interval; recognition splits ties."""
    from scipy import stats

    rng = np.random.default_rng(0)
    key = read_key(faces_study)
    meta = json.loads((faces_study / M.STUDY_FILE).read_text())
    emotions = [e["key"] for e in meta["emotions"]]
    ratings = {}
    files = []
    for p in range(5):
        rows = []
        for t, image_id in enumerate(sorted(key), start=1):
            for e in emotions:
                v = int(rng.integers(1, 6))
                ratings[(p, image_id, e)] = v
                rows.append([meta["study_id"], f"q{p}", t, image_id, e, v, 500])
        path = tmp_path / f"q{p}.csv"
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(A.COLUMNS)
            w.writerows(rows)
        files.append(path)
    assert analyze(faces_study, *files, "-o", tmp_path / "out") == 0
    res = json.loads((tmp_path / "out" / "analysis.json").read_text())
    s, i, r = "generated", "fear", "anger"
    images = [k for k, v in key.items() if v["source"] == s and v["intended_emotion"] == i]
    per = np.array([np.mean([ratings[(p, im, r)] for im in images]) for p in range(5)])
    half = stats.t.ppf(0.975, 4) * per.std(ddof=1) / np.sqrt(5)
    c = res["agreement"][s][i][r]
    assert c["mean"] == pytest.approx(per.mean()) and c["high"] == pytest.approx(per.mean() + half)
    # Recognition with ties, by hand for one cell.
    credit = []
    for p in range(5):
        cp = []
        for im in images:
            row = np.array([ratings[(p, im, e)] for e in emotions])
            best = row == row.min()
            cp.append(best[emotions.index(i)] / best.sum())
        credit.append(np.mean(cp))
    assert res["recognition"][s][i]["mean"] == pytest.approx(np.mean(credit))
    for src in A.SOURCES:
        np.testing.assert_allclose(np.array(res["confusion"][src]).sum(axis=1), 1.0)


def test_analysis_refuses_malformed_and_duplicate_files(faces_study, tmp_path, capsys):
    good = write_answers(tmp_path / "good.csv", faces_study, "p1")
    key = sorted(read_key(faces_study))

    def edited(name, fn):
        lines = good.read_text().splitlines()
        lines = fn(lines)
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        return path

    cases = {
        edited("header.csv", lambda ls: ["who,what,score"] + ls[1:]): "the header lacks participant_id",
        edited("rating.csv", lambda ls: ls[:5] + [ls[5].rsplit(",", 2)[0] + ",7,1000"] + ls[6:]):
            "line 6: rating '7' is not an integer from 1",
        edited("image.csv", lambda ls: ls[:3] + [ls[3].replace(key[0], "i0000000000")] + ls[4:]):
            "line 4: unknown image id 'i0000000000'",
        edited("emotion.csv", lambda ls: ls[:1] + [ls[1].replace(",neutral,", ",bored,")] + ls[2:]):
            "line 2: emotion 'bored' is not one of",
        edited("twice.csv", lambda ls: ls + [ls[1]]): "answered again (first on line 2)",
        edited("fields.csv", lambda ls: ls[:2] + [ls[2] + ",extra"] + ls[3:]): "line 3: 8 fields, the header has 7",
        edited("time.csv", lambda ls: ls[:2] + [ls[2].rsplit(",", 1)[0] + ",-5"] + ls[3:]):
            "response time '-5' is not a number",
        write_answers(tmp_path / "short.csv", faces_study, "p9", drop=6): "incomplete: 210 of 216 answers",
        write_answers(tmp_path / "other.csv", faces_study, "p8", study_id="0123456789ab"):
            "is not this study's",
        edited("two.csv", lambda ls: ls[:2] + [ls[2].replace(",p1,", ",p2,")] + ls[3:]):
            "more than one participant id in one file",
        edited("empty.csv", lambda ls: []): "empty file",
    }
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    cases[tmp_path / "binary.csv"] = "not a UTF-8 text file"
    for path, message in cases.items():
        assert analyze(faces_study, good, path, "-o", tmp_path / "never") == 2, path.name
        err = capsys.readouterr().err
        assert str(path) in err and message in err, (path.name, err)
        assert "--skip-bad" in err
    assert not (tmp_path / "never").exists()  # nothing written when a file is refused

    # Duplicates across files: the same answers, or another file of the same participant.
    copy = tmp_path / "copy.csv"
    shutil.copy(good, copy)
    assert analyze(faces_study, good, copy) == 2
    assert "duplicate: the same answers as" in capsys.readouterr().err
    again = write_answers(tmp_path / "again.csv", faces_study, "p1", rating=lambda s, i, r: 3)
    assert analyze(faces_study, good, again) == 2
    assert "duplicate participant id 'p1'" in capsys.readouterr().err

    # --skip-bad: the good files are analysed and the refused ones are listed in the report.
    other = write_answers(tmp_path / "p2.csv", faces_study, "p2")
    out = tmp_path / "skip"
    assert analyze(faces_study, good, other, tmp_path / "rating.csv", "--skip-bad", "-o", out) == 0
    res = json.loads((out / "analysis.json").read_text())
    assert res["n_participants"] == 2 and list(res["refused_files"]) == [str(tmp_path / "rating.csv")]
    assert "rating.csv" in (out / "report.md").read_text()
    # --allow-incomplete keeps a partial file.
    assert analyze(faces_study, tmp_path / "short.csv", "--allow-incomplete", "-o", tmp_path / "inc") == 0
    assert analyze(tmp_path, good) == 2
    assert "is not a study folder" in capsys.readouterr().err


def test_mean_ci_is_a_t_interval_clipped_to_the_scale():
    from scipy import stats

    v = [1.0, 1.0, 1.0, 2.0]
    half = stats.t.ppf(0.975, 3) * np.std(v, ddof=1) / 2.0
    c = A.mean_ci(v)
    assert c["n"] == 4 and c["mean"] == 1.25 and c["low"] == pytest.approx(1.25 - half)
    assert A.mean_ci(v, A.SCALE)["low"] == 1.0  # a rating cannot be below 1 (strongly agree)
    assert A.mean_ci([3.0]) == {"mean": 3.0, "low": None, "high": None, "n": 1}
    assert A.mean_ci([])["mean"] is None


def test_study_without_subcommand_says_what_to_do(capsys):
    assert cli.main(["study"]) == 2
    assert "make, analyze" in capsys.readouterr().err
