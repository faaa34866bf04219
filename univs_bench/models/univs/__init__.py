"""UniVS reference model (architecture, checkpoint conversion).

Importing this package imports torch; ``univs_bench.models`` imports it to register
``UniVS`` and ``UniVSDataPreprocessor`` in ``univs_bench.registry.MODELS``.
"""
from .univs import UniVS, UniVSDataPreprocessor

__all__ = ["UniVS", "UniVSDataPreprocessor"]
