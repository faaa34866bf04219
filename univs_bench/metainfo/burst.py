"""BURST: the category id tables that its official evaluator hard-codes.

Sources (Ali2500/BURST-benchmark @c143198):

- ``BURST_COMMON_IDS``: ``known_list`` in ``print_results`` of ``burstapi/eval/run.py``, the 78
  TAO/LVIS category ids that correspond to COCO classes; "common" is this list, "uncommon" every
  other evaluated class. The same 78 ids are ``knowns`` in
  ``trackeval/datasets/burst_helpers/burst_ow_base.py``.
- ``BURST_DISTRACTOR_IDS``: ``distractors`` in ``burst_helpers/burst_base.py`` and
  ``burst_helpers/format_converter.py`` (from "Opening up Open-World Tracking"). GT annotations
  of these categories are dropped when the GT is read, and these classes are never evaluated;
  predictions of them are kept (they count towards the 300 detections per frame).
- ``BURST_MERGED_IDS``: the ``merged`` entries of ``burstapi/assets/tao_categories.json``, which
  ``_merge_categories`` applies to GT (after the distractor drop) and to predictions.
- ``BURST_NUM_CATEGORIES``: ``tao_categories.json`` lists ids 1..1230, in id order; the
  evaluator takes its class list from that file, not from the GT json's ``categories``.
"""
from __future__ import annotations

BURST_COMMON_IDS: tuple[int, ...] = (
    4, 13, 1038, 544, 1057, 34, 35, 36, 41, 45, 58, 60, 579, 1091, 1097, 1099, 78, 79, 81, 91,
    1115, 1117, 95, 1122, 99, 1132, 621, 1135, 625, 118, 1144, 126, 642, 1155, 133, 1162, 139,
    154, 174, 185, 699, 1215, 714, 717, 1229, 211, 729, 221, 229, 747, 235, 237, 779, 276, 805,
    299, 829, 852, 347, 371, 382, 896, 392, 926, 937, 428, 429, 961, 452, 979, 980, 982, 475,
    480, 993, 1001, 502, 1018,
)

BURST_DISTRACTOR_IDS: frozenset[int] = frozenset({
    20, 63, 108, 180, 188, 204, 212, 247, 303, 403, 407, 415, 490, 504, 507, 513, 529, 567, 569,
    588, 672, 691, 702, 708, 711, 720, 736, 737, 798, 813, 815, 827, 831, 851, 877, 883, 912,
    971, 976, 1130, 1133, 1134, 1169, 1184, 1220,
})

# merged-away id -> id it is merged into (cup, grocery_bag, hat, scrubbing_brush, walking_stick)
BURST_MERGED_IDS: dict[int, int] = {
    504: 347, 720: 347, 912: 529, 967: 529, 207: 554, 153: 943, 201: 1175,
}

BURST_NUM_CATEGORIES = 1230

assert len(BURST_COMMON_IDS) == len(set(BURST_COMMON_IDS)) == 78
assert len(BURST_DISTRACTOR_IDS) == 45
