"""Fault battery: every benchmark's good predictions, corrupted one way at a time.

Good predictions are the GT of a tiny synthetic suite written in each prediction layout
(scores 100). Each case corrupts a copy and runs ``univs-bench evaluate`` in process. The
expected outcome follows ../shared/PROTOCOLS.md: an error (exit 2, one line on stderr naming
the culprit, no traceback, no ``--out`` file) or a number (exit 0, ``--out`` written, with the
one-line warning where the input is probably not what was meant).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from gt_predictions import gt_as_prediction
from PIL import Image

from univs_bench.cli import main
from univs_bench.synthetic import SynthConfig, gt_path, write_suite

PNG_BENCHES = ["vspw", "vipseg", "davis17", "ytvos18", "mose", "refytvos", "refdavis17", "viposeg"]
JSON_BENCHES = ["ytvis19", "ytvis21", "ovis", "burst"]
ALL = JSON_BENCHES + PNG_BENCHES
TASK = {"burst": ["--task", "class_guided"]}


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def no_hang():
    """Fail a case that blocks (e.g. opening a FIFO) instead of hanging the suite. A loop inside
    C code (pycocotools on bad RLE) cannot be interrupted: those cases also run in a subprocess
    with a timeout below."""
    import signal

    class Blocked(BaseException):  # not an OSError: no reader's except clause swallows it
        pass

    def fail(*_):
        raise Blocked("blocked for 60 s")
    old = signal.signal(signal.SIGALRM, fail)
    signal.setitimer(signal.ITIMER_REAL, 60, 5)  # and again every 5 s should one be caught
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    write_suite(root / "s", cfg=SynthConfig(seed=7, videos=2, frames=9, size=(32, 48)))
    good = root / "good"
    for b in ALL:
        gt_as_prediction(b, gt_path(root / "s", b), good / b, burst_name="results.json")
    return root


def _png(path):
    with Image.open(path) as im:
        return np.array(im)


def evaluate(bench, gt, pred, out, capsys, *extra):
    rc = main(["evaluate", bench, "--gt", str(gt), "--pred", str(pred), "--out", str(out)]
              + TASK.get(bench, []) + list(extra))
    return rc, capsys.readouterr().err


def assert_error(rc, err, out, *culprits):
    """Exit 2, one line on stderr naming every culprit, no traceback, nothing written."""
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], err
    assert "Traceback" not in err
    for c in culprits:
        assert str(c) in err, (c, err)
    assert not Path(out).exists()


def assert_scored(rc, err, out, warning=None):
    assert rc == 0, err
    assert Path(out).is_file()
    if warning is None:
        assert "warning" not in err, err
    else:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "warning:" in lines[0] and warning in lines[0], err
    return json.loads(Path(out).read_text())["metrics"]


def _pred_copy(suite, bench, tmp_path) -> Path:
    dst = tmp_path / "pred"
    shutil.copytree(suite / "good" / bench, dst)
    return dst


def _pred_arg(bench, pred: Path) -> Path:
    return pred / "results.json" if bench in JSON_BENCHES else pred


def _video_dirs(bench, pred: Path) -> Path:
    """The folder whose sub-folders are videos."""
    return {"vipseg": pred / "pan_pred", "refytvos": pred / "Annotations",
            "refdavis17": pred / "anno_0"}.get(bench, pred)


def _frame(bench, pred: Path) -> Path:
    """A prediction frame that the evaluator reads (the middle frame of the first video)."""
    first = sorted(d for d in _video_dirs(bench, pred).iterdir() if d.is_dir())[0]
    if bench == "refytvos":
        first = sorted(d for d in first.iterdir() if d.is_dir())[0]
    frames = sorted(first.glob("*.png"))
    return frames[len(frames) // 2]


# --------------------------------------------------------------------------- the good case
@pytest.mark.parametrize("bench", ALL)
def test_good_predictions_score_100(suite, tmp_path, capsys, bench):
    pred = _pred_copy(suite, bench, tmp_path)
    rc, err = evaluate(bench, gt_path(suite / "s", bench), _pred_arg(bench, pred), tmp_path / "o.json", capsys)
    metrics = assert_scored(rc, err, tmp_path / "o.json")
    from univs_bench.benchmarks import get_benchmark
    head = get_benchmark(bench).metrics_for("class_guided" if bench == "burst" else None)[0]
    assert metrics[head] == pytest.approx(100.0)


# --------------------------------------------------------------------------- PNG benchmarks
def _bomb(path: Path) -> None:
    """A PNG whose header claims 20000x20000 (a few hundred bytes on disk)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    w = h = 20000
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1))
            + chunk(b"IDAT", zlib.compress(b"\0" * (w + 1) * 4)) + chunk(b"IEND", b""))
    path.write_bytes(data)


