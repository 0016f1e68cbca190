"""The sandbox holds: one test per attack an LLM's code (or a document) could try.

Each attack runs as whatever user runs pytest; ``test_attacks_hold_as_a_non_root_user`` reruns the
whole file as an unprivileged user when pytest runs as root (set PIXMO_SANDBOX_TEST_USER, default
``sbtest``, created with ``useradd -m sbtest``), so every attack is checked as root and as non-root.
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generators.docs import jail
from generators.docs.renderers import RENDERERS, RenderContext
from generators.docs.sandbox import Limits, RenderError, Sandbox

SECRET = "sk-pixmo-test-secret-4242"
PG_SOCKET = "/var/run/postgresql/.s.PGSQL.5432"


@pytest.fixture(scope="module")
def sandbox():
    old = os.environ.get("PIXMO_LLM_API_KEY")
    os.environ["PIXMO_LLM_API_KEY"] = SECRET  # what a researcher's shell has when using --mode llm
    try:
        with Sandbox(Limits(timeout=5.0, mem_mb=512)) as sb:
            yield sb
    finally:
        if old is None:
            os.environ.pop("PIXMO_LLM_API_KEY", None)
        else:
            os.environ["PIXMO_LLM_API_KEY"] = old


def _leak(sb: Sandbox, body: str) -> str:
    """Run ``body`` inside generate_plot; it appends what it got to ``out`` (a list); return that."""
    code = ("import io, os, ctypes\nfrom PIL import Image\n"
            "def generate_plot(df):\n    out = []\n"
            + "".join(f"    {line}\n" for line in body.splitlines())
            + "    open('leak.txt', 'w').write('\\n'.join(map(str, out)) + '\\n')\n"
            "    return Image.new('RGB', (200, 200), 'white')\n")
    return sb.run("python", {"code.py": code, "data.csv": "a,b\nx,1\n"}, ("leak.txt",), mode="plot")["leak.txt"].decode()


def _host_secret(tmp_path: Path) -> Path:
    p = tmp_path / "host-secret.txt"
    p.write_text("HOSTSECRET-31337\n")
    return p


def test_code_cannot_read_host_files(sandbox, tmp_path):
    secret = _host_secret(tmp_path)
    got = _leak(sandbox, f"""
for path in ('/etc/passwd', '/root/.bashrc', '/root/.profile', {str(secret)!r}, '/proc/1/environ'):
    try:
        out.append(open(path).read())
    except Exception as exc:
        out.append(repr(exc))
try:
    out.append(os.listdir('/root'))
    out.append(os.listdir('/home'))
except Exception as exc:
    out.append(repr(exc))
""")
    assert "root:x:0" not in got and "HOSTSECRET" not in got and "PS1" not in got and "mesg" not in got
    assert "home" not in got or "sbtest" not in got


def test_code_cannot_write_outside_its_folder(sandbox, tmp_path):
    target = tmp_path / "written-by-sandbox.txt"
    os.chmod(tmp_path, 0o777)  # even a world-writable host dir is out of reach
    _leak(sandbox, f"""
for path in ({str(target)!r}, '/tmp/pixmo-escape-{os.getpid()}.txt', '/usr/pixmo-escape-{os.getpid()}.txt'):
    try:
        open(path, 'w').write('x')
    except Exception as exc:
        out.append(repr(exc))
""")
    assert not target.exists()
    assert not Path(f"/usr/pixmo-escape-{os.getpid()}.txt").exists()
    assert not Path(f"/tmp/pixmo-escape-{os.getpid()}.txt").exists()  # the jail's /tmp is its own


def test_code_runs_unprivileged_with_no_capabilities(sandbox):
    got = _leak(sandbox, "out.append(os.getuid())\nout.append(open('/proc/self/status').read())")
    assert not got.startswith("0\n")
    assert "CapEff:\t0000000000000000" in got


def test_code_cannot_read_the_api_key_from_the_environment(sandbox):
    got = _leak(sandbox, """
out.append(dict(os.environ))
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
out.append(libc.getenv(b'PIXMO_LLM_API_KEY'))
out.append(open('/proc/self/environ', 'rb').read())
""")
    assert SECRET not in got and "PIXMO_LLM" not in got


def _sleepers(tag: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if tag.encode() in cmd:
                found.append(int(entry))
    return found


def test_ctypes_shell_sees_nothing_and_leaves_no_process(sandbox):
    tag = f"{os.getpid() % 1000}.{int(time.time()) % 1000}"
    got = _leak(sandbox, f"""
