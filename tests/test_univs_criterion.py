"""UniVS losses, matcher, point sampling and EMA teacher on tiny hand-checkable inputs."""
import math
import types

import pytest
import torch

from univs_bench.models.univs.criterion import (
    UniVSCriterion,
    contrastive_loss,
    dice_loss,
    sigmoid_ce_loss,
    sigmoid_focal_loss,
)
from univs_bench.models.univs.ema import (
    UniVSEMAHook,
    ema_update_,
    load_teacher_into_student_,
    make_teacher,
)
from univs_bench.models.univs.matcher import (
    VideoHungarianMatcher,
    batch_dice_cost,
    batch_sigmoid_ce_cost,
)
from univs_bench.models.univs.point_sample import (
    calculate_uncertainty,
    get_uncertain_point_coords_with_randomness,
    point_sample,
)

BIG = 20.0  # logit magnitude of a "certain" prediction


# ----------------------------------------------------------------------------- point sampling
def test_point_sample_reads_pixel_centres_in_xy_order():
    img = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    coords = torch.tensor([[[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.5, 0.25]]])
    out = point_sample(img, coords, align_corners=False)
    assert out.shape == (1, 1, 4)
    assert out[0, 0].tolist() == [1.0, 2.0, 3.0, 1.5]


def test_uncertain_points_prefer_logits_near_zero():
    torch.manual_seed(0)
    logits = torch.full((3, 1, 8, 8), 10.0)
    logits[..., :4] = 0.0  # left half uncertain
    coords = get_uncertain_point_coords_with_randomness(logits, calculate_uncertainty, 40, 3, 0.5)
    assert coords.shape == (3, 40, 2)
    assert coords.min() >= 0 and coords.max() <= 1
    # ~43% of the 120 candidates read exactly 0 > the 20 picked: all picked lie left
    assert (coords[:, :20, 0] < 0.5).all()


# ----------------------------------------------------------------------------- elementwise
def test_dice_identical_and_disjoint():
    t = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    assert dice_loss(BIG * (2 * t - 1), t, 1.0).item() == pytest.approx(0.0, abs=1e-6)
    d = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    # +1 smoothing: 1 - (0 + 1) / (2 + 2 + 1); tends to 1 for large masks
    assert dice_loss(BIG * (2 * d - 1), t, 1.0).item() == pytest.approx(0.8, abs=1e-6)
    big_t = torch.zeros(1, 1000)
    big_t[0, :500] = 1
    assert dice_loss(BIG * (1 - 2 * big_t), big_t, 1.0).item() == pytest.approx(1.0, abs=1e-3)
    # pairwise cost agrees with the loss
    cost = batch_dice_cost(BIG * (2 * torch.cat([t, d]) - 1), t)
    assert cost[:, 0].tolist() == pytest.approx([0.0, 0.8], abs=1e-6)


def test_focal_loss_hand_values():
    x = torch.tensor([0.0, math.log(3.0), 0.0])
    t = torch.tensor([1.0, 0.0, 0.0])
    got = sigmoid_focal_loss(x, t, alpha=0.5, gamma=2.0).tolist()
    # x=0: p_t=0.5 -> 0.5 * 0.25 * ln2; x=ln3, t=0: p=0.75, p_t=0.25 -> 0.5 * 0.75^2 * ln4
    assert got == pytest.approx([0.125 * math.log(2), 0.5 * 0.5625 * math.log(4), 0.125 * math.log(2)])


def test_sigmoid_ce_hand_value():
    x = torch.zeros(2, 4)
    t = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    assert sigmoid_ce_loss(x, t, 2.0).item() == pytest.approx(math.log(2))
    assert batch_sigmoid_ce_cost(x, t).flatten().tolist() == pytest.approx([math.log(2)] * 4)


def test_contrastive_loss_hand_value():
    # 2 rows, identity positives: all columns sampled; row i: log(1 + 2 exp(neg - pos))
    x = torch.tensor([[1.0, 0.5], [0.2, 0.7]])
    t = torch.eye(2)
    want = (math.log(1 + 2 * math.exp(0.5 - 1.0)) + math.log(1 + 2 * math.exp(0.2 - 0.7))) / 2
    assert contrastive_loss(x, t).item() == pytest.approx(want, rel=1e-6)


# ----------------------------------------------------------------------------- fixtures
T, H, STRIDE = 2, 32, 4
H4 = H // STRIDE


def _gt_masks():
    """3 objects x 2 frames on 32x32, aligned to 4x4 blocks so stride-4 logits are exact."""
    m = torch.zeros(3, T, H, H, dtype=torch.bool)
    m[0, :, 0:12, 0:12] = True
    m[1, 0, 16:32, 0:8] = True
    m[1, 1, 16:32, 4:12] = True
    m[2, 0, 4:20, 20:32] = True  # absent on frame 1
    return m


def _target(prompt_target=None):
    t = {"labels": torch.tensor([1, 3, 0]), "masks": _gt_masks(), "ids": torch.tensor([10, 11, 12])}
    if prompt_target is not None:
        t["prompt_target"] = torch.tensor(prompt_target)
    return t


