"""``--cfg-options KEY=VALUE`` lists, shared by the CLI and ``train`` (below both)."""
from __future__ import annotations

from .errors import InputError


def parse_cfg_options(items: list[str]) -> dict:
    """``["a=1", "b=x", "c=[1,2]"]`` -> ``{"a": 1, "b": "x", "c": [1, 2]}`` (Python literals, else str)."""
    import ast
    out = {}
    for it in items or []:
        if "=" not in it:
            raise InputError(f"--cfg-options {it!r}: expected KEY=VALUE")
        k, v = it.split("=", 1)
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out