def _rgb(path: Path) -> None:
    a = _png(path)
    Image.fromarray(np.stack([a, a, a], -1).astype(np.uint8), mode="RGB").save(path)


def _palette(path: Path) -> None:  # vipseg: a palette PNG where RGB ids are expected
    a = _png(path)
    Image.fromarray((a[..., 0] if a.ndim == 3 else a).astype(np.uint8), mode="P").save(path)


def _resize(path: Path) -> None:
    a = _png(path)
    Image.fromarray(np.resize(a, (a.shape[0] + 2, a.shape[1]) + a.shape[2:]).astype(a.dtype)).save(path)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:70])


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _dangling(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent / "no_such_frame.png")


def _high_id(path: Path) -> None:
    a = _png(path)
    if a.ndim == 3:  # vipseg: a segment id that pred.json does not list
        a = a.copy()
        a[0, 0] = (201, 0, 0)
        Image.fromarray(a.astype(np.uint8), mode="RGB").save(path)
        return
    a = a.copy()
    a[0, 0] = 200
    im = Image.fromarray(a.astype(np.uint8), mode="P")
    im.putpalette(list(range(256)) * 3)
    im.save(path)


# (mutation, outcome per benchmark): "error" names the frame; "ok" scores silently
FRAME_FAULTS = {
    "truncated": (_truncate, {}),
    "bomb_header": (_bomb, {}),
    "wrong_size": (_resize, {}),
    "wrong_mode": (lambda p: None, {}),  # replaced per benchmark below
    "fifo": (_fifo, {}),
    "folder": (_folder, {}),
    "dangling_link": (_dangling, {}),
    "missing": (lambda p: p.unlink(), {}),
    # PROTOCOLS.md: viposeg ignores ids that are not objects; refytvos takes non-zero as foreground
    "id_out_of_range": (_high_id, {"viposeg": "ok", "refytvos": "ok"}),
}
_FRAME_WORDS = {"truncated": "cannot", "bomb_header": "20000x20000", "wrong_size": "differs from GT",
                "wrong_mode": "image", "fifo": "named pipe", "folder": "a folder",
                "dangling_link": "dangling symbolic link", "missing": None, "id_out_of_range": None}


@pytest.mark.parametrize("fault", list(FRAME_FAULTS))
@pytest.mark.parametrize("bench", PNG_BENCHES)
def test_png_frame_faults(suite, tmp_path, capsys, bench, fault):
    pred = _pred_copy(suite, bench, tmp_path)
    frame = _frame(bench, pred)
    mutate, outcome = FRAME_FAULTS[fault]
    if fault == "wrong_mode":
        mutate = _palette if bench == "vipseg" else _rgb
        if bench == "viposeg":  # RGB reaches the 8-bit check: an error too
            mutate = _rgb
    mutate(frame)
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, gt_path(suite / "s", bench), pred, out, capsys)
    if outcome.get(bench) == "ok":
        assert_scored(rc, err, out)
        return
    culprit = frame
    if fault == "missing" and bench == "viposeg":  # paired by position: the count is wrong
        culprit = frame.parent
    words = [_FRAME_WORDS[fault]] if _FRAME_WORDS[fault] else []
    if bench == "viposeg" and fault == "missing":
        words = ["prediction files"]
    assert_error(rc, err, out, culprit, *words)


def _video_of(bench, pred):
    return sorted(d for d in _video_dirs(bench, pred).iterdir() if d.is_dir())[0]


