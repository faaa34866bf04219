"""VSPW: the 124 class names (``label_num_dic_final.json`` of the dataset, raw value = index + 1).

Raw masks hold 0 = others, 1..124 = these classes, 255 = void; the scorer shifts them to
0..123 with others and void ignored (PROTOCOLS.md section 2). VIPSeg uses the same 124 classes
in the same order (checked against ``panoVIPSeg_categories.json``).
"""
from __future__ import annotations

VSPW_CLASSES: tuple[str, ...] = (
    'wall', 'ceiling', 'door', 'stair', 'ladder',
    'escalator', 'Playground_slide', 'handrail_or_fence', 'window', 'rail',
    'goal', 'pillar', 'pole', 'floor', 'ground',
    'grass', 'sand', 'athletic_field', 'road', 'path',
    'crosswalk', 'building', 'house', 'bridge', 'tower',
    'windmill', 'well_or_well_lid', 'other_construction', 'sky', 'mountain',
    'stone', 'wood', 'ice', 'snowfield', 'grandstand',
    'sea', 'river', 'lake', 'waterfall', 'water',
    'billboard_or_Bulletin_Board', 'sculpture', 'pipeline', 'flag', 'parasol_or_umbrella',
    'cushion_or_carpet', 'tent', 'roadblock', 'car', 'bus',
    'truck', 'bicycle', 'motorcycle', 'wheeled_machine', 'ship_or_boat',
    'raft', 'airplane', 'tyre', 'traffic_light', 'lamp',
    'person', 'cat', 'dog', 'horse', 'cattle',
    'other_animal', 'tree', 'flower', 'other_plant', 'toy',
    'ball_net', 'backboard', 'skateboard', 'bat', 'ball',
    'cupboard_or_showcase_or_storage_rack', 'box', 'traveling_case_or_trolley_case', 'basket', 'bag_or_package',
    'trash_can', 'cage', 'plate', 'tub_or_bowl_or_pot', 'bottle_or_cup',
    'barrel', 'fishbowl', 'bed', 'pillow', 'table_or_desk',
    'chair_or_seat', 'bench', 'sofa', 'shelf', 'bathtub',
    'gun', 'commode', 'roaster', 'other_machine', 'refrigerator',
    'washing_machine', 'Microwave_oven', 'fan', 'curtain', 'textiles',
    'clothes', 'painting_or_poster', 'mirror', 'flower_pot_or_vase', 'clock',
    'book', 'tool', 'blackboard', 'tissue', 'screen_or_television',
    'computer', 'printer', 'Mobile_phone', 'keyboard', 'other_electronic_product',
    'fruit', 'food', 'instrument', 'train',
)

VSPW_NUM_CLASSES = len(VSPW_CLASSES)
VSPW_OTHERS_RAW = 0
VSPW_VOID_RAW = 255

assert VSPW_NUM_CLASSES == 124
