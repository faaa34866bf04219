"""The twelve benchmarks of univs-bench: task, dataset family, metrics and formats.

This module is pure Python on purpose: `univs-bench list` and `univs-bench evaluate` read it
without importing torch or mmengine. Metric names and their order follow ../shared/CONTRACT.md;
the first metric of each benchmark is its headline number.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InputError

TASKS = {
    "vis": "video instance segmentation",
    "vss": "video semantic segmentation",
    "vps": "video panoptic segmentation",
    "vos": "video object segmentation",
    "refvos": "referring video object segmentation",
    "pvos": "panoptic video object segmentation",
}

_VIS_METRICS = ("AP", "AP50", "AP75", "AP_s", "AP_m", "AP_l",
                "AR1", "AR10", "AR100", "AR_s", "AR_m", "AR_l")
_OVIS_EXTRA = ("AP_light", "AP_medium", "AP_heavy", "AR_light", "AR_medium", "AR_heavy")
_JF_METRICS = ("J&F", "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay")
_BURST_HOTA = tuple(f"{m}_{s}" for m in ("HOTA", "DetA", "AssA")
                    for s in ("all", "common", "uncommon"))


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: what it scores and how its files look.

    Attributes:
        name: stable CLI name (``davis17``).
        title: name as papers print it.
        task: one of :data:`TASKS`.
        dataset: dataset family, the converter/writer key (``davis``, ``ytvis``, ...).
        metrics: metric names in print order; the first is the headline.
        gt_public: whether the official val GT is public (else scoring needs a dev split).
        evaluator: ``module:function`` that scores files, imported only when used.
        gt_layout / pred_layout: one-line descriptions, as in CONTRACT.md.
        task_metrics: for benchmarks with sub-tasks (BURST), metric names per ``--task``.
    """

    name: str
    title: str
    task: str
    dataset: str
    metrics: tuple[str, ...]
    gt_public: bool
    evaluator: str
    gt_layout: str
    pred_layout: str
    task_metrics: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default_task: str | None = None

    @property
    def headline(self) -> str:
        return self.metrics[0]

    def metrics_for(self, task: str | None) -> tuple[str, ...]:
        if self.task_metrics:
            return self.task_metrics[task or self.default_task]
        return self.metrics


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    Benchmark("ytvis19", "YouTube-VIS 2019", "vis", "ytvis", _VIS_METRICS, False,
              "univs_bench.evaluators.vis:evaluate_files",
              "valid.json (videos, categories, annotations)", "results.json or .zip"),
    Benchmark("ytvis21", "YouTube-VIS 2021", "vis", "ytvis", _VIS_METRICS, False,
              "univs_bench.evaluators.vis:evaluate_files",
              "valid.json (videos, categories, annotations)", "results.json or .zip"),
    Benchmark("ovis", "OVIS", "vis", "ovis", _VIS_METRICS + _OVIS_EXTRA, False,
              "univs_bench.evaluators.vis:evaluate_files",
              "annotations json with per-frame occlusion", "results.json or .zip"),
    Benchmark("vspw", "VSPW", "vss", "vspw",
              ("mIoU", "mVC8", "mVC16", "pixel_acc", "mean_class_acc", "fwIoU"), True,
              "univs_bench.evaluators.vss:evaluate_files",
              "data/<video>/mask/<frame>.png + val.txt", "<video>/<frame>.png class ids"),
    Benchmark("vipseg", "VIPSeg", "vps", "vipseg",
              ("VPQ", "VPQ_th", "VPQ_st", "VPQ@1", "VPQ@2", "VPQ@4", "VPQ@6", "VPQ@8",
               "STQ", "AQ", "SQ"), True,
              "univs_bench.evaluators.vps:evaluate_files",
              "panoptic_gt_VIPSeg_val.json + panomasksRGB/, or panomasks/ + val.txt",
              "pred.json + pan_pred/<video>/<frame>.png"),
    Benchmark("davis17", "DAVIS 2017", "vos", "davis", _JF_METRICS, True,
              "univs_bench.evaluators.vos:evaluate_files",
              "Annotations/480p/<seq>/ + ImageSets/2017/val.txt", "<seq>/<frame>.png"),
    Benchmark("ytvos18", "YouTube-VOS 2018", "vos", "ytvos",
              ("G", "J_seen", "F_seen", "J_unseen", "F_unseen"), False,
              "univs_bench.evaluators.vos:evaluate_files",
              "Annotations/<video>/ (full GT) + meta.json", "<video>/<frame>.png"),
    Benchmark("mose", "MOSE", "vos", "mose", _JF_METRICS, False,
              "univs_bench.evaluators.vos:evaluate_files",
              "Annotations/<video>/ (full GT)", "<video>/<frame>.png"),
    Benchmark("burst", "BURST", "vos", "burst", _BURST_HOTA, True,
              "univs_bench.evaluators.burst:evaluate_files",
              "all_classes.json (+ common/uncommon)", "one json in the BURST schema",
              task_metrics={
                  "class_guided": _BURST_HOTA + ("AP_all", "AP_common", "AP_uncommon"),
                  "exemplar_guided": _BURST_HOTA,
                  "open_world": ("OWTA_all", "OWTA_common", "OWTA_uncommon"),
              },
              default_task="exemplar_guided"),
    Benchmark("refytvos", "Ref-YouTube-VOS", "refvos", "refytvos", ("J&F", "J", "F"), False,
              "univs_bench.evaluators.refvos:evaluate_files",
              "meta_expressions.json + Annotations/<video>/", "Annotations/<video>/<exp_id>/<frame>.png"),
    Benchmark("refdavis17", "Ref-DAVIS 2017", "refvos", "refdavis",
              ("J&F", "J_mean", "F_mean", "J&F_anno0", "J&F_anno1", "J&F_anno2", "J&F_anno3"),
              True, "univs_bench.evaluators.refvos:evaluate_files",
              "Annotations_unsupervised/480p/ + ImageSets/2017/val.txt",
              "anno_0..anno_3/<seq>/<frame>.png"),
    Benchmark("viposeg", "VIPOSeg", "pvos", "viposeg",
              ("G", "G_thing_seen", "G_thing_unseen", "G_stuff_seen", "G_stuff_unseen",
               "IoU_thing_seen", "IoU_thing_unseen", "IoU_stuff_seen", "IoU_stuff_unseen",
               "bIoU_thing_seen", "bIoU_thing_unseen", "bIoU_stuff_seen", "bIoU_stuff_unseen"),
              True, "univs_bench.evaluators.pvos:evaluate_files",
              "Annotations/ (reference) + Annotations_gt/ + obj_class.json",
              "<video>/<frame>.png object ids"),
]}


