"""univs-bench: one evaluation suite for unified video segmentation, with UniVS as reference model.

Importing the package is cheap on purpose: heavy modules (torch, mmengine models, cv2) are
imported only by the commands that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate"]


def __getattr__(name):
    # ``from univs_bench import evaluate`` without importing the evaluators (or torch) eagerly
    if name == "evaluate":
        from .evaluators.api import evaluate
        return evaluate
    raise AttributeError(f"module 'univs_bench' has no attribute {name!r}")
