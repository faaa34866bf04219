"""VSPW: tiny hand-computed cases for the kernels (functional/vss.py) and the file reader (vss.py)."""
import math
import os

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.evaluators.functional.vss import (
    confusion_matrix,
    shift_vspw_labels,
    vss_metrics,
    vss_video_stats,
)
from univs_bench.evaluators.vss import evaluate_files
from univs_bench.io.png import write_grey_png, write_palette_png


def a(*rows):
    return np.array(rows, dtype=np.int64)


def test_shift_maps_others_and_void_to_ignore():
    raw = np.array([[0, 1, 124, 255, 130]], dtype=np.uint8)
    assert shift_vspw_labels(raw).tolist() == [[255, 0, 123, 255, 129]]


def test_confusion_metrics_hand_computed():
    gt, pred = a([0, 0], [1, 255]), a([0, 1], [1, 5])   # the void pixel is not counted
    conf = confusion_matrix(gt, pred)
    assert conf.sum() == 3 and conf[0, 0] == 1 and conf[0, 1] == 1 and conf[1, 1] == 1
    m = vss_metrics(conf)
    assert m["mIoU"] == pytest.approx(0.5)             # IoU0 = 1/2, IoU1 = 1/2
    assert m["pixel_acc"] == pytest.approx(2 / 3)
    assert m["mean_class_acc"] == pytest.approx(0.75)  # (1/2 + 1/1) / 2
    assert m["fwIoU"] == pytest.approx(0.5)


def test_class_only_predicted_is_dropped_from_miou():
    m = vss_metrics(confusion_matrix(a([0, 0]), a([0, 7])))
    assert m["mIoU"] == pytest.approx(0.5)             # class 7 (IoU 0) never in GT: not averaged


def test_no_gt_pixel_gives_nan():
    m = vss_metrics(confusion_matrix(a([255]), a([3])), {8: []})
    assert all(math.isnan(v) for v in m.values())


def frames(gts, preds):
    return [(np.asarray(g, np.int64)[None], np.asarray(p, np.int64)[None]) for g, p in zip(gts, preds)]


def test_vc_window_last_start_not_used():
    # n = 2, T = 3: only the window starting at 0 (range(T - n)); the one at 1 would score 0
    gts = [[0, 0, 1, 1], [0, 0, 1, 2], [0, 0, 1, 2]]
    preds = [[5, 5, 5, 5], [5, 6, 5, 5], [9, 9, 9, 9]]
    s = vss_video_stats(frames(gts, preds), vc_lengths=(2,))
    assert s.vc_accs[2].tolist() == pytest.approx([2 / 3])   # G = 3 pixels, G & Q = 2
    assert s.frames == 3


def test_vc_short_video_has_no_window():
    s = vss_video_stats(frames([[0]] * 8, [[0]] * 8), vc_lengths=(8, 16))
    assert len(s.vc_accs[8]) == 0 and len(s.vc_accs[16]) == 0
    s = vss_video_stats(frames([[0]] * 9, [[0]] * 9), vc_lengths=(8,))
    assert s.vc_accs[8].tolist() == [1.0]


def test_vc_nan_window_and_pooling_over_videos():
    # window 0: G empty (NaN); window 1: G = 1 pixel, Q holds -> 1; window 2 is the unused last one
    v1 = vss_video_stats(frames([[0], [1], [1], [1]], [[0], [0], [0], [0]]), vc_lengths=(2,))
    assert np.isnan(v1.vc_accs[2][0]) and v1.vc_accs[2][1] == 1.0
    v2 = vss_video_stats(frames([[3], [3], [3], [3]], [[1], [2], [3], [4]]), vc_lengths=(2,))
    assert v2.vc_accs[2].tolist() == [0.0, 0.0]
    m = vss_metrics(v1.confusion + v2.confusion, {2: [v1.vc_accs[2], v2.vc_accs[2]]})
    assert m["mVC2"] == pytest.approx(1 / 3)           # pooled nanmean, not the mean of video means


def test_vc_void_counts_as_a_label():
    # raw others (0) and void (255) both shift to 255, so the GT is "consistent" there
    gts = [shift_vspw_labels(np.array([[0, 4]], np.uint8)), shift_vspw_labels(np.array([[255, 5]], np.uint8))]
    s = vss_video_stats([(gts[0], a([1, 1])), (gts[1], a([1, 1])), (gts[1], a([1, 1]))], vc_lengths=(2,))
    assert s.vc_accs[2].tolist() == [1.0]


# ---- files ----

def write_case(root, videos, split=True):
    """videos: {name: [(raw_gt, pred), ...]} -> VSPW root + prediction folder."""
    gt, pred = os.path.join(root, "gt"), os.path.join(root, "pred")
    for v, fr in videos.items():
        for t, (g, p) in enumerate(fr):
            write_palette_png(os.path.join(gt, "data", v, "mask", f"{t:08d}.png"), np.asarray(g))
            if p is not None:
                write_grey_png(os.path.join(pred, v, f"{t:08d}.png"), np.asarray(p))
    os.makedirs(pred, exist_ok=True)
    if split:
        with open(os.path.join(gt, "val.txt"), "w") as f:
            f.write("".join(v + "\n" for v in videos))
    return gt, pred


def test_evaluate_files_hand_computed(tmp_path):
    g = [[1, 1], [2, 0]]                       # shifted: 0 0 / 1 ignore
    p = [[0, 1], [1, 9]]
    gt, pred = write_case(tmp_path, {"vid": [(g, p)] * 10})
    r = evaluate_files("vspw", gt, pred)
    assert r.metrics["mIoU"] == pytest.approx(50.0)
    assert r.metrics["pixel_acc"] == pytest.approx(100 * 2 / 3)
    assert r.metrics["mean_class_acc"] == pytest.approx(75.0)
    assert r.metrics["mVC8"] == pytest.approx(100.0)     # static video: every window consistent
    assert r.metrics["mVC16"] is None                    # 10 frames <= 16: no window at all
    assert r.per_video["vid"]["frames"] == 10 and r.per_video["vid"]["VC8_windows"] == 2


def test_split_option_overrides_val_txt(tmp_path):
    gt, pred = write_case(tmp_path, {"a": [([[1]], [[0]])], "b": [([[1]], None)]}, split=False)
    split = tmp_path / "mine.txt"
    split.write_text("a\n")
    assert evaluate_files("vspw", gt, pred, options={"split": str(split)}).metrics["mIoU"] == 100.0


@pytest.mark.parametrize("bad, mentions", [
    ("missing", "00000001.png"), ("size", "00000001.png"), ("value", "00000001.png"), ("video", "vidb"),
])
def test_bad_predictions_name_the_file(tmp_path, bad, mentions):
    gt, pred = write_case(tmp_path, {"vida": [([[1, 2]], [[0, 1]])] * 2, "vidb": [([[1, 2]], [[0, 1]])] * 2})
    target = os.path.join(pred, "vidb", "00000001.png")
    if bad == "missing":
        os.remove(target)
    elif bad == "size":
        write_grey_png(target, np.zeros((2, 2), np.uint8))
    elif bad == "value":
        write_grey_png(target, np.array([[0, 124]], np.uint8))
    else:
        import shutil
        shutil.rmtree(os.path.join(pred, "vidb"))
    with pytest.raises(InputError, match=mentions):
        evaluate_files("vspw", gt, pred)


def test_missing_split_file(tmp_path):
    gt, pred = write_case(tmp_path, {"v": [([[1]], [[0]])]}, split=False)
    with pytest.raises(InputError, match="val.txt"):
        evaluate_files("vspw", gt, pred)