# Dataset (converter) names and other spellings users meet, accepted wherever a benchmark is.
ALIASES = {"davis": "davis17", "davis2017": "davis17", "ytvos": "ytvos18", "youtube-vos": "ytvos18",
           "refdavis": "refdavis17", "ref-davis17": "refdavis17", "ref-ytvos": "refytvos",
           "ytvis": "ytvis19", "ytvis2019": "ytvis19", "ytvis2021": "ytvis21"}


def suggest(name: str, choices) -> str:
    """`` (did you mean X?)`` for the nearest of ``choices`` to ``name``, or ''."""
    import difflib
    choices = list(choices)
    low = {c.lower(): c for c in choices}
    near = difflib.get_close_matches(name.lower(), list(low), n=1, cutoff=0.6)
    return f" (did you mean {low[near[0]]}?)" if near else ""


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name`` (case-insensitive; dataset names such as ``davis`` are
    aliases), or InputError suggesting the nearest name and listing the valid ones."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key in BENCHMARKS:
        return BENCHMARKS[key]
    raise InputError(f"unknown benchmark {name!r}{suggest(key, list(BENCHMARKS) + list(ALIASES))}; "
                     f"choose from {', '.join(BENCHMARKS)}")


def benchmarks_for_tasks(tasks: str | list[str]) -> list[Benchmark]:
    """Benchmarks of the given tasks (``'all'`` or task names such as ``['vos', 'vis']``)."""
    if tasks == "all" or tasks == ["all"]:
        return list(BENCHMARKS.values())
    if isinstance(tasks, str):
        tasks = [t for t in tasks.split(",") if t]
    tasks = [t.strip().lower() for t in tasks]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise InputError(f"unknown task(s) {unknown}{suggest(unknown[0], TASKS)}; "
                         f"choose from {', '.join(TASKS)} or 'all'")
    return [b for b in BENCHMARKS.values() if b.task in tasks]


def headline_metric(doc: dict) -> str | None:
    """The headline metric of a metrics.json: its benchmark's first metric for its task, else
    the document's first metric."""
    b = BENCHMARKS.get(doc.get("benchmark", ""))
    if b is not None:
        try:
            return b.metrics_for(doc.get("task"))[0]
        except KeyError:
            pass
    return next(iter(doc.get("metrics", {})), None)
