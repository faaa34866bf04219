"""Run `univs-bench` as a user would: a fresh process on this checkout's code."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli(args, cwd, env_extra: dict | None = None, timeout: int = 300, **kw) -> subprocess.CompletedProcess:
    extra = dict(env_extra or {})
    path = [str(REPO)] + ([extra.pop("PYTHONPATH")] if "PYTHONPATH" in extra else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "OMP_NUM_THREADS": "1", **extra}
    return subprocess.run([sys.executable, "-m", "univs_bench.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def popen(args, cwd, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "univs_bench.cli", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def doc_commands(text: str, prefix: str) -> list[list[str]]:
    """The argument lists of the lines of ``text`` starting with ``prefix`` (``univs-bench`` dropped)."""
    return [shlex.split(ln.strip())[1:] for ln in text.splitlines() if ln.strip().startswith(prefix)]


def code_block(text: str, lang: str = "python") -> str:
    return re.search(rf"```{lang}\n(.*?)```", text, re.S).group(1)