@pytest.mark.parametrize("bench", PNG_BENCHES)
def test_png_missing_video(suite, tmp_path, capsys, bench):
    pred = _pred_copy(suite, bench, tmp_path)
    video = _video_of(bench, pred)
    shutil.rmtree(video)
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, gt_path(suite / "s", bench), pred, out, capsys)
    assert_error(rc, err, out, video.name)


@pytest.mark.parametrize("bench", PNG_BENCHES)
def test_png_extra_video(suite, tmp_path, capsys, bench):
    """An extra video folder: ignored with a warning where the official reader goes by GT video
    name; an error for VIPOSeg, whose official script pairs folders by position."""
    pred = _pred_copy(suite, bench, tmp_path)
    video = _video_of(bench, pred)
    shutil.copytree(video, video.parent / "zz_not_a_gt_video")
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, gt_path(suite / "s", bench), pred, out, capsys)
    if bench == "viposeg":
        assert_error(rc, err, out, "zz_not_a_gt_video")
    elif bench == "vipseg":  # videos come from pred.json, the extra PNG folder is never read
        assert_scored(rc, err, out)
    else:
        assert assert_scored(rc, err, out, warning="zz_not_a_gt_video")


@pytest.mark.parametrize("bench", PNG_BENCHES)
def test_png_extra_frame(suite, tmp_path, capsys, bench):
    """A frame the GT does not have: never read where frames go by GT name; VIPOSeg pairs
    frames by sorted position, so the count is wrong there."""
    pred = _pred_copy(suite, bench, tmp_path)
    frame = _frame(bench, pred)
    shutil.copy(frame, frame.parent / "99999.png")
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, gt_path(suite / "s", bench), pred, out, capsys)
    if bench == "viposeg":
        assert_error(rc, err, out, frame.parent, "prediction files")
    else:
        assert_scored(rc, err, out)


@pytest.mark.parametrize("bench", [b for b in PNG_BENCHES if b != "vipseg"])
def test_png_predictions_of_another_dataset(suite, tmp_path, capsys, bench):
    pred = _pred_copy(suite, bench, tmp_path)
    for d in sorted(x for x in _video_dirs(bench, pred).iterdir() if x.is_dir()):
        d.rename(d.with_name("other_" + d.name))
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, gt_path(suite / "s", bench), pred, out, capsys)
    assert_error(rc, err, out, "other_")


@pytest.mark.parametrize("bench", PNG_BENCHES)
def test_png_pred_as_a_file_or_odd_kind(suite, tmp_path, capsys, bench):
    out = tmp_path / "o.json"
    f = tmp_path / "notes.txt"
    f.write_text("not a submission")
    rc, err = evaluate(bench, gt_path(suite / "s", bench), f, out, capsys)
    assert_error(rc, err, out, f, "a file")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    rc, err = evaluate(bench, gt_path(suite / "s", bench), fifo, out, capsys)
    assert_error(rc, err, out, fifo, "named pipe")


