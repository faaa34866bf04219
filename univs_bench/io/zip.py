"""Zip packaging for server submissions (YouTube-VIS, YouTube-VOS, MOSE, ...)."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .atomic import atomic_path


def zip_folder(src: str | os.PathLike, out_zip: str | os.PathLike, arc_root: str = "",
               suffixes: tuple[str, ...] | None = None) -> Path:
    """Zip the submission files under ``src`` into ``out_zip`` (atomically), paths prefixed by ``arc_root``.

    ``arc_root='Annotations'`` puts the files under ``Annotations/`` at the root of the
    archive, as the YouTube-VOS and MOSE servers want. Only regular files whose name ends in
    one of ``suffixes`` (all, when None) are packed, and never a hidden path (a component
    starting with '.'): temporary files of an interrupted write, editor or OS debris.
    """
    src = Path(src)
    files = sorted(f for f in src.rglob("*")
                   if f.is_file() and not f.is_symlink()
                   and not any(part.startswith(".") for part in f.relative_to(src).parts)
                   and (suffixes is None or f.name.endswith(tuple(suffixes))))
    with atomic_path(out_zip, suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                rel = f.relative_to(src).as_posix()
                zf.write(f, f"{arc_root.rstrip('/')}/{rel}" if arc_root else rel)
    return Path(out_zip)


def zip_files(members: dict[str, bytes], out_zip: str | os.PathLike) -> Path:
    """Write an archive whose members are ``{name: content}`` (e.g. ``results.json``)."""
    with atomic_path(out_zip, suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    return Path(out_zip)
