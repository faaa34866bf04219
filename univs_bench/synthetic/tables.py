"""Which official category each synthetic shape or stuff kind stands for, per dataset.

Ids are in each dataset's own id space. Sources (checked by hand):

- YTVIS 2019/2021, OVIS: ``univs_bench.metainfo.ytvis`` (names -> ids).
- VSPW and VIPSeg share one 124-class list (VIPSeg ``label_num_dic_final.json``: raw id 0 =
  others, 1 wall ... 29 sky ... 61 person ...; VIPSeg category id = raw id - 1).
- VIPOSeg keeps VIPSeg category ids (0..123); thing/stuff and unseen lists from
  VIPOSeg-Benchmark ``utils.py``: thing unseen includes 61 cat, 72 skateboard, 55 raft; stuff
  unseen includes 17 athletic_field, 38 waterfall.
- BURST uses LVIS ids (names from ``burstapi/assets/tao_categories.json``); the common set is
  the 78 ids of BURST ``burstapi/eval/run.py`` (41 ball, 392 doughnut, 621 kite are common;
  344 cube, 1023 starfish, 1140 triangle are not).
- YouTube-VOS categories are names; seen = ``univs_bench.metainfo.ytvos.YTVOS18_SEEN``
  (person, sedan, airplane are in it). The unseen names used here (starfish, lifebuoy,
  kite_toy) are not YouTube-VOS names: only "not seen" matters to the scorer.
"""
from __future__ import annotations

from ..metainfo import ytvis as _ytvis

# Shape -> category name, for the name-keyed datasets.
YTVIS19_SHAPES = {"circle": "person", "square": "sedan", "triangle": "airplane", "star": "fish",
                  "ring": "turtle", "diamond": "boat"}
YTVIS21_SHAPES = {"circle": "person", "square": "car", "triangle": "airplane", "star": "fish",
                  "ring": "turtle", "diamond": "flying_disc"}
OVIS_SHAPES = {"circle": "Person", "square": "Vehical", "triangle": "Airplane", "star": "Fish",
               "ring": "Turtle", "diamond": "Boat"}

# VIPSeg category ids (0..123; VSPW raw label = id + 1): things here are isthing, stuff is not.
VIPSEG_THING_SHAPES = {"circle": 60, "square": 48, "triangle": 56, "star": 62, "ring": 74, "diamond": 54}
VIPSEG_STUFF = {"sky": 28, "ground": 14, "water": 39, "wall": 0, "grass": 15}
# VIPOSeg: three seen and three unseen thing classes, three seen and two unseen stuff classes.
VIPOSEG_THING_SHAPES = {"circle": 60, "square": 48, "triangle": 62,     # seen
                        "star": 61, "ring": 72, "diamond": 55}          # unseen
VIPOSEG_STUFF = {"sky": 28, "ground": 14, "wall": 0,                    # seen
                 "water": 38, "grass": 17}                              # unseen
VIPOSEG_UNSEEN = {61, 72, 55, 38, 17}

# BURST (LVIS ids): id -> (name, synset, definition, synonyms).
BURST_SHAPES = {"circle": 41, "ring": 392, "diamond": 621, "square": 344, "star": 1023, "triangle": 1140}
BURST_CATEGORIES = {
    41: ("ball", "ball.n.06", "a spherical object used as a plaything", ["ball"]),
    344: ("cube", "die.n.01", "a small cube with 1 to 6 spots on the six faces", ["cube", "dice", "die"]),
    392: ("doughnut", "doughnut.n.02", "a small ring-shaped friedcake", ["doughnut", "donut"]),
    621: ("kite", "kite.n.03", "plaything consisting of a light frame covered with tissue paper",
          ["kite"]),
    1023: ("starfish", "starfish.n.01",
           "echinoderms characterized by five arms extending from a central disk",
           ["starfish", "sea_star"]),
    1140: ("triangle_(musical_instrument)", "triangle.n.03",
           "a percussion instrument consisting of a metal bar bent in the shape of an open triangle",
           ["triangle_(musical_instrument)"]),
}
# YouTube-VOS / Ref-YouTube-VOS names: seen ones are YouTube-VOS training categories; the
# unseen ones are the first candidate absent from the seen list.
YTVOS_SEEN_SHAPES = {"circle": "person", "square": "sedan", "triangle": "airplane"}
YTVOS_UNSEEN_CANDIDATES = {"star": ["starfish", "sea_star"], "ring": ["lifebuoy", "ring_buoy"],
                           "diamond": ["kite_toy", "diamond_sign"]}


def ytvis_category(dataset: str, shape: str) -> int:
    table = {"ytvis19": YTVIS19_SHAPES, "ytvis21": YTVIS21_SHAPES, "ovis": OVIS_SHAPES}[dataset]
    return _ytvis.category_id(dataset, table[shape])


def vipseg_categories() -> list[dict]:
    """The 124 VIPSeg categories ``[{id, name, isthing, color}]`` of ``panoVIPSeg_categories.json``."""
    from ..metainfo.vipseg import VIPSEG_CATEGORIES
    return [{"id": c["id"], "name": c["name"], "isthing": int(c["isthing"]), "color": list(c["color"])}
            for c in VIPSEG_CATEGORIES]


def burst_is_common(cat: int) -> bool:
    from ..metainfo.burst import BURST_COMMON_IDS
    return cat in BURST_COMMON_IDS


def ytvos_seen() -> set[str]:
    from ..metainfo.ytvos import YTVOS18_SEEN
    return set(YTVOS18_SEEN)


def ytvos_category(shape: str) -> str:
    """A YouTube-VOS category name for ``shape``: seen for circle/square/triangle, else unseen."""
    if shape in YTVOS_SEEN_SHAPES:
        return YTVOS_SEEN_SHAPES[shape]
    return next(n for n in YTVOS_UNSEEN_CANDIDATES[shape] if n not in ytvos_seen())
