"""Category tables of YouTube-VIS 2019, YouTube-VIS 2021 and OVIS (ids are position + 1).

Verified against the ``categories`` of the official annotation files (YTVIS 2019 ``train.json``
/ ``valid.json``, YTVIS 2021 ``train/instances.json``, OVIS ``annotations_train.json``): ids
1..40 (YTVIS) and 1..25 (OVIS) in exactly this order, names spelled as there (``sedan``,
``earless_seal``, ``tennis_racket``; OVIS capitalised, ``Vehical`` sic). YTVIS 2021 replaced
``sedan``, ``ape``, ``hand``, ``owl``, ``eagle`` by ``car``, ``bird``, ``flying_disc``,
``squirrel``, ``whale`` and renumbered alphabetically.
"""
from __future__ import annotations

YTVIS19_CLASSES: tuple[str, ...] = (
    "person", "giant_panda", "lizard", "parrot", "skateboard", "sedan", "ape", "dog", "snake",
    "monkey", "hand", "rabbit", "duck", "cat", "cow", "fish", "train", "horse", "turtle", "bear",
    "motorbike", "giraffe", "leopard", "fox", "deer", "owl", "surfboard", "airplane", "truck",
    "zebra", "tiger", "elephant", "snowboard", "boat", "shark", "mouse", "frog", "eagle",
    "earless_seal", "tennis_racket",
)

YTVIS21_CLASSES: tuple[str, ...] = (
    "airplane", "bear", "bird", "boat", "car", "cat", "cow", "deer", "dog", "duck",
    "earless_seal", "elephant", "fish", "flying_disc", "fox", "frog", "giant_panda", "giraffe",
    "horse", "leopard", "lizard", "monkey", "motorbike", "mouse", "parrot", "person", "rabbit",
    "shark", "skateboard", "snake", "snowboard", "squirrel", "surfboard", "tennis_racket", "tiger",
    "train", "truck", "turtle", "whale", "zebra",
)

OVIS_CLASSES: tuple[str, ...] = (
    "Person", "Bird", "Cat", "Dog", "Horse", "Sheep", "Cow", "Elephant", "Bear", "Zebra",
    "Giraffe", "Poultry", "Giant_panda", "Lizard", "Parrot", "Monkey", "Rabbit", "Tiger", "Fish",
    "Turtle", "Bicycle", "Motorcycle", "Airplane", "Boat", "Vehical",
)

_TABLES = {"ytvis19": YTVIS19_CLASSES, "ytvis21": YTVIS21_CLASSES, "ovis": OVIS_CLASSES}


def class_names(dataset: str) -> tuple[str, ...]:
    """Names in id order (id = index + 1) for ``'ytvis19'``, ``'ytvis21'`` or ``'ovis'``."""
    return _TABLES[dataset]


def categories(dataset: str) -> list[dict]:
    """The json ``categories`` list: ``[{"id", "name", "supercategory"}]``, ids from 1."""
    return [{"id": i + 1, "name": n, "supercategory": "object"}
            for i, n in enumerate(_TABLES[dataset])]


def category_id(dataset: str, name: str) -> int:
    """The official id of ``name`` in ``dataset`` (KeyError when the dataset lacks it)."""
    names = _TABLES[dataset]
    if name not in names:
        raise KeyError(f"{dataset} has no category {name!r}")
    return names.index(name) + 1
