"""YouTube-VOS 2018 category facts.

``YTVOS18_SEEN`` holds the 65 categories of the YouTube-VOS training set, the "seen"
categories of the 2018 validation split (youtube-vos.org/dataset/vos: training 3471 videos,
65 categories; validation 474 videos, 65 seen + 26 unseen categories). The names are those
of the training ``meta.json``; the list was checked against the 65-name Ref-YouTube-VOS
training category list in wjn922/ReferFormer ``datasets/categories.py`` (Ref-YouTube-VOS
re-annotates the same 3471 training videos). Objects of any other category are unseen.
"""

YTVOS18_SEEN: tuple[str, ...] = (
    "airplane", "ape", "bear", "bike", "bird", "boat", "bucket", "bus", "camel", "cat",
    "cow", "crocodile", "deer", "dog", "dolphin", "duck", "eagle", "earless_seal",
    "elephant", "fish", "fox", "frisbee", "frog", "giant_panda", "giraffe", "hand",
    "hat", "hedgehog", "horse", "knife", "leopard", "lion", "lizard", "monkey",
    "motorbike", "mouse", "others", "owl", "paddle", "parachute", "parrot", "penguin",
    "person", "plant", "rabbit", "raccoon", "sedan", "shark", "sheep", "sign",
    "skateboard", "snail", "snake", "snowboard", "squirrel", "surfboard", "tennis_racket",
    "tiger", "toilet", "train", "truck", "turtle", "umbrella", "whale", "zebra",
)

assert len(YTVOS18_SEEN) == 65 and len(set(YTVOS18_SEEN)) == 65