@pytest.mark.parametrize("bench", PNG_BENCHES)
def test_png_upload_zip_and_annotations_root(suite, tmp_path, capsys, bench, monkeypatch):
    """The server upload zip (Annotations/ at its root where the server wants it) and the
    unzipped submission score as the folder does; nothing is unpacked into the cwd."""
    import zipfile
    monkeypatch.chdir(tmp_path)
    good = suite / "good" / bench
    gt = gt_path(suite / "s", bench)
    root = "" if bench in ("vipseg", "refdavis17", "refytvos") else "Annotations/"
    z = tmp_path / "sub.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(good.rglob("*")):
            if f.is_file():
                zf.write(f, root + f.relative_to(good).as_posix())
    rc, err = evaluate(bench, gt, z, tmp_path / "z.json", capsys)
    zipped = assert_scored(rc, err, tmp_path / "z.json")
    rc, err = evaluate(bench, gt, good, tmp_path / "f.json", capsys)
    assert zipped == assert_scored(rc, err, tmp_path / "f.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "sub.zip", "z.json"]
    if root:
        unz = tmp_path / "unzipped"
        shutil.copytree(good, unz / "Annotations")
        rc, err = evaluate(bench, gt, unz, tmp_path / "u.json", capsys)
        assert assert_scored(rc, err, tmp_path / "u.json") == zipped
    # a bad frame inside the zip is named by its member path
    bad = tmp_path / "bad.zip"
    frame = _frame(bench, good)
    member = root + frame.relative_to(good).as_posix()
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(bad, "w") as dst:
        for n in src.namelist():
            dst.writestr(n, src.read(n)[:70] if n == member else src.read(n))
    rc, err = evaluate(bench, gt, bad, tmp_path / "b.json", capsys)
    assert_error(rc, err, tmp_path / "b.json", f"bad.zip:{member}")


# --------------------------------------------------------------------------- json benchmarks
def _load(pred):
    return json.loads((pred / "results.json").read_text())


def _dump(pred, doc, raw=None):
    (pred / "results.json").write_text(raw if raw is not None else json.dumps(doc))


def _vis_first_rle(doc):
    for i, p in enumerate(doc):
        for t, s in enumerate(p["segmentations"]):
            if s:
                return i, t, s
    raise AssertionError("no RLE")


def _burst_first(doc):
    s = doc["sequences"][0]
    for path, fr in zip(s["annotated_image_paths"], s["segmentations"]):
        for k, d in fr.items():
            return s, path, k, d
    raise AssertionError("no detection")


def _rle_counts(counts):
    def f(bench, doc):
        if bench == "burst":
            _, _, _, d = _burst_first(doc)
            d["rle"] = counts
        else:
            _, _, s = _vis_first_rle(doc)
            s["counts"] = counts
    return f


def _score(value):
    def f(bench, doc):
        if bench == "burst":
            _, _, _, d = _burst_first(doc)
            d["score"] = value
        else:
            doc[0]["score"] = value
    return f


def _rle_size(bench, doc):
    if bench == "burst":
        pytest.skip("BURST RLEs carry no size (the sequence's height x width)")
    _, _, s = _vis_first_rle(doc)
    s["size"] = [s["size"][0] * 2, s["size"][1]]


def _drop_frame(bench, doc):
    if bench == "burst":
        s = doc["sequences"][0]
        s["annotated_image_paths"] = s["annotated_image_paths"][:-1]
        s["segmentations"] = s["segmentations"][:-1]
    else:
        doc[0]["segmentations"] = doc[0]["segmentations"][:-1]


def _wrong_type(bench, doc):
    if bench == "burst":
        doc["sequences"][0]["segmentations"] = "none"
    else:
        doc[0]["segmentations"] = {"0": None}


def _unknown_video(bench, doc):
    if bench == "burst":
        doc["sequences"][0]["seq_name"] = "not_in_gt"
    else:
        doc[0]["video_id"] = 999


def _unknown_category(bench, doc):
    if bench == "burst":
        _, _, _, d = _burst_first(doc)
        doc["sequences"][0]["track_category_ids"] = {}
        d.pop("category_id", None)
    else:
        doc[0]["category_id"] = 9999


def _bad_track_id(bench, doc):
    if bench != "burst":
        pytest.skip("track ids are BURST's")
    s, path, k, d = _burst_first(doc)
    s["segmentations"][0] = {"one": d}


JSON_FAULTS = {  # name: (mutation, words the error must contain besides the file)
    "rle_short": (_rle_counts("0"), "RLE covers"),
    "rle_long": (_rle_counts("0`0"), "RLE covers"),
    "rle_junk": (_rle_counts("!!!!"), "RLE is malformed"),
    "rle_wrong_size": (_rle_size, "size"),
    "score_nan": (_score(float("nan")), "score"),
    "score_inf": (_score(float("inf")), "score"),
    "score_text": (_score("high"), "score"),
    "missing_frame": (_drop_frame, {"burst": "no prediction for annotated frame"}, "segmentations"),
    "wrong_type": (_wrong_type, "segmentations"),
    "unknown_video": (_unknown_video, "not"),
    "unknown_category": (_unknown_category, "categor"),
    "track_id": (_bad_track_id, "track id"),
}


@pytest.mark.parametrize("fault", list(JSON_FAULTS))
@pytest.mark.parametrize("bench", JSON_BENCHES)
def test_json_faults(suite, tmp_path, capsys, bench, fault):
    pred = _pred_copy(suite, bench, tmp_path)
    doc = _load(pred)
    mutate, *words = JSON_FAULTS[fault]
    words = words[0].get(bench, words[1]) if isinstance(words[0], dict) else words[0]
    mutate(bench, doc)
    _dump(pred, doc)
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, gt_path(suite / "s", bench), pred / "results.json", out, capsys)
    assert_error(rc, err, out, "results.json", words)


