import json

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.io import rle
from univs_bench.schema import (
    AnnotationFile,
    Category,
    DatasetMeta,
    LabelMap,
    Prompt,
    Track,
    VideoAnnotation,
    VideoInfo,
)


def _video(n=3, h=8, w=10, vid="v1"):
    return VideoInfo(id=vid, frames=[f"{i:05d}" for i in range(n)], height=h, width=w)


def _mask(h=8, w=10):
    m = np.zeros((h, w), bool)
    m[2:5, 3:7] = True
    return rle.encode(m)


def _good():
    v = _video()
    t = Track(id=1, category=2, masks=[_mask(), None, {"png": "Annotations/v1/00002.png", "id": 1}])
    return VideoAnnotation(
        video=v, tracks=[t],
        label_maps=[LabelMap(frame=0, png="data/v1/mask/00000.png", encoding="vspw_raw")],
        prompts=[Prompt(id="0", kind="mask", target=1, frame=0, mask=_mask()),
                 Prompt(id="1", kind="text", target=1, text="the red square moving left"),
                 Prompt(id="2", kind="box", target=1, frame=1, box=[1, 1, 5, 6]),
                 Prompt(id="3", kind="point", target=1, frame=2, points=[[3, 4]])])


def _meta():
    return DatasetMeta(dataset="synthetic", task="vos", split="val",
                       categories=[Category(1, "circle"), Category(2, "square", split="unseen")])


def test_good_annotation_has_no_problems():
    assert _good().validate(_meta()) == []


def test_json_round_trip_is_identity(tmp_path):
    f = AnnotationFile(_meta(), [_good(), VideoAnnotation(video=_video(vid="v2"))])
    p = tmp_path / "ann.json"
    f.dump(str(p))
    g = AnnotationFile.load(str(p))
    assert g.to_dict() == f.to_dict()
    assert json.loads(p.read_text())["data_list"][0]["video"]["id"] == "v1"
    assert g.data_list[0].tracks[0].first_frame() == 0


def test_every_problem_is_reported_with_video_and_frame():
    a = _good()
    a.tracks[0].masks[1] = rle.encode(np.zeros((4, 4), bool))  # wrong size on frame 1
    a.tracks.append(Track(id=1, category=9, masks=[None]))       # repeated id, bad category, short
    a.prompts.append(Prompt(id="4", kind="box", target=1, frame=0, box=[5, 5, 1, 1]))
    a.prompts.append(Prompt(id="5", kind="point", target=1, frame=7, points=[[1, 1]]))
    a.prompts.append(Prompt(id="6", kind="laser", target=1))
    problems = a.validate(_meta())
    text = "\n".join(problems)
    assert all("video 'v1'" in p for p in problems)
    assert "track 1 frame 1 (00001): RLE size [4, 4] differs from the video size [8, 10]" in text
    assert "track id repeats" in text
    assert "1 masks for 3 frames" in text
    assert "category 9 not in the dataset's categories" in text
    assert "prompt '4' frame 0: box" in text
    assert "prompt '5': visual prompt needs a frame index" in text
    assert "kind 'laser'" in text
    assert len(problems) == 7


def test_prediction_needs_scores_and_check_raises():
    a = _good()
    with pytest.raises(InputError, match="prediction without a score"):
        a.check(prediction=True)
    a.tracks[0].score = 0.9
    a.check(prediction=True)


def test_annotation_file_reports_duplicate_videos_and_bad_json(tmp_path):
    f = AnnotationFile(_meta(), [_good(), _good()])
    assert any("appears twice" in p for p in f.validate())
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        AnnotationFile.load(str(bad))
    bad.write_text(json.dumps({"metainfo": _meta().__dict__ | {"categories": []},
                               "data_list": [{"video": {"id": "x"}}]}))
    with pytest.raises(InputError, match="video 'x'"):
        AnnotationFile.load(str(bad))


def test_metainfo_duplicate_category_and_bad_split():
    m = DatasetMeta("d", "vis", "val", [Category(1, "a"), Category(1, "b", split="maybe")])
    problems = m.validate()
    assert len(problems) == 2
