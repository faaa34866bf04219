"""Reading input files safely: only regular files, each opened once, never blocking.

Every evaluator reads its GT and prediction files through :func:`read_regular`, so a named
pipe, a folder, a device or a dangling link given where a file is expected is named as what
it is (an open FIFO would block forever; a folder would be reported as "missing").
"""
from __future__ import annotations

import os
import stat

from ..errors import InputError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def file_kind(path: str | os.PathLike) -> str:
    """What ``path`` is: 'a regular file', 'a folder', 'a named pipe (FIFO)', 'a dangling
    symbolic link', 'a socket', 'a character device', 'a block device' or 'missing'."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a dangling symbolic link" if os.path.islink(path) else "missing"
    except NotADirectoryError:
        return "missing"
    return "a regular file" if stat.S_ISREG(mode) else _kind(mode)


def not_regular_error(path: str | os.PathLike, what: str, kind: str | None = None) -> InputError:
    """The InputError for ``path`` (a ``what``) that is not a readable regular file."""
    kind = kind or file_kind(path)
    if kind == "missing":
        return InputError(f"{path}: {what} not found")
    if kind == "a dangling symbolic link":
        return InputError(f"{path}: {what} is a dangling symbolic link (to {os.readlink(path)!r})")
    return InputError(f"{path}: {what} is {kind}, not a regular file")


def require_regular_file(path: str | os.PathLike, what: str = "file") -> None:
    """Raise InputError naming ``path`` unless it is a regular file (or a link to one)."""
    kind = file_kind(path)
    if kind != "a regular file":
        raise not_regular_error(path, what, kind)


def read_regular(path: str | os.PathLike, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``; InputError naming it otherwise.

    The file is opened non-blocking and checked with ``fstat`` on that same descriptor, so a
    FIFO never blocks and nothing is read twice.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise not_regular_error(path, what) from None
    except PermissionError:
        raise InputError(f"{path}: cannot read {what} (permission denied)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular_error(path, what, _kind(mode))
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            return fh.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    finally:
        if fd >= 0:
            os.close(fd)


def read_json_file(path: str | os.PathLike, what: str = "json file"):
    """Parse the regular file ``path`` as JSON; InputError naming it otherwise."""
    import json
    data = read_regular(path, what)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read json ({e})") from None


def require_folder(path: str | os.PathLike, what: str = "folder") -> None:
    """Raise InputError naming ``path`` unless it is a folder (or a link to one)."""
    kind = file_kind(path)
    if kind == "a folder":
        return
    if kind == "missing":
        raise InputError(f"{path}: {what} missing")
    if kind == "a dangling symbolic link":
        raise InputError(f"{path}: {what} is a dangling symbolic link (to {os.readlink(path)!r})")
    raise InputError(f"{path}: {what} is {kind}, not a folder")


SUBMISSION_JSON_NAMES = ("results.json", "pred.json")


def _pick_json(names: list[str], where: str, preferred: tuple[str, ...]) -> str:
    names = [n for n in names if n.endswith(".json") and "__MACOSX" not in n
             and not os.path.basename(n).startswith(".")]
    for want in preferred:
        pick = [n for n in names if os.path.basename(n) == want]
        if pick:
            break
    else:
        pick = names
    if len(pick) != 1:
        raise InputError(f"{where}: expected one {' or '.join(preferred)}, found "
                         f"{len(pick)} json files{': ' + ', '.join(sorted(pick)[:5]) if pick else ''}")
    return pick[0]


def read_json_source(path: str | os.PathLike, what: str = "json file",
                     preferred: tuple[str, ...] = SUBMISSION_JSON_NAMES):
    """Parse a json given as a file, a .zip holding it (the server upload) or a folder holding
    it (an unzipped upload); InputError naming the file otherwise.

    In a zip or folder, a member named as in ``preferred`` is taken, else the only json. The
    zip is read in memory: nothing is extracted.
    """
    import io
    import json
    import zipfile
    if file_kind(path) == "a folder":
        name = _pick_json(sorted(os.listdir(path)), f"{path}", preferred)
        path = os.path.join(path, name)
    data = read_regular(path, what)
    member = None
    try:
        if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                member = _pick_json(zf.namelist(), f"{path} (zip)", preferred)
                data = zf.read(member)
        return json.loads(data)
    except InputError:
        raise
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as e:
        where = f"{path}" + (f" (member {member})" if member else "")
        raise InputError(f"{where}: cannot read json ({e})") from None


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
