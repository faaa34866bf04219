"""Official category tables and benchmark lists (pure Python data, no heavy imports).

One module per dataset family: vipseg (124 classes with isthing), viposeg (thing/stuff/unseen
lists), ytvos (the 65 seen training categories), burst (common LVIS ids), ytvis (YTVIS/OVIS
category names), vspw (class names).
"""
