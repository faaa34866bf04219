"""Atomic writes: write to a temporary name beside the target, then rename.

A reader (or a resumed run) therefore never sees a half-written file or folder. Every
temporary name has one pattern, ``.<target name>.<random>.univs-tmp`` (:data:`TMP_SUFFIX`),
so that what a killed process left behind is recognisable and removable
(:func:`remove_temp_files`).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

TMP_SUFFIX = ".univs-tmp"



def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_replaceable(path: str | os.PathLike) -> None:
    """Raise InputError unless ``path`` is absent or a regular file (not a link): a rename onto
    a link, device or folder would replace it (``--out /dev/stdout`` as root replaced the
    link with a regular file)."""
    from ..errors import InputError
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        parent = Path(path).parent
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{path}: cannot write there, {parent} is not a folder") from None
        return
    except NotADirectoryError:
        raise InputError(f"{path}: cannot write there, a parent is not a folder") from None
    if stat.S_ISREG(mode):
        return
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket")
    raise InputError(f"{path}: is {kind}; an output must be a regular file path (not replaced)")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    On an exception the temporary file (or folder) is removed and ``path`` is untouched.
    ``path`` must be absent or a regular file (``check_replaceable``), checked before and again
    just before the rename.
    ``suffix`` is accepted for callers' clarity only: the temporary name always ends in
    :data:`TMP_SUFFIX`, so writers must name their format explicitly.
    """
    path = Path(path)
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600; outputs are meant to be shared like any file
            os.chmod(tmp, 0o666 & ~_umask())
        check_replaceable(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary folder beside ``path``; it replaces ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old{TMP_SUFFIX}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def find_temp_files(root: str | os.PathLike) -> list[Path]:
    """Temporary files and folders of :func:`atomic_path`/:func:`atomic_dir` under ``root``."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in list(dirnames):
            if n.endswith(TMP_SUFFIX):
                found.append(Path(dirpath) / n)
                dirnames.remove(n)  # its content goes with it
        found += [Path(dirpath) / n for n in filenames if n.endswith(TMP_SUFFIX)]
    return sorted(found)


def remove_temp_files(root: str | os.PathLike) -> list[Path]:
    """Delete what interrupted atomic writes left under ``root``; returns the removed paths.

    Only safe while no other process writes under ``root`` (the runner holds its work-dir lock).
    """
    found = find_temp_files(root)
    for p in found:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return found
