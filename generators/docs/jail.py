"""The one sandbox every renderer runs in: bubblewrap (``bwrap``), as an unprivileged user.

A :class:`Jail` turns a command into a ``bwrap`` command line with:

- an unprivileged user: run as root, the process first drops to ``PIXMO_SANDBOX_UID`` (default
  65534, ``nobody``) before ``bwrap`` starts, so files it sees are checked as that user; bwrap then
  puts it in its own user namespace with every capability dropped;
- a cleared environment (``--clearenv``): only the variables the renderer needs, never a key or token;
- a read-only view of just the directories it needs (``/usr``, a few ``/etc`` entries, the Python
  install and the virtual environment, extra files a renderer names); no ``/home``, ``/root``,
  ``/run``, ``/var`` or host ``/tmp``, so no host files and no host Unix sockets;
- a private writable scratch dir (the host dir ``scratch``, mounted at ``/scratch``) and a private
  ``/tmp`` (tmpfs);
- new network, PID, IPC, UTS and cgroup namespaces (``--unshare-all``): only a loopback interface,
  so neither TCP to the host nor abstract Unix sockets reach anything;
- ``--die-with-parent`` and ``--new-session``: when the caller dies, everything inside dies (the
  PID namespace's init is bwrap, and its death kills the namespace).

Memory, time and process limits are set by the code running inside (``_zygote.py``).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

SCRATCH = "/scratch"  # where the scratch dir appears inside the sandbox
ETC = ("/etc/fonts", "/etc/texmf", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf",
       "/etc/ld.so.conf.d", "/etc/localtime", "/etc/mime.types", "/etc/libreoffice")
SYSTEM = ("/usr", "/var/cache/fontconfig", "/var/lib/texmf") + ETC
BASE_ENV = {"PATH": "/usr/bin:/bin", "HOME": SCRATCH, "LANG": "C.UTF-8", "TMPDIR": "/tmp",
            "XDG_CACHE_HOME": f"{SCRATCH}/.cache", "XDG_CONFIG_HOME": f"{SCRATCH}/.config"}


class JailUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


def sandbox_uid() -> int | None:
    """The uid to drop to before bwrap when running as root (``None`` when not root)."""
    if os.geteuid() != 0:
        return None
    return int(os.environ.get("PIXMO_SANDBOX_UID", "65534"))


def python_paths() -> tuple[str, ...]:
    """What the interpreter needs: its install prefix and the virtual environment's."""
    paths = {sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    paths |= {os.path.realpath(p) for p in paths}
    return tuple(sorted(p for p in paths if p and os.path.isdir(p)))


@dataclass(frozen=True)
class Jail:
    """``argv(cmd)`` -> the bwrap command line; ``popen(cmd)`` starts it."""

    scratch: str  # host dir mounted read-write at /scratch (must be writable by the sandbox user)
    ro: tuple[str, ...] = ()  # extra host paths, read-only at the same path
    ro_at: tuple[tuple[str, str], ...] = ()  # (host path, sandbox path) read-only
    env: dict[str, str] = field(default_factory=dict)  # on top of BASE_ENV
    python: bool = False  # bind the Python install and the virtual environment

    def __post_init__(self) -> None:
        if not os.path.isdir(self.scratch):
            raise ValueError(f"scratch dir {self.scratch} does not exist")
        for key in self.env:
            if any(w in key.upper() for w in ("KEY", "TOKEN", "SECRET", "PASSWORD")):
                raise ValueError(f"{key} looks like a credential: never pass it into the sandbox")

    def argv(self, cmd: list[str]) -> list[str]:
        exe = bwrap_path()
        args = [exe, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--clearenv", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for link in ("/bin", "/lib", "/lib64", "/sbin"):
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        for p in (*SYSTEM, *(python_paths() if self.python else ()), *self.ro):
            args += ["--ro-bind-try", p, p]
        for host, inside in self.ro_at:
            args += ["--ro-bind", host, inside]
        args += ["--bind", self.scratch, SCRATCH, "--chdir", SCRATCH]
        for key, value in {**BASE_ENV, **self.env}.items():
            args += ["--setenv", key, value]
        uid = sandbox_uid()
        if uid is not None:  # root: become an unprivileged user first, then bwrap unshares as that user
            args = [setpriv_path(), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"] + args
        return args + ["--", *cmd]

    def popen(self, cmd: list[str], **kw: object) -> subprocess.Popen:
        return subprocess.Popen(self.argv(cmd), **kw)  # type: ignore[call-overload]

    def wrapper_script(self, cmd: list[str], path: str) -> str:
        """A shell script that runs ``cmd "$@"`` in the jail (for tools that start a program
        themselves, like Playwright starting Chromium)."""
        Path(path).write_text("#!/bin/sh\nexec " + shlex.join(self.argv(cmd)) + ' "$@"\n')
        os.chmod(path, 0o755)
        return path


def make_scratch(prefix: str = "pixmo-sbx-") -> str:
    """A fresh host dir for a jail's /scratch, owned by the sandbox user."""
    import tempfile

    d = tempfile.mkdtemp(prefix=prefix)
    give_to_sandbox(d)
    return d


def give_to_sandbox(path: str) -> None:
    """Make ``path`` (a dir we created) writable by the sandbox user."""
    uid = sandbox_uid()
    if uid is not None:
        os.chown(path, uid, uid)


def bwrap_path() -> str:
    exe = shutil.which("bwrap")
    if not exe:
        raise JailUnavailable("bubblewrap is not installed (apt-get install bubblewrap)")
    return exe


def setpriv_path() -> str:
    exe = shutil.which("setpriv")
    if not exe:
        raise JailUnavailable("setpriv (util-linux) is needed to drop root before the sandbox")
    return exe


@functools.lru_cache(maxsize=1)
def check() -> None:
    """Raise :class:`JailUnavailable` with a one-line reason if a jail cannot start here."""
    scratch = make_scratch("pixmo-sbx-check-")
    try:
        r = subprocess.run(Jail(scratch).argv(["true"]), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JailUnavailable(f"bubblewrap did not run: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if r.returncode != 0:
        raise JailUnavailable(f"bubblewrap cannot create a sandbox here: {r.stderr.strip()[-300:]}")
    closed = unsearchable_dirs([*python_paths(), str(Path(__file__).resolve().parent)])
    if closed:
        raise JailUnavailable(f"the sandbox user (uid {sandbox_uid()}) cannot reach {closed[0]} (no o+x): "
                              "run `make setup` (scripts/sandbox_access.sh grants search permission) "
                              "or chmod o+x it")


def unsearchable_dirs(paths: list[str]) -> list[str]:
    """Directories above ``paths`` that the sandbox user cannot search (only when run as root, where
    the jail drops to another user; a non-root caller runs the jail as itself)."""
    if sandbox_uid() is None:
        return []
    closed: list[str] = []
    for p in paths:
        for d in Path(os.path.realpath(p)).parents:
            st = d.stat()
            if not st.st_mode & 0o001 and st.st_uid != sandbox_uid() and str(d) not in closed:
                closed.append(str(d))
    return closed
