"""The sandbox worker: a long-lived process that forks one child per job.

Started by :class:`generators.docs.sandbox.Sandbox` inside its bubblewrap jail (``jail.py``: no
network, no host files, unprivileged, cleared environment) as a standalone script: it imports
nothing from the repository. It imports pandas/matplotlib/plotly once, so a child starts in
milliseconds instead of seconds. Each child: new session, ``RLIMIT_AS`` memory limit, a file-size
limit, its own directory, stdout/stderr to ``log.txt``, an audit hook that refuses sockets and
subprocesses, then it runs the job. The worker is the subreaper of everything below it: when a job
ends (or hits its time limit) its process group and every orphan it left are killed.

Protocol: one JSON line per job on stdin -> one JSON line on stdout with the job's ``id``; jobs run
concurrently (one child each), so replies may come out of order.
Job kinds: ``python`` (exec code.py, call ``generate_plot(df)`` / ``generate_diagram(data)`` /
``generate_document(data)``, the last saved as out.docx),
``vegalite`` (spec.json -> out.png), ``exec`` (run ``argv`` with the same limits).
With ``--inline MEM_MB`` the worker instead keeps a warm vl-convert and runs Vega-Lite jobs itself
(no fork: V8 is not fork-safe, and a cold start costs seconds); its memory is capped once
(RLIMIT_DATA) and the client kills and restarts it at a job's time limit.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable

NPROC = 64  # processes (threads included) a job may have, counted per user inside the jail
NET_EVENTS = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
              "socket.sendto", "socket.sendmsg")
PROC_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork")


def _audit(event: str, _args: object) -> None:
    if event in NET_EVENTS:
        raise PermissionError(f"network access is disabled in the sandbox ({event})")
    if event in PROC_EVENTS:
        raise PermissionError(f"starting processes is disabled in the sandbox ({event})")


def _preload() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import PIL.Image  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import plotly.io  # noqa: F401
    for name in ("schemdraw", "schemdraw.elements", "rdkit.Chem.Draw", "docx"):  # optional renderers
        try:
            __import__(name)
        except ImportError:
            pass


def _save_image(obj: object, path: str) -> None:
    import io

    from PIL import Image

    if isinstance(obj, Image.Image):
        obj.save(path, "PNG")
    elif isinstance(obj, bytes | bytearray):
        Image.open(io.BytesIO(obj)).save(path, "PNG")
    elif hasattr(obj, "savefig"):
        obj.savefig(path, format="png")
    else:
        raise TypeError(f"generate_plot returned {type(obj).__name__}, expected a PIL Image")


def _run_python(job: dict) -> None:
    import pandas as pd

    ns: dict = {"__name__": "__sandbox__"}
    code = open("code.py").read()
    data_path = "data.csv" if os.path.exists("data.csv") else "data.json"
    sys.addaudithook(_audit)
    exec(compile(code, "code.py", "exec"), ns)  # noqa: S102 - this IS the sandbox
    if job["mode"] in ("diagram", "docx"):
        fn = ns.get("generate_diagram" if job["mode"] == "diagram" else "generate_document")
        arg = json.load(open(data_path))
    else:
        fn = ns.get("generate_plot")
        arg = pd.read_csv(data_path) if data_path.endswith(".csv") else json.load(open(data_path))
    if not callable(fn):
        raise NameError("the code must define generate_plot(df) (or generate_diagram(data), generate_document(data))")
    out = fn(arg)
    if job["mode"] == "docx":
        if not hasattr(out, "save"):
            raise TypeError(f"generate_document returned {type(out).__name__}, expected a docx Document")
        out.save("out.docx")
    elif job["mode"] == "plotly":
        import plotly.io as pio

        if hasattr(out, "to_plotly_json"):
            text = pio.to_json(out)
        elif isinstance(out, dict):
            text = json.dumps(out)
        else:
            raise TypeError(f"generate_plot returned {type(out).__name__}, expected a plotly Figure")
        with open("out.json", "w") as f:
            f.write(text)
    else:
        _save_image(out, "out.png")
        _write_drawn(out)


def _write_drawn(image: object) -> None:
    """The text matplotlib drew in the open figures, with its size in pixels of the returned image:
    [[text, px], ...] in drawn.json (the generator checks QA answers against it)."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    width = getattr(image, "size", (0, 0))[0] or getattr(image, "width", 0)
    drawn = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        px_per_pt = (width / fig.get_figwidth() if width else fig.dpi) / 72
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        fw, fh = fig.bbox.width, fig.bbox.height
        texts = dict.fromkeys(fig.findobj(lambda a: isinstance(a, Text)))
        for ax in fig.axes:
            if not ax.axison:  # axis("off"): its tick labels are not drawn
                for axis in (ax.xaxis, ax.yaxis):
                    for t in axis.findobj(lambda a: isinstance(a, Text)):
                        texts.pop(t, None)
            for table in ax.tables:  # table cells hold their text outside the artist tree
                texts.update(dict.fromkeys(c.get_text() for c in table.get_celld().values()))
        for t in texts:  # matplotlib Text artists
            assert isinstance(t, Text)
            text = t.get_text()
            if not text.strip() or not t.get_visible() or (t.get_alpha() is not None and t.get_alpha() == 0):
                continue
            try:
                bb = t.get_window_extent(renderer)
            except Exception:  # noqa: BLE001 - a text that cannot be laid out was not drawn
                continue
            if bb.x1 <= 0 or bb.y1 <= 0 or bb.x0 >= fw or bb.y0 >= fh:
                continue
            drawn.append([text, float(t.get_fontsize()) * px_per_pt])
    with open("drawn.json", "w") as f:
        json.dump(drawn, f)


