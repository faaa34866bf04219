"""Masks and files: RLE, label PNGs (palette, grey, 16-bit), panoptic RGB ids, atomic writes, zips.

Submodules are imported directly (``from univs_bench.io.png import read_label_png``) so that
a command pays only for what it uses.
"""
