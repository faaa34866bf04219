"""MMEngine metrics, one per task family, registered in ``univs_bench.registry.METRICS``.

Each scores predictions in the unified schema straight from a model (no files written)
through the per-video kernels of ``univs-bench evaluate``; see :mod:`.base` for the
``process`` input contract. Importing this package imports mmengine (never torch);
the file evaluators never import it.

Example config::

    val_evaluator = [dict(type='VOSMetric', benchmark='davis17'),
                     dict(type='VISMetric', benchmark='ytvis21')]
"""
from .base import VideoMetric
from .burst import BURSTMetric
from .pvos import PVOSMetric
from .refvos import RefVOSMetric
from .vis import VISMetric
from .vos import VOSMetric
from .vps import VPSMetric
from .vss import VSSMetric

__all__ = ["VideoMetric", "VISMetric", "VSSMetric", "VPSMetric", "VOSMetric", "RefVOSMetric",
           "PVOSMetric", "BURSTMetric"]

# benchmark -> registered metric type
METRIC_OF_BENCHMARK = {
    "ytvis19": "VISMetric", "ytvis21": "VISMetric", "ovis": "VISMetric", "vspw": "VSSMetric",
    "vipseg": "VPSMetric", "davis17": "VOSMetric", "mose": "VOSMetric", "ytvos18": "VOSMetric",
    "refytvos": "RefVOSMetric", "refdavis17": "RefVOSMetric", "viposeg": "PVOSMetric",
    "burst": "BURSTMetric",
}