libc = ctypes.CDLL(None)
libc.system(b'cat /etc/passwd > shell.txt 2>&1; id -u >> shell.txt; env >> shell.txt; (setsid sleep 7{tag} &); sleep 7{tag} &')
out.append(open('shell.txt').read())
""")
    assert "root:x:0" not in got and SECRET not in got
    assert "\n0\n" not in f"\n{got}"  # the shell is not root
    deadline = time.monotonic() + 3
    while _sleepers(f"7{tag}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _sleepers(f"7{tag}"), "a process the job started is still running"


def test_process_left_behind_by_a_timed_out_job_is_killed(sandbox):
    tag = f"8{os.getpid() % 1000}.{int(time.time()) % 1000}"
    code = ("import ctypes, time\ndef generate_plot(df):\n"
            f"    ctypes.CDLL(None).system(b'(setsid sleep {tag} &)')\n    time.sleep(60)\n")
    with pytest.raises(RenderError, match="time limit"):
        sandbox.run("python", {"code.py": code, "data.csv": "a\n1\n"}, ("out.png",), mode="plot", timeout=2.0)
    deadline = time.monotonic() + 3
    while _sleepers(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _sleepers(tag)


_CONNECT = """
import socket as _s
libc = ctypes.CDLL(None, use_errno=True)
def connect(family, addr):
    fd = libc.socket(family, 1, 0)
    rc = libc.connect(fd, addr, len(addr))
    return rc, ctypes.get_errno()
"""


def test_code_cannot_reach_host_unix_sockets(sandbox, tmp_path):
    own = tmp_path / "s.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(own))
    os.chmod(own, 0o777)
    srv.listen(1)
    try:
        paths = [str(own)] + ([PG_SOCKET] if os.path.exists(PG_SOCKET) else [])
        got = _leak(sandbox, _CONNECT + f"""
for path in {paths!r}:
    addr = (ctypes.c_ushort(1).value).to_bytes(2, 'little') + path.encode() + b'\\0'
    out.append(('unix', path, connect(1, addr)[0]))
""")
    finally:
        srv.close()
    results = [line for line in got.splitlines() if line.startswith("('unix'")]
    assert len(results) == len(paths) and all(line.endswith(", -1)") for line in results), got


def test_code_cannot_open_tcp_to_the_host(sandbox):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    ports = [srv.getsockname()[1], 5432]
    try:
        got = _leak(sandbox, _CONNECT + f"""
for port in {ports!r}:
    addr = (2).to_bytes(2, 'little') + port.to_bytes(2, 'big') + bytes([127, 0, 0, 1]) + bytes(8)
    out.append(('tcp', port, connect(2, addr)[0]))
