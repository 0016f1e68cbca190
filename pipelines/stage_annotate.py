"""Demo stage: a SYNTHETIC annotation campaign, driven through the annotation app's HTTP API.

No person annotates here. A scripted client plays three roles against a real app server
(uvicorn on 127.0.0.1): an admin creates a pointing campaign and uploads the bundled images, a
"synthetic annotator" claims each task and answers with the hand-written demo points (plus a
little jitter), a "synthetic reviewer" accepts the answers, and the admin exports the campaign to
shards. Every exported annotation comes from this script, and the report says so.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.samples import demo_samples
from pipelines.stages import Context
from pixmo.shards import sha256_hex

ROLES = (("demo-admin", "admin"), ("demo-reviewer", "reviewer"), ("synthetic-annotator", "annotator"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bootstrap(db_url: str) -> dict[str, str]:
    """Create the database, three users and an API token each (the first admin has no HTTP route)."""
    from annotation_app.db import make_engine, migrate, write_tx
    from annotation_app.security import create_user, new_token

    migrate(db_url)
    engine = make_engine(db_url)
    tokens = {}
    with write_tx(engine) as conn:
        for name, role in ROLES:
            uid = create_user(conn, name, "demo-password-" + os.urandom(6).hex(), role)
            tokens[role] = new_token(conn, uid, "demo", 1)[1]
    engine.dispose()
    return tokens


def _start_server(root: Path, db_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PIXMO_APP_DATABASE_URL": db_url, "PIXMO_APP_MEDIA_ROOT": str(root / "media")}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "annotation_app.serve_demo:asgi_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "wb"))
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app server exited; see {root / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the app server did not answer /healthz within 60 s")


class Api:
    def __init__(self, base: str, token: str):
        import httpx

        self.c = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.c.request(method, path, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {r.status_code}: {r.text[:300]}")
        return r.json() if r.content else None


def _campaign(admin: Api, n_images: int) -> tuple[int, dict[str, Any]]:
    cid = admin.call("POST", "/api/campaigns", json={
        "name": "demo-synthetic-pointing", "task_type": "pointing", "overlap": 1,
        "instructions": "SYNTHETIC DEMO: answers come from a scripted client, not from people."})["id"]
    samples = {s.key: s for s in demo_samples(n_images)}
    files = [("files", (f"{k[:12]}.{s.image_ext}", s.image, f"image/{'jpeg' if s.image_ext == 'jpg' else s.image_ext}"))
             for k, s in samples.items()]
    admin.call("POST", f"/api/campaigns/{cid}/images", files=files)
    return cid, samples


def _annotate(annotator: Api, cid: int, samples: dict[str, Any], rng: np.random.Generator) -> int:
    """Claim every task and answer with the demo points (percent -> pixels, +-1 % jitter)."""
    done = 0
    while True:
        a = annotator.call("POST", f"/api/campaigns/{cid}/claim", json={})["assignment"]
        if a is None:
            return done
        item = a["item"]
        sample = samples.get(sha256_hex(annotator.c.get(item["media_url"]).content))
        pts = [a_ for a_ in (sample.annotations if sample else []) if a_.subset == "pixmo-points"]
        if pts:
            rec = pts[int(rng.integers(len(pts)))].record
            w, h = item["width"], item["height"]
            points = [{"x": float(np.clip((p.x + rng.normal(0, 1)) * w / 100, 0, w)),
                       "y": float(np.clip((p.y + rng.normal(0, 1)) * h / 100, 0, h))} for p in rec.points]
            payload: dict[str, Any] = {"label": rec.label, "points": points, "not_present": False}
        else:
            payload = {"label": "unicorn", "points": [], "not_present": True}
        annotator.call("POST", f"/api/assignments/{a['assignment_id']}/submit",
                       json={"client_key": f"synthetic-{a['assignment_id']}", "payload": payload, "duration_ms": 1000})
        done += 1


def _review(reviewer: Api, cid: int) -> int:
    n = 0
    for row in reviewer.call("GET", f"/api/campaigns/{cid}/review", params={"limit": 500}):
        reviewer.call("POST", f"/api/assignments/{row['assignment_id']}/review",
                      json={"decision": "accept", "reason": "synthetic demo review", "version": row["version"]})
        n += 1
    return n


def stage_annotate(ctx: Context) -> str:
    root = ctx.out / "annotation"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True)
    db_url = f"sqlite:///{root / 'app.db'}"
    tokens = _bootstrap(db_url)
    port = _free_port()
    server = _start_server(root, db_url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        admin, reviewer, annotator = (Api(base, tokens[r]) for r in ("admin", "reviewer", "annotator"))
        cid, samples = _campaign(admin, ctx.config.annotate_images)
        n = _annotate(annotator, cid, samples, np.random.default_rng(ctx.config.seed))
        accepted = _review(reviewer, cid)
        manifest = admin.call("POST", f"/api/campaigns/{cid}/export/shards", params={"subset": "pixmo-points"})["manifest"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = str(Path(manifest).parent)
    ctx.datasets["annotation campaign (synthetic)"] = out
    return f"synthetic campaign {cid}: {n} tasks answered by a script, {accepted} accepted, exported -> {out}"
