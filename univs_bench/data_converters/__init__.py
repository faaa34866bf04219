"""Official dataset layouts -> unified schema (converters), and predictions -> official formats (writers).

One module per dataset family; importing this package registers every converter in
``univs_bench.registry.CONVERTERS``.
"""
from . import burst, pvos, refvos, vis, vos, vps, vss  # noqa: F401
from .base import BaseConverter, BaseWriter, BenchData, ConvertReport, MaskResolver  # noqa: F401

# --------------------------------------------------------------------------- per-benchmark wiring
# benchmark -> how `univs-bench run` reads its raw root and writes its submission. Paths are
# relative to the benchmark's root (``--data-root/<benchmark>`` or the synthetic suite).
WRITERS = {"palette": vos.PaletteWriter, "refytvos": refvos.RefYouTubeVOSWriter,
           "refdavis": refvos.RefDAVISWriter, "burst": burst.BURSTWriter,
           "results_json": vis.ResultsJsonWriter, "vspw": vss.VSPWWriter, "vipseg": vps.VIPSegWriter}


# The official name of each benchmark's validation split; `val` and `valid` are aliases of it.
VAL_SPLIT = {"davis17": "val", "vspw": "val", "vipseg": "val", "burst": "val", "refdavis17": "val"}
SERVER_ONLY = ("ytvis19", "ytvis21", "ovis", "mose", "ytvos18", "refytvos")


def bench_data(name: str, root=None):
    """The :class:`~univs_bench.data_converters.base.BenchData` of benchmark ``name`` read from ``root``.

    Server-only benchmarks are scored on ``valid_full/`` (a dev split made by `univs-bench
    split`, or the synthetic suite) when ``root`` has it; on an official download (no
    ``valid_full/``) the released ``valid`` split is predicted and ``gt`` is None: the run
    writes the upload zip and no metrics.
    """
    from pathlib import Path

    table = {
        "ytvis19": BenchData(("ytvis19", {}), "valid_full", "valid_full/valid.json", ("results_json", {})),
        "ytvis21": BenchData(("ytvis21", {}), "valid_full", "valid_full/instances.json", ("results_json", {})),
        "ovis": BenchData(("ovis", {}), "valid_full", "valid_full/annotations_valid.json", ("results_json", {})),
        "vspw": BenchData(("vspw", {}), "val", "VSPW_480p", ("vspw", {}), data="VSPW_480p"),
        "vipseg": BenchData(("vipseg", {}), "val", "VIPSeg_720P", ("vipseg", {}), data="VIPSeg_720P"),
        "davis17": BenchData(("davis", {}), "val", "DAVIS", ("palette", {}), data="DAVIS"),
        "mose": BenchData(("mose", {}), "valid_full", "valid_full", ("palette", {"zip_root": "Annotations"})),
        "ytvos18": BenchData(("ytvos", {}), "valid_full", "valid_full", ("palette", {"zip_root": "Annotations"})),
        "refytvos": BenchData(("refytvos", {}), "valid_full", "valid_full", ("refytvos", {})),
        "refdavis17": BenchData(("refdavis", {}), "val", "DAVIS", ("refdavis", {})),
        "burst": BenchData(("burst", {}), "val", "annotations/val", ("burst", {"split": "val"})),
        "viposeg": BenchData(("viposeg", {}), "valid", "valid", ("palette", {"frames": "annotated"})),
    }
    if name not in table:
        from ..errors import InputError
        raise InputError(f"{name}: no converter/writer wiring yet for `univs-bench run`")
    spec = table[name]
    if name in SERVER_ONLY and root is not None and not (Path(root) / "valid_full").is_dir():
        spec.split, spec.gt = "valid", None  # an official download: the GT-less released split
    return spec


def converter_name(name: str) -> str:
    """The converter of a benchmark name or alias (``davis17``, ``DAVIS``, ``ytvos`` ...)."""
    from ..benchmarks import get_benchmark
    return bench_data(get_benchmark(name).name).converter[0]


def canonical_split(benchmark: str, split: str) -> str:
    """``val``/``valid`` -> the benchmark's official name of its validation split; others unchanged."""
    from ..benchmarks import get_benchmark
    if split in ("val", "valid"):
        return VAL_SPLIT.get(get_benchmark(benchmark).name, "valid")
    return split


def build_writer(spec):
    name, kw = spec.writer
    return WRITERS[name](**kw)