@pytest.mark.parametrize("bench", JSON_BENCHES)
def test_json_truncated_and_odd_kinds(suite, tmp_path, capsys, bench):
    pred = _pred_copy(suite, bench, tmp_path)
    res = pred / "results.json"
    gt = gt_path(suite / "s", bench)
    out = tmp_path / "o.json"
    res.write_text(res.read_text()[:50])
    rc, err = evaluate(bench, gt, res, out, capsys)
    assert_error(rc, err, out, res, "cannot read json")
    res.unlink()
    os.mkfifo(res)
    rc, err = evaluate(bench, gt, res, out, capsys)
    assert_error(rc, err, out, res, "named pipe")
    res.unlink()
    res.symlink_to(tmp_path / "nowhere.json")
    rc, err = evaluate(bench, gt, res, out, capsys)
    assert_error(rc, err, out, res, "dangling symbolic link")
    res.unlink()
    rc, err = evaluate(bench, gt, pred, out, capsys)  # a folder without results.json
    assert_error(rc, err, out, pred, "results.json")


@pytest.mark.parametrize("bench", JSON_BENCHES)
def test_json_folder_and_zip_are_accepted(suite, tmp_path, capsys, bench, monkeypatch):
    import zipfile
    monkeypatch.chdir(tmp_path)
    good = suite / "good" / bench
    gt = gt_path(suite / "s", bench)
    rc, err = evaluate(bench, gt, good / "results.json", tmp_path / "f.json", capsys)
    want = assert_scored(rc, err, tmp_path / "f.json")
    rc, err = evaluate(bench, gt, good, tmp_path / "d.json", capsys)
    assert assert_scored(rc, err, tmp_path / "d.json") == want
    with zipfile.ZipFile(tmp_path / "sub.zip", "w") as zf:
        zf.write(good / "results.json", "results.json")
    rc, err = evaluate(bench, gt, tmp_path / "sub.zip", tmp_path / "z.json", capsys)
    assert assert_scored(rc, err, tmp_path / "z.json") == want
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "f.json", "sub.zip", "z.json"]


@pytest.mark.parametrize("bench", ["ytvis19", "ytvis21", "ovis"])
def test_vis_coverage_rules(suite, tmp_path, capsys, bench):
    """ytvoseval.py scores GT videos without predictions as missed: an empty list and a
    partial one are scored, with a one-line warning; predictions of no GT video: an error."""
    pred = _pred_copy(suite, bench, tmp_path)
    gt = gt_path(suite / "s", bench)
    doc = _load(pred)
    _dump(pred, [])
    rc, err = evaluate(bench, gt, pred / "results.json", tmp_path / "e.json", capsys)
    m = assert_scored(rc, err, tmp_path / "e.json", warning="no prediction at all")
    assert m["AP"] == 0.0 and m["AR100"] == 0.0
    first = doc[0]["video_id"]
    n_gt = len(json.loads(gt.read_text())["videos"])
    assert n_gt == 2
    _dump(pred, [p for p in doc if p["video_id"] != first][:0] + [p for p in doc if p["video_id"] == first])
    rc, err = evaluate(bench, gt, pred / "results.json", tmp_path / "h.json", capsys)
    m = assert_scored(rc, err, tmp_path / "h.json")  # 1 of 2 is not fewer than half
    assert 0 < m["AP"] < 100
    _dump(pred, [dict(p, video_id=p["video_id"] + 1000) for p in doc])
    rc, err = evaluate(bench, gt, pred / "results.json", tmp_path / "x.json", capsys)
    assert_error(rc, err, tmp_path / "x.json", "results.json", "video_id 1001")