""")
    finally:
        srv.close()
    results = [line for line in got.splitlines() if line.startswith("('tcp'")]
    assert len(results) == 2 and all(line.endswith(", -1)") for line in results), got


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "out.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", str(tmp_path / "out.pdf"), "-"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("command", [r"\verbatiminput{%s}", r"\input{%s}", r"\openin5=%s \read5 to\x \x"])
def test_latex_cannot_include_host_files(sandbox, tmp_path, command):
    secret = _host_secret(tmp_path)
    for path in ("/etc/passwd", str(secret)):
        doc = ("\\documentclass{article}\\usepackage{verbatim}\\begin{document}Hello "
               + command % path + "\\end{document}\n")
        argv = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"]
        try:
            pdf = sandbox.run("exec", {"doc.tex": doc}, ("doc.pdf",), argv=argv)["doc.pdf"]
        except RenderError:
            continue  # the file was refused (or not there): nothing rendered
        text = _pdf_text(pdf, tmp_path)
        assert "root:x" not in text and "HOSTSECRET" not in text


def test_latex_shell_escape_is_off(sandbox, tmp_path):
    doc = ("\\documentclass{article}\\begin{document}\\immediate\\write18{id -u > pwned.txt}"
           "Hello\\end{document}\n")
    argv = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"]  # even without the flag
    out = sandbox.run("exec", {"doc.tex": doc}, ("doc.pdf", "pwned.txt"), argv=argv)
    assert "pwned.txt" not in out


def test_graphviz_cannot_embed_host_images(tmp_path):
    red = np.zeros((300, 300, 3), np.uint8)
    red[..., 0] = 255
    img = tmp_path / "host.png"
    Image.fromarray(red).save(img)
    os.chmod(tmp_path, 0o755)
    os.chmod(img, 0o644)
    dot = (f'digraph G {{ a [label="", shape=box, image="{img}"]; '
           f'b [shape=none, label=<<TABLE><TR><TD><IMG SRC="{img}"/></TD></TR></TABLE>>]; a -> b; }}')
    ctx = RenderContext(Limits(timeout=10.0))
    try:
        png = RENDERERS["graphviz"].render(dot, "{}", ctx)
        arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        reds = int(((arr[..., 0] > 200) & (arr[..., 1] < 60) & (arr[..., 2] < 60)).sum())
        assert reds < 100, f"{reds} red pixels: the host image was embedded"
    except RenderError:
        pass  # refused outright is fine too
    finally:
        ctx.close()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def test_browser_runs_jailed_and_cannot_show_host_files():
    from generators.docs.browser import BrowserPool

    pool = BrowserPool(pages_per_kind=1, timeout=15.0)
    try:
        html = ("<html><body style='background:#fff'><h1>page</h1>"
                "<iframe src='file:///etc/passwd' width=600 height=300></iframe>"
                "<img src='file:///usr/share/pixmaps/debian-logo.png'><img src='http://127.0.0.1:5432/x'>"
                "</body></html>")
        png = pool.render("html", html, width=800, height=600)
        assert Image.open(io.BytesIO(png)).size[0] == 800
        browsers = [p for p in _descendants(os.getpid())
                    if Path(f"/proc/{p}/comm").read_text().strip().startswith("chromium")]
        assert browsers, "no Chromium process below this one"
        my_net = os.readlink("/proc/self/ns/net")
        for p in browsers:
            status = Path(f"/proc/{p}/status").read_text()
            uid = int(status.split("Uid:")[1].split()[0])
            assert uid != 0 and os.readlink(f"/proc/{p}/ns/net") != my_net
            assert "PIXMO_LLM" not in Path(f"/proc/{p}/environ").read_bytes().decode(errors="replace")
    finally:
        pool.close()


def test_jail_refuses_credential_variables(tmp_path):
    with pytest.raises(ValueError, match="credential"):
        jail.Jail(str(tmp_path), env={"PIXMO_LLM_API_KEY": "x"})


def _test_user() -> str | None:
    """The unprivileged user the attacks are re-run as; created (as root) when it does not exist."""
    name = os.environ.get("PIXMO_SANDBOX_TEST_USER", "sbtest")
    try:
        pwd.getpwnam(name)
    except KeyError:
        if os.geteuid() != 0 or not shutil.which("useradd"):
            return None
        subprocess.run(["useradd", "-m", name], check=True, capture_output=True)
    return name


def test_unsearchable_parent_dirs_are_named(tmp_path):
    closed = tmp_path / "closed"
    inner = closed / "python"
    inner.mkdir(parents=True)
    closed.chmod(0o700)
    try:
        got = jail.unsearchable_dirs([str(inner)])
    finally:
        closed.chmod(0o755)
    if os.geteuid() == 0:  # pytest's own base temp dir (0700) may be listed too
        assert str(closed) in got and str(inner) not in got
    else:
        assert got == []


@pytest.mark.skipif(os.geteuid() != 0 or os.environ.get("PIXMO_JAIL_NESTED") == "1",
                    reason="reruns this file as a non-root user when run as root")
def test_attacks_hold_as_a_non_root_user():
    user = _test_user()
    if user is None or not shutil.which("runuser"):
        pytest.skip("not root and no unprivileged test user (PIXMO_SANDBOX_TEST_USER)")
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "HOME": f"/home/{user}", "PYTHONPATH": str(root), "PYTHONHASHSEED": "0",
           "PIXMO_JAIL_NESTED": "1", "LANG": "C.UTF-8"}
    r = subprocess.run(["runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()],
                        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(Path(__file__))],
                       cwd=root, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout


def test_fork_bomb_through_ctypes_is_capped_and_cleaned_up(sandbox):
    got = _leak(sandbox, """
libc = ctypes.CDLL(None, use_errno=True)
n = 0
for _ in range(500):
    pid = libc.fork()
    if pid == 0:
        libc.pause()
        libc._exit(0)
    if pid < 0:
        break
    n += 1
out.append(('forked', n))
""")
    forked = int(got.split("('forked', ")[1].split(")")[0])
    assert forked < 100, f"{forked} processes: no process limit"
