"""Run untrusted rendering code outside the generator's process.

:class:`Sandbox` starts one long-lived worker (``_zygote.py``) per generator process inside a
:class:`~generators.docs.jail.Jail` (bubblewrap: unprivileged user, cleared environment, no network,
no host files but the Python install and its libraries, a private scratch dir) and sends it jobs.
Each job runs in a forked child with a time limit, an address-space limit (``RLIMIT_AS``), a process
limit, its own directory under the scratch dir; every process it leaves behind is killed when it
ends. A child that crashes, hangs or runs out of memory is a :class:`RenderError`; the worker
survives, and is restarted if it ever dies.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.docs import jail
from generators.docs.jail import SCRATCH

log = logging.getLogger(__name__)


class RenderError(RuntimeError):
    """The code did not render (error, time limit, memory limit, refused network...)."""


@dataclass(frozen=True)
class Limits:
    timeout: float = 20.0  # seconds per render (the reference used a 20 s SIGALRM)
    mem_mb: int = 1024  # address space a job may add on top of the worker's
    start_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not (self.timeout > 0 and self.start_timeout > 0):
            raise ValueError(f"--timeout must be positive, got {self.timeout} (start: {self.start_timeout})")
        if self.mem_mb < 64:
            raise ValueError(f"mem_mb must be at least 64, got {self.mem_mb}")


ZYGOTE = Path(__file__).with_name("_zygote.py")
# LaTeX: paranoid file access (no absolute paths, no parent dirs, no dot files) on top of the jail;
# Graphviz: images only from an empty dir (GV_FILE_PATH also strips directories from image names).
RENDER_ENV = {"MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{SCRATCH}/.mpl", "OPENBLAS_NUM_THREADS": "1",
              "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
              "openin_any": "p", "openout_any": "p", "shell_escape": "f", "GV_FILE_PATH": f"{SCRATCH}/no-images/"}


class Sandbox:
    """A thread-safe handle on one sandbox worker. Fork-mode jobs run concurrently (the worker
    enforces each time limit); inline-mode (Vega-Lite) jobs run one at a time."""

    def __init__(self, limits: Limits | None = None, inline: bool = False):
        self.limits = limits or Limits()
        self.inline = inline  # a warm in-process vl-convert worker instead of fork-per-job
        self._proc: subprocess.Popen[str] | None = None
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()  # start/stop and writes
        self._serial = threading.Lock()  # inline mode: one job at a time
        self.isolation = "bwrap"
        self._scratch = ""

    def _start(self) -> None:
        jail.check()
        self._ensure_scratch()
        box = jail.Jail(self._scratch, ro_at=((str(ZYGOTE), "/sandbox/_zygote.py"),), env=RENDER_ENV, python=True)
        argv = [sys.executable, "-I", "/sandbox/_zygote.py"]
        if self.inline:
            argv += ["--inline", str(self.limits.mem_mb)]
        proc = box.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, env={})
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], self.limits.start_timeout)
        line = proc.stdout.readline() if ready else ""
        if not line or not json.loads(line).get("ready"):
            proc.kill()
            proc.wait()
            raise RenderError("the sandbox worker did not start")
        pending: dict[int, Future[dict[str, Any]]] = {}
        self._proc, self._pending = proc, pending
        threading.Thread(target=self._read, args=(proc, pending), daemon=True, name="sandbox-reader").start()

    @staticmethod
    def _read(proc: subprocess.Popen[str], pending: dict[int, Future[dict[str, Any]]]) -> None:
        """Hand each reply to the job waiting for it; when the worker dies, fail what is left."""
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            fut = pending.pop(msg.get("id"), None)
            if fut is not None:
                fut.set_result(msg)
        for jid in list(pending):
            fut = pending.pop(jid, None)
            if fut is not None and not fut.done():
                fut.set_result({"ok": False, "error": "the sandbox worker stopped"})

    def run(self, kind: str, files: Mapping[str, str | bytes], outputs: tuple[str, ...], **job: Any) -> dict[str, bytes]:
        """Write ``files`` to a fresh temp dir, run the job, return the ``outputs`` it wrote."""
        with self._lock:
            self._ensure_scratch()
        tmp = tempfile.mkdtemp(prefix="job-", dir=self._scratch)
        # every host-side file operation goes through this fd with O_NOFOLLOW: the sandbox user
        # owns the dir and could plant links, and the host has more rights than the sandbox
        dfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name, content in files.items():
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dfd)
                with os.fdopen(fd, "wb") as f:
                    f.write(content.encode() if isinstance(content, str) else content)
            jail.give_to_sandbox(tmp)
            inside = f"{SCRATCH}/{os.path.basename(tmp)}"
            reply = self._send({"kind": kind, "dir": inside, "timeout": job.pop("timeout", self.limits.timeout),
                                "mem_mb": job.pop("mem_mb", self.limits.mem_mb), **job})
            tail = read_output(dfd, "log.txt").decode(errors="replace")[-800:].strip()
            if not reply.get("ok"):
                raise RenderError(f"{reply.get('error', 'failed')}" + (f": {_last_line(tail)}" if tail else ""))
            found = {}
            for name in outputs:
                content = read_output(dfd, name)
                if content:
                    found[name] = content
            if not found:
                raise RenderError(f"the code ran but wrote none of {outputs}" + (f": {_last_line(tail)}" if tail else ""))
            return found
        finally:
            os.close(dfd)
            shutil.rmtree(tmp, ignore_errors=True)

    def _ensure_scratch(self) -> None:
        """The worker's scratch dir, removed by close() or, at the latest, when this process exits."""
        if not self._scratch:
            self._scratch = jail.make_scratch()
            weakref.finalize(self, shutil.rmtree, self._scratch, True)

    def _send(self, job: dict[str, Any]) -> dict[str, Any]:
        if self.inline:
            with self._serial:
                return self._send_one(job, float(job["timeout"]))
        return self._send_one(job, float(job["timeout"]) + 30)

    def _send_one(self, job: dict[str, Any], wait: float) -> dict[str, Any]:
        fut: Future[dict[str, Any]] = Future()
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            assert self._proc is not None and self._proc.stdin is not None
            job["id"] = next(self._ids)
            self._pending[job["id"]] = fut
            try:
                self._proc.stdin.write(json.dumps(job) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._pending.pop(job["id"], None)
                self._kill()
                return {"ok": False, "error": "the sandbox worker stopped"}
        try:
            return fut.result(wait)
        except FutureTimeout:
            with self._lock:
                self._pending.pop(job["id"], None)
                self._kill()  # inline: the job hit its time limit; fork mode: the worker is stuck
            log.warning("sandbox job %s killed after %.0fs; worker restarts on the next job", job["id"], wait)
            return {"ok": False, "error": f"time limit of {job['timeout']}s exceeded"}

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        with self._lock:
            self._kill()
            if self._scratch:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = ""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def read_output(dir_fd: int, name: str) -> bytes:
    """A regular file the sandbox wrote in the dir ``dir_fd``, or b"" when missing; never follows a
    link the sandbox planted (the host reads with more rights than the sandbox has)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return f.read(256 * 2**20)


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