def test_vis_fewer_than_half_of_the_videos_warns_with_the_count(tmp_path, capsys):
    write_suite(tmp_path / "s", ["ytvis19"], SynthConfig(seed=2, videos=5, frames=3, size=(32, 32)))
    gt = gt_path(tmp_path / "s", "ytvis19")
    d = json.loads(gt.read_text())
    keep = d["videos"][0]["id"]
    res = [{"video_id": a["video_id"], "category_id": a["category_id"], "score": 1.0,
            "segmentations": a["segmentations"]} for a in d["annotations"] if a["video_id"] == keep]
    (tmp_path / "r.json").write_text(json.dumps(res))
    rc, err = evaluate("ytvis19", gt, tmp_path / "r.json", tmp_path / "o.json", capsys)
    assert_scored(rc, err, tmp_path / "o.json", warning="predictions for 1 of the 5 GT videos")


@pytest.mark.parametrize("bench", ["ytvis19", "ytvis21", "ovis"])
def test_released_gt_less_annotation_file_is_named(suite, tmp_path, capsys, bench):
    released = {"ytvis19": "valid.json", "ytvis21": "valid/instances.json",
                "ovis": "annotations_valid.json"}[bench]
    gt = suite / "s" / bench / released
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, gt, suite / "good" / bench, out, capsys)
    assert_error(rc, err, out, gt, "GT-less", "univs-bench split")


@pytest.mark.parametrize("bench,gt", [("mose", "valid"), ("ytvos18", "valid"),
                                      ("refytvos", "meta_expressions/valid")])
def test_released_gt_less_vos_splits_are_named(suite, tmp_path, capsys, bench, gt):
    out = tmp_path / "o.json"
    rc, err = evaluate(bench, suite / "s" / bench / gt, suite / "good" / bench, out, capsys)
    assert_error(rc, err, out, suite / "s" / bench / gt, "GT-less", "univs-bench split")


def test_vis_results_of_another_dataset_warn(suite, tmp_path, capsys):
    """ytvis21 results against ytvis19 GT: the synthetic suites share video ids, sizes and
    lengths, so only the content tells: no tube overlaps any GT tube -> a warning."""
    rc, err = evaluate("ytvis19", gt_path(suite / "s", "ytvis19"), suite / "good" / "ytvis21",
                       tmp_path / "o.json", capsys)
    assert_scored(rc, err, tmp_path / "o.json", warning="another dataset")


def test_burst_empty_predictions_score_zero_with_a_warning(suite, tmp_path, capsys):
    pred = _pred_copy(suite, "burst", tmp_path)
    doc = _load(pred)
    for s in doc["sequences"]:
        s["segmentations"] = [{} for _ in s["segmentations"]]
    _dump(pred, doc)
    rc, err = evaluate("burst", gt_path(suite / "s", "burst"), pred / "results.json", tmp_path / "o.json", capsys)
    m = assert_scored(rc, err, tmp_path / "o.json", warning="no detection")
    assert m["HOTA_all"] == 0.0 and m["AP_all"] == 0.0


def test_burst_coverage_is_strict(suite, tmp_path, capsys):
    """BURST keeps its documented stricter rule (PROTOCOLS.md / evaluators/burst.py): a GT
    sequence without prediction is an error naming it."""
    pred = _pred_copy(suite, "burst", tmp_path)
    doc = _load(pred)
    name = doc["sequences"][0]["seq_name"]
    doc["sequences"] = doc["sequences"][1:]
    _dump(pred, doc)
    rc, err = evaluate("burst", gt_path(suite / "s", "burst"), pred / "results.json", tmp_path / "o.json", capsys)
    assert_error(rc, err, tmp_path / "o.json", name, "no prediction")


