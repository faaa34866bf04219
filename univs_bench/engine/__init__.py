"""Training engine pieces registered in ``univs_bench.registry.HOOKS`` (the EMA teacher hook)."""
from ..models.univs.ema import UniVSEMAHook  # noqa: F401
