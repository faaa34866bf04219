"""MMEngine child registries of univs-bench (scope ``univs_bench``).

Each registry names the modules where its members live (``locations``), so that
``MODELS.build(dict(type='UniVS', ...))`` imports them on first use and nothing heavy is
imported when this module is.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

SCOPE = "univs_bench"

MODELS = Registry("model", parent=MMENGINE_MODELS, scope=SCOPE,
                  locations=["univs_bench.models.univs"])
DATASETS = Registry("dataset", parent=MMENGINE_DATASETS, scope=SCOPE,
                    locations=["univs_bench.datasets"])
DATA_SAMPLERS = Registry("data sampler", parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE,
                         locations=["univs_bench.datasets"])
TRANSFORMS = Registry("transform", parent=MMENGINE_TRANSFORMS, scope=SCOPE,
                      locations=["univs_bench.datasets.transforms"])
METRICS = Registry("metric", parent=MMENGINE_METRICS, scope=SCOPE,
                   locations=["univs_bench.evaluators.metrics"])
HOOKS = Registry("hook", parent=MMENGINE_HOOKS, scope=SCOPE,
                 locations=["univs_bench.models.univs.ema"])
# The rest of MMEngine's kinds, as plain children: a Runner built under scope 'univs_bench'
# finds them here instead of warning that the scope has none.
from mmengine import registry as _mm  # noqa: E402

_PLAIN = {"RUNNERS": "runner", "RUNNER_CONSTRUCTORS": "runner constructor", "LOOPS": "loop",
          "OPTIMIZERS": "optimizer", "OPTIM_WRAPPERS": "optim_wrapper",
          "OPTIM_WRAPPER_CONSTRUCTORS": "optimizer wrapper constructor",
          "PARAM_SCHEDULERS": "parameter scheduler", "MODEL_WRAPPERS": "model_wrapper",
          "WEIGHT_INITIALIZERS": "weight initializer", "EVALUATOR": "evaluator",
          "VISBACKENDS": "vis_backend", "VISUALIZERS": "visualizer", "LOG_PROCESSORS": "log_processor",
          "FUNCTIONS": "function"}
for _name, _kind in _PLAIN.items():
    globals()[_name] = Registry(_kind, parent=getattr(_mm, _name), scope=SCOPE)

# Not MMEngine kinds: our own catalogs, no parent.
CONVERTERS = Registry("converter", scope=SCOPE, locations=["univs_bench.data_converters"])
BENCHMARK_MODELS = Registry("benchmark model", scope=SCOPE,
                            locations=["univs_bench.models.zoo", "univs_bench.models.univs_zoo"])


def list_models() -> list[str]:
    """Names usable as ``univs-bench run --model NAME``."""
    BENCHMARK_MODELS.import_from_location()
    return sorted(BENCHMARK_MODELS.module_dict)


def build(registry: Registry, cfg: dict):
    """``registry.build(cfg)`` under the univs_bench scope.

    An mmengine ``DefaultScope`` left by another Runner (scope 'mmengine', say) would
    otherwise send the build to the root registry, which does not know our classes.
    """
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(SCOPE):
        return registry.build(cfg)
