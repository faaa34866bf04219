"""One process at a time in a work dir: an advisory ``fcntl.flock`` on ``WORK/.univs-bench.lock``.

The lock file names its holder (pid, host, start time, command) so that a second run can say
who is there. The kernel drops a flock when its holder dies, so the lock of a killed run is
taken over by the next one without any clean-up; the stale holder line is only reported.
Re-entrant within a process (``ablate`` runs several Runners in one work dir).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from ..errors import InputError

LOCK_NAME = ".univs-bench.lock"
_HELD: dict[str, list] = {}  # resolved lock path -> [file object, depth]


def _holder(f) -> dict:
    f.seek(0)
    try:
        return json.loads(f.read() or "{}")
    except ValueError:
        return {}


def _describe(h: dict) -> str:
    if not h:
        return "another process (no holder recorded)"
    return (f"pid {h.get('pid')} on {h.get('host')} since {h.get('start')}"
            + (f" ({h['command']})" if h.get("command") else ""))


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


@contextlib.contextmanager
def work_dir_lock(work_dir: str | os.PathLike, wait: bool = False, log=None):
    """Hold the work dir's lock for the block.

    If another process holds it: with ``wait`` block until it is free (saying so once),
    else raise InputError naming the holder.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    path = work / LOCK_NAME
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    f = open(path, "a+")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _describe(_holder(f))
            if not wait:
                raise InputError(f"{work} is in use by {who}; wait for it to finish, pass --wait, "
                                 "or use another --work-dir") from None
            log(f"waiting for {work}: in use by {who}")
            fcntl.flock(f, fcntl.LOCK_EX)
        except OSError as e:  # a file system without locks (some NFS mounts): say so, go on
            log(f"{work}: cannot lock ({e.strerror}); running without protection against a concurrent run")
            _HELD[key] = [f, 1]
            try:
                yield
            finally:
                del _HELD[key]
            return
        old = _holder(f)
        if old.get("pid") and not (old.get("host") == socket.gethostname() and _alive(old["pid"])):
            log(f"{work}: taking over the lock of {_describe(old)}, which is gone")
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                            "start": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            "command": " ".join(os.path.basename(a) if i == 0 else a
                                                for i, a in enumerate(sys.argv))[:200]}))
        f.flush()
        _HELD[key] = [f, 1]
        try:
            yield
        finally:
            del _HELD[key]
            f.seek(0)
            f.truncate()  # a finished run leaves no holder behind
            f.flush()
            fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        f.close()
