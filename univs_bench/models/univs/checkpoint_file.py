"""Loading checkpoint files safely (torch >= 2.6 ``weights_only``), below every model module.

``load_checkpoint_file`` loads with ``weights_only=True`` and an allow-list of the classes
MMEngine checkpoints hold (``HistoryBuffer``, numpy values), and detectron2 ``.pkl`` pickles
of numpy arrays with a restricted unpickler; arbitrary objects are unpickled only when the
caller opts in (``allow_pickle=True``, for trusted files). ``install_mmengine_loader`` makes
MMEngine's own loader (``runner.resume``, ``mmengine.runner.load_checkpoint``) use it.
"""
from __future__ import annotations

import pickle
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import torch


def _safe_globals() -> list:
    import numpy as np
    allowed = [np.ndarray, np.dtype, OrderedDict]
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy >= 2 moved the module; both paths may appear in files
        from numpy._core.multiarray import _reconstruct, scalar
    allowed += [_reconstruct, scalar]
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
        allowed.append(HistoryBuffer)
    except ImportError:
        pass
    # MMEngine pickles HistoryBuffer's statistics as getattr(HistoryBuffer, 'min'); torch's
    # weights-only unpickler only *calls* allow-listed objects, so getattr cannot reach code.
    import builtins
    allowed.append(builtins.getattr)
    return allowed


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickler for detectron2 ``.pkl`` weights: numpy arrays and plain containers only."""

    _ok: ClassVar[set[tuple[str, str]]] = {("collections", "OrderedDict"), ("numpy", "ndarray"), ("numpy", "dtype"),
           ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
           ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self._ok or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed")


def load_checkpoint_file(path: str | Path, map_location="cpu", allow_pickle: bool = False):
    """Load a checkpoint (torch zip/legacy file or detectron2 ``.pkl``) without running
    arbitrary pickled code unless ``allow_pickle`` (trusted files only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".pkl":
        try:
            with open(path, "rb") as f:
                return _NumpyUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as e:
            if not allow_pickle:
                raise ValueError(f"{path}: {e}; pass allow_pickle=True if the file is trusted") from e
            with open(path, "rb") as f:
                return pickle.load(f, encoding="latin1")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if not allow_pickle:
            raise ValueError(
                f"{path}: cannot be loaded with weights_only=True ({str(e).splitlines()[0]}); "
                "pass allow_pickle=True if the file is trusted") from e
        warnings.warn(f"{path}: loading with weights_only=False (trusted file)", stacklevel=2)
        return torch.load(path, map_location=map_location, weights_only=False)


def install_mmengine_loader(allow_pickle: bool = False) -> None:
    """Make MMEngine's local-file loader (resume, load_checkpoint) use ``load_checkpoint_file``."""
    from mmengine.runner.checkpoint import CheckpointLoader

    def _load_local(filename, map_location=None):
        return load_checkpoint_file(filename, map_location=map_location or "cpu",
                                    allow_pickle=allow_pickle)

    CheckpointLoader.register_scheme(prefixes="", force=True)(_load_local)