def _logits_of(mask):
    small = mask.float().reshape(*mask.shape[:-2], H4, STRIDE, H4, STRIDE).amax((-3, -1))
    return BIG * (2 * small - 1)


def _perfect(order=(4, 0, 2), num_queries=6, num_classes=5, dim=8, masks=None):
    """Query order[k] predicts object k exactly; the others predict background."""
    masks = _gt_masks() if masks is None else masks
    logits = torch.full((1, num_queries, num_classes), -BIG)
    pm = torch.full((1, num_queries, T, H4, H4), -BIG)
    emb = torch.zeros(1, num_queries, T, dim)
    emb[0, :, :, dim - 1] = 1.0
    for k, q in enumerate(order):
        logits[0, q, _target()["labels"][k]] = BIG
        pm[0, q] = _logits_of(masks[k])
        emb[0, q, :, dim - 1] = 0.0
        emb[0, q, :, k] = 3.0
    return {"pred_logits": logits, "pred_masks": pm, "pred_embds": emb}


def _with_aux(out, n=2):
    out = dict(out)
    out["aux_outputs"] = [{k: v.clone() for k, v in out.items()} for _ in range(n)]
    return out


def _total(losses):
    return sum(v for v in losses.values()).item()


SMALL = {"num_points": 256, "matcher_num_points": 256}


# ----------------------------------------------------------------------------- matcher
def test_matcher_recovers_known_permutation():
    torch.manual_seed(0)
    out = _perfect(order=(4, 0, 2))
    out["pred_masks"][0, [1, 3, 5]] += torch.randn(3, T, H4, H4)  # non-object queries
    (q, g), = VideoHungarianMatcher(num_points=256)(out, [_target()])
    assert dict(zip(g.tolist(), q.tolist())) == {0: 4, 1: 0, 2: 2}


def test_matcher_class_cost_is_softmax_of_scaled_sigmoid():
    out = _perfect()
    out["pred_logits"] = torch.randn(1, 6, 5)
    m = VideoHungarianMatcher(cost_class=1.0, cost_mask=0.0, cost_dice=0.0, num_points=16)
    c = m.cost_matrix(out, [_target()], 0)
    prob = (5 * out["pred_logits"][0].sigmoid()).softmax(-1)
    assert torch.allclose(c, -prob[:, [1, 3, 0]])


def test_matcher_empty_target():
    t = {"labels": torch.zeros(0, dtype=torch.long), "masks": torch.zeros(0, T, H, H)}
    (q, g), = VideoHungarianMatcher(num_points=16)(_perfect(), [t])
    assert len(q) == len(g) == 0


# ----------------------------------------------------------------------------- criterion
def test_perfect_prediction_beats_wrong_ones():
    crit = UniVSCriterion(**SMALL)
    torch.manual_seed(0)
    perfect = _total(crit(_with_aux(_perfect()), [_target()]))
    # masks of objects 0 and 1 swapped while classes stay: matching cannot fix both
    swapped = _gt_masks()[[1, 0, 2]]
    wrong = _total(crit(_with_aux(_perfect(masks=swapped)), [_target()]))
    noisy = _perfect()
    noisy["pred_masks"] = noisy["pred_masks"] + 30 * torch.randn_like(noisy["pred_masks"])
    perturbed = _total(crit(_with_aux(noisy), [_target()]))
    assert perfect < wrong and perfect < perturbed
    losses = crit(_perfect(), [_target()])
    assert losses["loss_ce"].item() < 1e-6
    # masks are not ~0 even when perfect: points are bilinear reads of stride-4 logits with
    # zero padding, and the empty frame of object 2 has dice 1 - 1 / (sum p + 1)
    assert losses["loss_mask"].item() < wrong


def test_loss_names_and_weights():
    crit = UniVSCriterion(class_weight=2.0, mask_weight=3.0, dice_weight=4.0, reid_weight=0.25, **SMALL)
    out = _with_aux(_perfect(num_queries=7), n=3)
    out["num_prompts"] = 1
    torch.manual_seed(1)
    weighted = crit(out, [_target([0])])
    torch.manual_seed(1)
    raw = crit.losses(out, [_target([0])])
    base = ["loss_ce", "loss_mask", "loss_dice", "loss_reid", "loss_reid_aux",
            "loss_reid_l2p", "loss_reid_l2p_aux"]
    assert set(weighted) == {b + s for b in base for s in ["", "_0", "_1", "_2"]}
    w = {"loss_ce": 2.0, "loss_mask": 3.0, "loss_dice": 4.0}
    for k, v in raw.items():
        assert weighted[k].item() == pytest.approx(v.item() * w.get(k.rsplit("_", 1)[0] if k[-1].isdigit()
                                                                   else k, 0.25), rel=1e-6)
    assert UniVSCriterion(reid_weight=0.5, long_video=True).loss_weight("loss_reid_interclip_3") == 0.25


