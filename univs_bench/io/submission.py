"""Prediction folders as users have them: the server upload zip, or its unzipped ``Annotations/``.

The PNG-based benchmarks read ``--pred`` as a folder (CONTRACT.md). :func:`prediction_folder`
also takes the zip that is uploaded to the YouTube-VOS, MOSE, Ref-YouTube-VOS, ... servers
(``Annotations/<video>/<frame>.png``) and a folder whose only entry is ``Annotations/``. A zip
is unpacked into a private temporary folder (never the working directory), which is removed
when scoring ends; its members are checked first (no absolute or ``..`` paths, enough space).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator

from ..errors import InputError
from .files import file_kind

# benchmarks whose --pred is a folder of PNGs (vipseg: pred.json + pan_pred/)
FOLDER_BENCHMARKS = ("vspw", "vipseg", "davis17", "ytvos18", "mose", "refytvos", "refdavis17", "viposeg")
_LAYOUT = {
    "vipseg": "pred.json + pan_pred/<video>/<frame>.png",
    "refytvos": "Annotations/<video>/<exp_id>/<frame>.png",
    "refdavis17": "anno_0 .. anno_3/<seq>/<frame>.png",
}


def _entries(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and n != "__MACOSX")


def _descend(root: str, benchmark: str) -> str:
    """Step into ``Annotations/`` (the upload zip's root), through at most one wrapping folder."""
    if benchmark == "refytvos":  # its layout names Annotations/ itself; the evaluator handles it
        names = _entries(root)
        if len(names) == 1 and names[0] != "Annotations" and \
                os.path.isdir(os.path.join(root, names[0], "Annotations")):
            return os.path.join(root, names[0])
        return root
    for _ in range(2):
        names = _entries(root)
        if len(names) != 1 or not os.path.isdir(os.path.join(root, names[0])):
            return root
        inner = os.path.join(root, names[0])
        if names[0] == "Annotations":
            return inner
        if "Annotations" not in _entries(inner):
            return root
        root = inner
    return root


def _unzip(path: str, dest: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()
                       and "__MACOSX" not in m.filename.split("/")]
            for m in members:
                parts = m.filename.replace("\\", "/").split("/")
                if m.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                    raise InputError(f"{path}: member {m.filename!r} would unpack outside the archive")
            need = sum(m.file_size for m in members)
            free = shutil.disk_usage(dest).free
            if need > free:
                raise InputError(f"{path}: unpacking needs {need / 2**30:.1f} GiB, only "
                                 f"{free / 2**30:.1f} GiB free in {dest}")
            for m in members:
                zf.extract(m, dest)
    except InputError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise InputError(f"{path}: cannot read the zip ({e})") from None


@contextlib.contextmanager
def prediction_folder(benchmark: str, pred: str) -> Iterator[str]:
    """The folder to score for a PNG-based ``benchmark`` given ``--pred`` (folder, upload zip or
    unzipped upload); other benchmarks get ``pred`` unchanged. InputError naming ``pred`` when
    it is a file that is not a zip (VIPSeg: or its pred.json)."""
    if benchmark not in FOLDER_BENCHMARKS:
        yield pred
        return
    kind = file_kind(pred)
    if kind == "a folder":
        yield _descend(pred, benchmark)
        return
    if kind != "a regular file":
        raise InputError(f"{pred}: --pred is {kind}; {benchmark} predictions are a folder "
                         f"({_LAYOUT.get(benchmark, '<video>/<frame>.png')}) or the upload zip")
    if benchmark == "vipseg" and pred.endswith(".json"):
        yield pred
        return
    if not zipfile.is_zipfile(pred):
        with open(pred, "rb") as fh:
            magic = fh.read(4)
        if pred.lower().endswith(".zip") or magic.startswith(b"PK"):
            raise InputError(f"{pred}: cannot read the zip (truncated or corrupt?)")
        raise InputError(f"{pred}: a file, but {benchmark} predictions are a folder "
                         f"({_LAYOUT.get(benchmark, '<video>/<frame>.png')}) or the upload zip")
    tmp = tempfile.mkdtemp(prefix="univs-bench-pred-")
    try:
        _unzip(pred, tmp)
        yield _descend(tmp, benchmark)
    except InputError as e:  # name the member of the zip, not the temporary copy
        raise InputError(str(e).replace(tmp + os.sep, f"{pred}:").replace(tmp, f"{pred}:")) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
