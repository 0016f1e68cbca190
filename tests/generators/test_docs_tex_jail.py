"""The sandbox holds for the TeX-family and music renderers: a TikZ, Asymptote or LilyPond document
cannot show a host file, reach the network or read the API key. Run outside the jail, the same
Asymptote and LilyPond reads succeed (``test_the_reads_work_outside_the_jail``), so each refusal
here is the jail's doing and not a typo in the attack."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from generators.docs.evidence import normalize
from generators.docs.renderers import RENDERERS, RenderContext
from generators.docs.sandbox import Limits, RenderError

SECRET = "sk-pixmo-tex-secret-777"


@pytest.fixture(scope="module")
def ctx():
    old = os.environ.get("PIXMO_LLM_API_KEY")
    os.environ["PIXMO_LLM_API_KEY"] = SECRET
    c = RenderContext(Limits(timeout=90.0))
    try:
        yield c
    finally:
        c.close()
        if old is None:
            os.environ.pop("PIXMO_LLM_API_KEY", None)
        else:
            os.environ["PIXMO_LLM_API_KEY"] = old


@pytest.fixture
def host_secret(tmp_path):
    p = tmp_path / "host-secret.txt"
    p.write_text("HOSTSECRET-31337\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(p, 0o644)  # readable by anyone on the host: only the jail keeps it out
    return p


def _drawn(ctx: RenderContext, renderer: str, code: str) -> str:
    """What the renderer drew (pdftotext of its page), or "" when it refused to render."""
    c = replace(ctx, drawn=[], rng=np.random.default_rng(0))
    try:
        RENDERERS[renderer].render(code, "{}", c)
    except RenderError:
        return ""
    return " | ".join(normalize(t) for t, _ in c.drawn)


def _assert_clean(text: str) -> None:
    assert "root:x" not in text and "hostsecret" not in text and SECRET.casefold() not in text, text[:300]


@pytest.mark.parametrize("command", [r"\input{%s}", r"\pgfplotstabletypeset{%s}", r"\verbatiminput{%s}"])
def test_tikz_cannot_include_host_files(ctx, host_secret, command):
    for path in ("/etc/passwd", str(host_secret)):
        doc = ("\\documentclass[border=10pt]{standalone}\\usepackage{pgfplots,pgfplotstable,verbatim}"
               "\\begin{document}\\begin{tikzpicture}\\node {Hello};\\end{tikzpicture}\\begin{minipage}{12cm}"
               + command % path + "\\end{minipage}\\end{document}\n")
        _assert_clean(_drawn(ctx, "tikz", doc))


def _asy_read(path: str) -> str:
    return (f'size(8cm);\nstring s = "none";\nfile f = input("{path}", check=false);\n'
            "if (!error(f)) s = f;\n"
            'label("read: " + s, (0, 0));\ndraw(unitsquare);\n')


def test_asymptote_cannot_read_host_files_or_run_commands(ctx, host_secret):
    for path in ("/etc/passwd", str(host_secret)):
        text = _drawn(ctx, "asymptote", _asy_read(path))
        assert "read: none" in text  # the figure rendered; the file was not there to read
        _assert_clean(text)
    shell = 'size(6cm);\nint r = system("id -u > pwned.txt");\nlabel("ran " + string(r), (0,0));\n'
    assert "ran" not in _drawn(ctx, "asymptote", shell)  # -safe: system() is refused


def _http_server():
    hits: list[bytes] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(30)

    def serve():
        try:
            while True:
                conn, _ = srv.accept()
                hits.append(conn.recv(1024))
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 16\r\n\r\nNETSECRET-424242")
                conn.close()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    return srv, hits


def test_asymptote_cannot_fetch_urls(ctx):
    srv, hits = _http_server()
    try:
        text = _drawn(ctx, "asymptote", _asy_read(f"http://127.0.0.1:{srv.getsockname()[1]}/x"))
    finally:
        srv.close()
    assert "read:" in text and "netsecret" not in text and hits == []  # rendered, fetched nothing


def _ly(*exprs: str) -> str:
    """A score whose header shows what each Scheme expression returned ("refused" when it raised)."""
    fields = ("title", "subtitle", "composer", "poet")
    lines = [f"#(define got{i} (catch #t (lambda () {e}) (lambda args \"refused\")))" for i, e in enumerate(exprs)]
    header = " ".join(f'{fields[i]} = #(string-append "got{i} " (if (string? got{i}) '
                      f"(substring got{i} 0 (min 40 (string-length got{i}))) \"none\"))" for i in range(len(exprs)))
    return '\\version "2.24.0"\n#(use-modules (ice-9 rdelim))\n' + "\n".join(lines) + f"\n\\header {{ {header} tagline = ##f }}\n{{ c'4 d'4 e'4 f'4 | g'1 }}\n"


def _read(path: str) -> str:
    """Scheme that returns the first line of ``path`` (raises, so "refused", when it cannot)."""
    return f'(call-with-input-file "{path}" read-line)'


def test_lilypond_scheme_cannot_read_host_files_or_the_key(ctx, host_secret):
    # (ly:gulp-file on a missing file is a fatal error, so nothing would render: plain Guile reads instead)
    text = _drawn(ctx, "lilypond", _ly(_read("/etc/passwd"), _read(str(host_secret)),
                                       '(or (getenv "PIXMO_LLM_API_KEY") "no key")',
                                       '(begin (system "cat /etc/passwd > leak.txt; env | sort >> leak.txt") '
                                       + _read("leak.txt") + ")"))
    assert "got0 refused" in text and "got1 refused" in text  # the score rendered; the reads failed
    assert "got2 no key" in text  # the environment is cleared
    _assert_clean(text)
    _assert_clean(_drawn(ctx, "lilypond", f'\\version "2.24.0"\n\\include "{host_secret}"\n{{ c\'1 }}\n'))


def test_lilypond_scheme_cannot_reach_the_network(ctx):
    srv, hits = _http_server()
    port = srv.getsockname()[1]
    connect = (f'(let ((s (socket PF_INET SOCK_STREAM 0))) (connect s AF_INET (inet-pton AF_INET "127.0.0.1") {port}) '
               '(display "GET / HTTP/1.0\\r\\n\\r\\n" s) (read-line s) "connected")')
    try:
        text = _drawn(ctx, "lilypond", _ly(connect))
    finally:
        srv.close()
    assert "got0 refused" in text and "connected" not in text and hits == []


@pytest.mark.skipif(not shutil.which("asy") or not shutil.which("lilypond"), reason="needs asy and lilypond")
def test_the_reads_work_outside_the_jail(tmp_path, host_secret):
    """The control: the same documents, run directly on the host, do read the secret file."""
    (tmp_path / "r.asy").write_text(_asy_read(str(host_secret)))
    subprocess.run(["asy", "-safe", "-f", "pdf", "-o", "r", "r.asy"], cwd=tmp_path, capture_output=True, timeout=120)
    out = subprocess.run(["pdftotext", "r.pdf", "-"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "HOSTSECRET" in out
    (tmp_path / "r.ly").write_text(_ly(_read(str(host_secret))))
    subprocess.run(["lilypond", "--pdf", "-o", "s", "r.ly"], cwd=tmp_path, capture_output=True, timeout=120)
    assert "HOSTSECRET" in subprocess.run(["pdftotext", "s.pdf", "-"], cwd=tmp_path, capture_output=True,
                                          text=True).stdout
    assert Path(tmp_path / "s.pdf").exists()