# --------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("kind", ["folder", "symlink", "fifo", "dev_stdout", "parent_is_file"])
def test_out_must_be_a_regular_file_path(suite, tmp_path, capsys, kind):
    target = tmp_path / "target.json"
    target.write_text("keep")
    out = tmp_path / "out"
    if kind == "folder":
        out.mkdir()
    elif kind == "symlink":
        out.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(out)
    elif kind == "dev_stdout":  # a link like /dev/stdout (never the real one: an unfixed
        out.symlink_to("/proc/self/fd/1")  # writer would replace it with a regular file)
    else:
        out = target / "o.json"
    before = os.lstat(out) if kind != "parent_is_file" else None
    rc = main(["evaluate", "davis17", "--gt", str(gt_path(suite / "s", "davis17")),
               "--pred", str(suite / "good" / "davis17"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and str(out) in err, err
    assert target.read_text() == "keep"
    if before is not None:
        after = os.lstat(out)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)


def test_atomic_writer_never_replaces_a_link_device_or_folder(tmp_path):
    from univs_bench.errors import InputError
    from univs_bench.io.atomic import atomic_write_text
    target = tmp_path / "t.txt"
    target.write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    (tmp_path / "dir").mkdir()
    for p in (link, tmp_path / "dir"):
        with pytest.raises(InputError, match="not replaced"):
            atomic_write_text(p, "x")
    assert link.is_symlink() and target.read_text() == "keep" and (tmp_path / "dir").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "link", "t.txt"]  # no temp left
    atomic_write_text(target, "new")  # a regular file is replaced as before
    assert target.read_text() == "new"


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_are_refused(suite, tmp_path, capsys, workers):
    rc, err = evaluate("davis17", gt_path(suite / "s", "davis17"), suite / "good" / "davis17",
                       tmp_path / "o.json", capsys, "--workers", workers)
    assert_error(rc, err, tmp_path / "o.json", f"--workers {workers}")


def test_mose_given_a_davis_root_says_so(suite, tmp_path, capsys):
    rc, err = evaluate("mose", gt_path(suite / "s", "davis17"), suite / "good" / "mose",
                       tmp_path / "o.json", capsys)
    assert_error(rc, err, tmp_path / "o.json", "480p", "evaluate davis17")
    assert "video '480p'" not in err


def test_unexpected_exception_is_one_line_and_debug_shows_it(suite, tmp_path, capsys, monkeypatch):
    from univs_bench.evaluators import vos

    def boom(*a, **k):
        raise RuntimeError("kaboom\nsecond line")
    monkeypatch.setattr(vos, "evaluate_files", boom)
    args = ["evaluate", "davis17", "--gt", str(gt_path(suite / "s", "davis17")),
            "--pred", str(suite / "good" / "davis17")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "univs-bench evaluate: error: unexpected RuntimeError: kaboom second line "
        "(run with --debug for the traceback)"]
    for debug in (["--debug"] + args, args + ["--debug"]):
        with pytest.raises(RuntimeError, match="kaboom"):
            main(debug)


def test_gt_first_frame_bomb_is_named_not_decoded(suite, tmp_path, capsys):
    """No shape to compare with on the first GT frame: the pixel limit refuses it (Pillow's
    DecompressionBombError escaped every label-PNG reader with a traceback)."""
    gt = tmp_path / "DAVIS"
    shutil.copytree(gt_path(suite / "s", "davis17"), gt)
    seq = (gt / "ImageSets/2017/val.txt").read_text().split()[0]
    first = sorted((gt / "Annotations/480p" / seq).glob("*.png"))[0]
    _bomb(first)
    rc, err = evaluate("davis17", gt, suite / "good" / "davis17", tmp_path / "o.json", capsys)
    assert_error(rc, err, tmp_path / "o.json", first, "20000x20000")


def test_messages_are_wrapped_once(tmp_path):
    from univs_bench.errors import InputError
    from univs_bench.io.panoptic import read_panoptic_png
    Image.fromarray(np.zeros((4, 4), np.uint8), mode="P").save(tmp_path / "p.png")
    with pytest.raises(InputError) as e:
        read_panoptic_png(tmp_path / "p.png")
    assert str(e.value).count(str(tmp_path / "p.png")) == 1 and "cannot read" not in str(e.value)
    assert "P image where an RGB PNG" in str(e.value)


# --------------------------------------------------------------------------- no hang (subprocess)
def _cli(args, timeout=60):
    env = dict(os.environ, UNIVS_BENCH_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", "univs_bench.cli"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_bad_rle_neither_hangs_nor_scores(suite, tmp_path):
    """Runs that overrun h x w made pycocotools loop (Ctrl-C could not stop it); here: an
    error naming the prediction, in a subprocess with a timeout."""
    pred = _pred_copy(suite, "ytvis19", tmp_path)
    doc = _load(pred)
    i, t, s = _vis_first_rle(doc)
    s["counts"] = "0`0"
    _dump(pred, doc)
    r = _cli(["evaluate", "ytvis19", "--gt", gt_path(suite / "s", "ytvis19"), "--pred", pred / "results.json"])
    assert r.returncode == 2 and f"prediction #{i}" in r.stderr and f"frame {t}" in r.stderr, r.stderr


def test_fifo_in_a_viposeg_prediction_folder_does_not_hang(suite, tmp_path):
    pred = _pred_copy(suite, "viposeg", tmp_path)
    frame = _frame("viposeg", pred)
    _fifo(frame)
    r = _cli(["evaluate", "viposeg", "--gt", gt_path(suite / "s", "viposeg"), "--pred", pred], timeout=30)
    assert r.returncode == 2 and str(frame) in r.stderr and "named pipe" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_bad_rle_in_gt_is_named(suite, tmp_path, capsys):
    d = json.loads(gt_path(suite / "s", "ovis").read_text())
    d = copy.deepcopy(d)
    ann = d["annotations"][0]
    t = next(k for k, s in enumerate(ann["segmentations"]) if s)
    ann["segmentations"][t]["counts"] = "0"
    (tmp_path / "gt.json").write_text(json.dumps(d))
    rc, err = evaluate("ovis", tmp_path / "gt.json", suite / "good" / "ovis", tmp_path / "o.json", capsys)
    assert_error(rc, err, tmp_path / "o.json", "gt.json", f"annotation {ann['id']!r}", f"frame {t}", "RLE covers")


@pytest.mark.parametrize("bench", ["mose", "vipseg"])
def test_truncated_upload_zip_is_named(suite, tmp_path, capsys, bench):
    import zipfile
    good = suite / "good" / bench
    z = tmp_path / "sub.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(good.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(good).as_posix())
    z.write_bytes(z.read_bytes()[:len(z.read_bytes()) // 2])
    rc, err = evaluate(bench, gt_path(suite / "s", bench), z, tmp_path / "o.json", capsys)
    assert_error(rc, err, tmp_path / "o.json", z, "cannot read the zip")


def test_seen_file_that_is_a_fifo_is_named(suite, tmp_path, capsys):
    fifo = tmp_path / "seen.txt"
    os.mkfifo(fifo)
    rc, err = evaluate("ytvos18", gt_path(suite / "s", "ytvos18"), suite / "good" / "ytvos18",
                       tmp_path / "o.json", capsys, "--seen", str(fifo))
    assert_error(rc, err, tmp_path / "o.json", fifo, "named pipe")


def test_out_dash_writes_the_json_to_stdout(suite, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["evaluate", "davis17", "--gt", str(gt_path(suite / "s", "davis17")),
               "--pred", str(suite / "good" / "davis17"), "--out", "-"])
    out = capsys.readouterr().out
    assert rc == 0 and json.loads(out)["metrics"]["J&F"] == 100.0
    assert list(tmp_path.iterdir()) == []  # no file named '-'
    # a file named by --out is announced, as report --out does
    rc = main(["evaluate", "davis17", "--gt", str(gt_path(suite / "s", "davis17")),
               "--pred", str(suite / "good" / "davis17"), "--out", "o.json"])
    assert rc == 0 and "wrote o.json" in capsys.readouterr().out.splitlines()
    assert json.loads((tmp_path / "o.json").read_text())["metrics"]["J&F"] == 100.0


def test_prediction_folder_one_level_too_high_is_pointed_at(suite, tmp_path, capsys):
    shutil.copytree(suite / "good" / "davis17", tmp_path / "sub" / "results")
    rc, err = evaluate("davis17", gt_path(suite / "s", "davis17"), tmp_path / "sub", tmp_path / "o.json", capsys)
    assert_error(rc, err, tmp_path / "o.json", f"pass {tmp_path / 'sub' / 'results'}")
