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


ENTRY_POINT_GROUP = "univs_bench.models"
_entry_points_loaded = False


def load_entry_points() -> None:
    """Import the modules of installed packages that declare models in the
    ``univs_bench.models`` entry-point group (``[project.entry-points."univs_bench.models"]
    my_model = "my_pkg.models"``); a plug-in that fails to import is named, never fatal."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    import sys
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 -- a broken third-party plug-in must not stop the tool
            print(f"univs-bench: warning: plug-in {ep.name} ({ep.value}) failed to import: "
                  f"{type(e).__name__}: {e}", file=sys.stderr)


def load_plugin(spec: str) -> None:
    """Import a user's model module: a dotted module name, or a path to a ``.py`` file
    (``--plugin colour_model.py``); its ``@BENCHMARK_MODELS.register_module`` calls register it."""
    import importlib
    import importlib.util
    import os
    import sys

    from .errors import InputError
    if spec.endswith(".py") or os.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise InputError(f"--plugin {spec}: file not found")
        name = "univs_bench_plugin_" + os.path.splitext(os.path.basename(path))[0]
        mod_spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = mod
        sys.path.insert(0, os.path.dirname(path))  # its own sibling imports
        try:
            mod_spec.loader.exec_module(mod)
        finally:
            sys.path.remove(os.path.dirname(path))
        return
    sys.path.insert(0, os.getcwd())  # like `python -m`: modules beside the user
    try:
        importlib.import_module(spec)
    except ModuleNotFoundError as e:
        if e.name and spec.startswith(e.name):
            raise InputError(f"--plugin {spec}: no module named {e.name!r} (give a module importable from "
                             "here or a path to a .py file)") from None
        raise
    finally:
        sys.path.remove(os.getcwd())


def find_model(name: str):
    """The class registered as ``name`` (built-ins, then entry points), or InputError with the
    nearest name."""
    from .errors import InputError
    if name not in BENCHMARK_MODELS.module_dict:
        BENCHMARK_MODELS.import_from_location()
    if name not in BENCHMARK_MODELS.module_dict:
        load_entry_points()
    cls = BENCHMARK_MODELS.module_dict.get(name)
    if cls is None:
        from .benchmarks import suggest
        raise InputError(f"unknown model {name!r}{suggest(name, BENCHMARK_MODELS.module_dict)}; "
                         "`univs-bench list models` shows the choices (your own model: --plugin MODULE_OR_FILE.py)")
    return cls


def list_models() -> list[str]:
    """Names usable as ``univs-bench run --model NAME`` (built-ins and installed plug-ins)."""
    BENCHMARK_MODELS.import_from_location()
    load_entry_points()
    return sorted(BENCHMARK_MODELS.module_dict)


def build(registry: Registry, cfg: dict):
    """``registry.build(cfg)`` under the univs_bench scope.

    An mmengine ``DefaultScope`` left by another Runner (scope 'mmengine', say) would
    otherwise send the build to the root registry, which does not know our classes.
    """
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(SCOPE):
        return registry.build(cfg)