def _run_vegalite(job: dict) -> None:
    import vl_convert as vlc

    spec = open("spec.json").read()
    if "--inline" not in sys.argv:
        sys.addaudithook(_audit)
    png = vlc.vegalite_to_png(spec, scale=job.get("scale", 2.0), allowed_base_urls=[])
    with open("out.png", "wb") as f:
        f.write(png)
    with open("out.svg", "w") as f:  # the same spec as SVG: the text it draws, with font sizes
        f.write(vlc.vegalite_to_svg(spec, allowed_base_urls=[]))


def _child(job: dict, base_vm: tuple[int, int]) -> None:
    fd = os.open(os.path.join(job["dir"], "log.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.setsid()
    os.chdir(job["dir"])
    # RLIMIT_AS caps the address space; V8 (inside vl-convert) reserves a large address-space cage
    # up front, so for Vega-Lite the cap is on RLIMIT_DATA (private writable memory) instead.
    which = resource.RLIMIT_DATA if job["kind"] == "vegalite" else resource.RLIMIT_AS
    limit = base_vm[which == resource.RLIMIT_DATA] + int(job["mem_mb"]) * 2**20
    resource.setrlimit(which, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 2**20, 256 * 2**20))
    resource.setrlimit(resource.RLIMIT_NPROC, (NPROC, NPROC))  # per user in the jail's namespace
    if job["kind"] == "exec":
        os.execvp(job["argv"][0], job["argv"])
    elif job["kind"] == "python":
        _run_python(job)
    elif job["kind"] == "vegalite":
        _run_vegalite(job)
    else:
        raise ValueError(f"unknown job kind {job['kind']!r}")


def _vm_size() -> tuple[int, int]:
    """(VmSize, VmData) of this process in bytes."""
    sizes = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmSize:", "VmData:")):
                sizes[line.split(":")[0]] = int(line.split()[1]) * 1024
    return sizes.get("VmSize", 0), sizes.get("VmData", 0)


def _fork(job: dict) -> int:
    base_vm = _vm_size()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _child(job, base_vm)
        except BaseException:  # noqa: B036 - report everything, including MemoryError/SystemExit
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return pid


def _status_reply(status: int, secs: float) -> dict:
    if os.WIFSIGNALED(status):
        return {"ok": False, "error": f"killed by signal {os.WTERMSIG(status)}", "seconds": secs}
    rc = os.WEXITSTATUS(status)
    return {"ok": rc == 0, "error": "" if rc == 0 else f"exit status {rc}", "seconds": secs}


def _subreaper() -> None:
    """Become the parent of every orphan below us (PR_SET_CHILD_SUBREAPER), so what a job leaves
    behind (a daemon, ``system("sleep 1000 &")`` through ctypes) can be found and killed."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def _kill_leftovers(running: dict[int, tuple[dict, float]]) -> None:
    """Kill and reap every child of this worker that is not a running job (orphans adopted as
    subreaper); repeated, since a killed orphan's own children are adopted in turn."""
    me = str(os.getpid())
    for _ in range(20):
        strays = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in running:
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = f.read().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if ppid == me:
                strays.append(int(entry))
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _end_job(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # the job's process group, whatever it left running
    except (ProcessLookupError, PermissionError):
        pass


def _reap(running: dict[int, tuple[dict, float]], reply: Callable[[dict], None]) -> None:
    """Answer every finished child; kill (whole process group) those past their time limit; kill
    whatever a finished job left behind."""
    now = time.monotonic()
    ended = False
    for pid, (job, t0) in list(running.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            del running[pid]
            _end_job(pid)
            ended = True
            reply({"id": job.get("id"), **_status_reply(status, round(now - t0, 4))})
        elif now - t0 > float(job["timeout"]):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            del running[pid]
            ended = True
            reply({"id": job.get("id"), "ok": False, "error": f"time limit of {job['timeout']}s exceeded",
                   "seconds": float(job["timeout"])})
    if ended:
        _kill_leftovers(running)


def serve_forks(reply: Callable[[dict], None]) -> None:
    """Fork mode: jobs run concurrently, one child each; replies carry the job id."""
    fd = sys.stdin.fileno()
    running: dict[int, tuple[dict, float]] = {}
    buf, eof = b"", False
    while not eof or running:
        ready, _, _ = select.select([] if eof else [fd], [], [], 0.005 if running else None)
        if ready:
            chunk = os.read(fd, 1 << 16)
            eof = not chunk
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                job = json.loads(line)
                try:
                    running[_fork(job)] = (job, time.monotonic())
                except Exception as exc:  # noqa: BLE001 - the zygote must survive any bad job
                    reply({"id": job.get("id"), "ok": False, "error": f"sandbox error: {exc!r}"})
        elif eof:
            time.sleep(0.005)
        _reap(running, reply)


def _run_inline(job: dict) -> dict:
    """Inline mode (Vega-Lite): run in this warm worker; the client kills it at the time limit."""
    t0 = time.monotonic()
    try:
        os.chdir(job["dir"])
        _run_vegalite(job)
        return {"ok": True, "error": "", "seconds": round(time.monotonic() - t0, 4)}
    except BaseException as exc:  # noqa: B036 - MemoryError included
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inline = "--inline" in sys.argv
    if inline:  # a warm vl-convert, its memory capped once for the whole worker
        import vl_convert as vlc

        vlc.vegalite_to_png('{"mark": "point"}')
        mem = int(sys.argv[sys.argv.index("--inline") + 1])
        limit = _vm_size()[1] + mem * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        sys.addaudithook(_audit)
    else:
        _preload()
        _subreaper()
    out = sys.stdout

    def reply(msg: dict) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    reply({"ready": True, "pid": os.getpid()})
    if not inline:
        serve_forks(reply)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        job: dict = {}
        try:
            job = json.loads(line)
            msg = _run_inline(job)
        except Exception as exc:  # noqa: BLE001 - the worker must survive any bad job
            msg = {"ok": False, "error": f"sandbox error: {exc!r}"}
        reply({"id": job.get("id"), **msg})


if __name__ == "__main__":
    main()