def test_gradients_flow_to_every_layer():
    torch.manual_seed(0)
    out = _with_aux(_perfect(num_queries=7))
    out["pred_masks"] = out["pred_masks"] * 0.1
    out["num_prompts"] = 1
    leaves = []
    for layer in [out] + out["aux_outputs"]:
        for k in ("pred_logits", "pred_masks", "pred_embds"):
            layer[k] = layer[k].clone().requires_grad_()
            leaves.append(layer[k])
    losses = UniVSCriterion(**SMALL)(out, [_target([1])])
    sum(losses.values()).backward()
    for leaf in leaves:
        assert leaf.grad is not None and leaf.grad.abs().sum() > 0
        assert torch.isfinite(leaf.grad).all()


def test_prompt_queries_use_their_target_not_matching():
    crit = UniVSCriterion(**SMALL)
    base = _perfect(num_queries=7, order=(0, 1, 2))
    bad = torch.randn(1, 6, T, H4, H4)
    base["pred_masks"][0, :6] = bad[0]  # learnable queries: garbage
    base["pred_masks"][0, 6] = _logits_of(_gt_masks()[1])  # prompt query = object 1
    base["num_prompts"] = 1
    learn_only = {k: v[:, :6] for k, v in base.items() if k != "num_prompts"}
    torch.manual_seed(3)
    ref = crit.losses(learn_only, [_target()])["loss_dice"].item()
    torch.manual_seed(3)
    right = crit.losses(base, [_target([1])])["loss_dice"].item()
    torch.manual_seed(3)
    wrong = crit.losses(base, [_target([0])])["loss_dice"].item()
    torch.manual_seed(3)
    padded = crit.losses(base, [_target([-1])])["loss_dice"].item()
    # a padded prompt (-1) has no mask loss; shared keys are averaged 0.5 * (learnable +
    # prompt), and the learnable part is the same as without the prompt query: never matched
    assert padded == pytest.approx(0.5 * ref, rel=1e-6)
    prompt_right, prompt_wrong = 2 * right - ref, 2 * wrong - ref
    assert prompt_right < 0.15
    assert prompt_wrong > 0.8


def test_empty_frames_get_no_reid_id_and_empty_target_runs():
    crit = UniVSCriterion(**SMALL)
    prepared = crit._prepare_target(_target())
    assert prepared["ids"].tolist() == [[10, 10], [11, 11], [12, -1]]
    empty = {"labels": torch.zeros(0, dtype=torch.long), "masks": torch.zeros(0, T, H, H),
             "ids": torch.zeros(0, dtype=torch.long)}
    losses = crit(_with_aux(_perfect()), [empty, _target()][:1])
    assert all(torch.isfinite(v) for v in losses.values())


def test_interclip_reid_over_two_clips():
    crit = UniVSCriterion(long_video=True, reid_weight=0.5, **SMALL)
    memory = crit.new_reid_memory()
    per_clip = []
    for seed in range(2):
        torch.manual_seed(seed)
        out = _with_aux(_perfect(), n=2)
        out["pred_embds"] = torch.randn_like(out["pred_embds"]).requires_grad_()
        per_clip.append(crit(out, [_target()], reid_memory=memory))
    losses = crit.average_clip_losses(per_clip)
    inter = crit.interclip_losses(memory)
    # slot 0 (first aux layer) is skipped as officially; the last layer has no suffix
    assert set(inter) == {"loss_reid_interclip", "loss_reid_interclip_aux",
                          "loss_reid_interclip_1", "loss_reid_interclip_aux_1"}
    assert set(losses) == set(per_clip[0])
    assert inter["loss_reid_interclip"].requires_grad


# ----------------------------------------------------------------------------- EMA
def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))


def test_ema_update_and_load():
    student = _net()
    teacher = make_teacher(student)
    assert not any(p.requires_grad for p in teacher.parameters())
    with torch.no_grad():
        for p in teacher.parameters():
            p.zero_()
        for p in student.parameters():
            p.fill_(1.0)
    student[1].weight.requires_grad_(False)  # frozen: not averaged
    ema_update_(teacher, student, decay=0.9)
    assert torch.allclose(teacher[0].weight, torch.full((2, 2), 0.1))
    assert torch.equal(teacher[1].weight, torch.zeros(2))
    ema_update_(teacher, student, decay=0.9)
    assert torch.allclose(teacher[0].bias, torch.full((2,), 0.19))
    load_teacher_into_student_(student, teacher)
    assert torch.allclose(student[0].weight, torch.full((2, 2), 0.19))
    assert torch.equal(student[1].weight, torch.ones(2))


def test_ema_hook_updates_teachers_before_each_iter():
    from univs_bench.registry import HOOKS

    assert HOOKS.module_dict["UniVSEMAHook"] is UniVSEMAHook
    model = torch.nn.Module()
    model.backbone = _net()
    model.sem_seg_head = torch.nn.Linear(2, 1)
    runner = types.SimpleNamespace(model=model)
    hook = UniVSEMAHook(decay=0.5)
    hook.before_train(runner)
    assert torch.equal(model.backbone_t[0].weight, model.backbone[0].weight)
    with torch.no_grad():
        model.sem_seg_head.weight.add_(2.0)
    before = model.sem_seg_head_t.weight.clone()
    hook.before_train_iter(runner, 0)
    assert torch.allclose(model.sem_seg_head_t.weight, before + 1.0)
