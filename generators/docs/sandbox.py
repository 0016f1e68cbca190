"""Run untrusted rendering code outside the generator's process.

:class:`Sandbox` starts one long-lived worker (``_zygote.py``) per generator process, under
``unshare -n`` (a network namespace with no interfaces) when that works here, and sends it jobs.
Each job runs in a forked child with a time limit, an address-space limit (``RLIMIT_AS``), its own
temporary directory, and an audit hook refusing sockets and subprocesses (the only network guard
when ``unshare`` is unavailable). A child that crashes, hangs or runs out of memory is a
:class:`RenderError`; the worker survives, and is restarted if it ever dies.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class RenderError(RuntimeError):
    """The code did not render (error, time limit, memory limit, refused network...)."""


@dataclass(frozen=True)
class Limits:
    timeout: float = 20.0  # seconds per render (the reference used a 20 s SIGALRM)
    mem_mb: int = 1024  # address space a job may add on top of the worker's
    start_timeout: float = 60.0


@functools.lru_cache(maxsize=1)
def netns_prefix() -> tuple[str, ...]:
    """``("unshare", "-n")`` if a private network namespace can be created here, else ``()``."""
    exe = shutil.which("unshare")
    if not exe:
        return ()
    try:
        ok = subprocess.run([exe, "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return (exe, "-n") if ok else ()


class Sandbox:
    """A thread-safe handle on one sandbox worker; jobs run one at a time."""

    def __init__(self, limits: Limits | None = None, inline: bool = False):
        self.limits = limits or Limits()
        self.inline = inline  # a warm in-process vl-convert worker instead of fork-per-job
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self.isolation = "netns+audit" if netns_prefix() else "audit-hook"

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        argv = [*netns_prefix(), sys.executable, "-m", "generators.docs._zygote"]
        if self.inline:
            argv += ["--inline", str(self.limits.mem_mb)]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, env=env, cwd=root)
        line = self._readline(proc, self.limits.start_timeout)
        if not line or not json.loads(line).get("ready"):
            proc.kill()
            raise RenderError("the sandbox worker did not start")
        return proc

    @staticmethod
    def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        return proc.stdout.readline() if ready else ""

    def run(self, kind: str, files: dict[str, str | bytes], outputs: tuple[str, ...], **job: Any) -> dict[str, bytes]:
        """Write ``files`` to a fresh temp dir, run the job, return the ``outputs`` it wrote."""
        with tempfile.TemporaryDirectory(prefix="pixmo-sbx-") as tmp:
            for name, content in files.items():
                mode = "wb" if isinstance(content, bytes) else "w"
                with open(os.path.join(tmp, name), mode) as f:
                    f.write(content)
            reply = self._send({"kind": kind, "dir": tmp, "timeout": job.pop("timeout", self.limits.timeout),
                                "mem_mb": job.pop("mem_mb", self.limits.mem_mb), **job})
            logfile = Path(tmp, "log.txt")
            tail = logfile.read_text(errors="replace")[-800:].strip() if logfile.exists() else ""
            if not reply.get("ok"):
                raise RenderError(f"{reply.get('error', 'failed')}" + (f": {_last_line(tail)}" if tail else ""))
            found = {}
            for name in outputs:
                p = Path(tmp, name)
                if p.exists() and p.stat().st_size:
                    found[name] = p.read_bytes()
            if not found:
                raise RenderError(f"the code ran but wrote none of {outputs}" + (f": {_last_line(tail)}" if tail else ""))
            return found

    def _send(self, job: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for attempt in range(2):
                if self._proc is None or self._proc.poll() is not None:
                    self._proc = self._start()
                assert self._proc.stdin is not None
                try:
                    self._proc.stdin.write(json.dumps(job) + "\n")
                    self._proc.stdin.flush()
                    line = self._readline(self._proc, float(job["timeout"]) + (0 if self.inline else 10))
                except (BrokenPipeError, OSError):
                    line = ""
                if line:
                    return json.loads(line)
                if self.inline and self._proc.poll() is None:  # still running: the job hit the time limit
                    self.close()
                    return {"ok": False, "error": f"time limit of {job['timeout']}s exceeded"}
                log.warning("sandbox worker stopped answering (attempt %d); restarting it", attempt + 1)
                self.close()
            return {"ok": False, "error": "the sandbox worker failed twice"}

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
