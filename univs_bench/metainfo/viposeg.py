"""VIPOSeg class subsets (yoxu515/VIPOSeg-Benchmark ``utils.py``, class ``VIPOSeg``).

Class ids are VIPSeg COCO-video category ids (0..123) as stored in ``obj_class.json``.
The official lists: 58 thing and 58 stuff classes; unseen = 17 thing + 17 stuff classes
(8 of the stuff-unseen ids are in neither base list; they are checked directly, so all 124
classes fall in exactly one subset). Seen = base list minus unseen. Class 98 ("other
machine") is stuff-unseen in the 23 videos of ``OTHER_MACHINE_VIDEOS`` and stuff-seen elsewhere.
``vop_eval.py`` tests 98 first, then thing-unseen, stuff-unseen, thing-seen, stuff-seen.
"""
from __future__ import annotations

THING_CLASSES = frozenset({
    2, 4, 8, 10, 41, 43, 44, 46, 47, 48, 49, 50, 51, 52, 54, 55, 56, 60, 61, 62, 63, 64, 65,
    72, 74, 76, 77, 78, 79, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 95, 96, 97, 99, 100,
    101, 102, 106, 107, 108, 109, 114, 115, 116, 117, 118, 122, 123})
STUFF_CLASSES = frozenset({
    0, 1, 3, 5, 6, 7, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 27, 28, 29, 30,
    31, 32, 33, 34, 35, 36, 37, 39, 40, 42, 45, 53, 58, 59, 66, 67, 68, 69, 70, 71, 73, 75,
    80, 93, 94, 98, 103, 104, 105, 110, 111, 119, 120, 121})
THING_UNSEEN = frozenset({46, 47, 55, 61, 64, 72, 86, 95, 96, 97, 99, 100, 101, 102, 109, 116, 118})
STUFF_UNSEEN = frozenset({5, 6, 9, 17, 20, 25, 26, 34, 38, 57, 58, 71, 81, 94, 112, 113, 120})
THING_SEEN = THING_CLASSES - THING_UNSEEN
STUFF_SEEN = STUFF_CLASSES - STUFF_UNSEEN

OTHER_MACHINE_CLASS = 98
OTHER_MACHINE_VIDEOS = frozenset({
    "187_WUZUSD4477I", "319_l1Dz12fxQzQ", "320_nhKXemkIvh4", "517_AWvYuplla_s",
    "532_QmZyJuLlEec", "774_devdFjIpDcc", "1016_HG0AsTOxI5g", "1017_IAU0WGB9VPw",
    "1020_TgCIv6bp3XM", "1021_cPOxAMo28yk", "1022_emSaDd2ddj0", "1033_sh81AwYuihg",
    "1065_d2sHRyAHKqI", "1067_fk3jhxBi1pA", "1068_gxnZkf0LQfk", "1069_jFHRbZxswz8",
    "1070_uTJB31tuYes", "1072_zvNEdUk5k0Q", "1230_AGY-gQ_3O8Y", "1333__iprMPKLdOQ",
    "1334_qlmfvYA3_rk", "2004_1btxeVbyojs", "2005_83KrhWajwfw"})

SUBSETS = ("thing_seen", "thing_unseen", "stuff_seen", "stuff_unseen")


def viposeg_subset(class_id: int, video: str) -> str | None:
    """The subset of an object of ``class_id`` in ``video``; None if in no list (not scored)."""
    if class_id == OTHER_MACHINE_CLASS:
        return "stuff_unseen" if video in OTHER_MACHINE_VIDEOS else "stuff_seen"
    if class_id in THING_UNSEEN:
        return "thing_unseen"
    if class_id in STUFF_UNSEEN:
        return "stuff_unseen"
    if class_id in THING_SEEN:
        return "thing_seen"
    if class_id in STUFF_SEEN:
        return "stuff_seen"
    return None
