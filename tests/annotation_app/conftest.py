"""Fixtures for the annotation app: databases (SQLite file, fresh PostgreSQL database), seeded
campaigns, an in-process TestClient app and a real uvicorn subprocess."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from annotation_app.db import migrate, normalize_url, write_tx
from annotation_app.loadgen import Seeded, seed_campaign
from annotation_app.models import User
from annotation_app.security import hash_password, new_token

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-1"
_HASH = hash_password(PASSWORD)


def png(w: int = 64, h: int = 48, seed: int = 0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/app.db"


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"pixmo_app_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def seed(url: str, media_root: str, **kw: Any) -> Seeded:
    return seed_campaign(url, media_root, password_hash=_HASH, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``uvicorn annotation_app.serve_demo:asgi_app`` in a subprocess on a free port."""

    def __init__(self, url: str, media_root: str, **env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, PIXMO_APP_DATABASE_URL=url, PIXMO_APP_MEDIA_ROOT=media_root,
                        PYTHONPATH=str(ROOT), **env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "annotation_app.serve_demo:asgi_app", "--factory", "--host",
             "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            env=self.env, cwd=ROOT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self, sig: int = 9) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def server_factory() -> Iterator[Any]:
    servers: list[Server] = []

    def make(url: str, media_root: str, **env: str) -> Server:
        s = Server(url, media_root, **env)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def seeder() -> Any:
    return seed


@dataclass
class AppCtx:
    app: Any
    tokens: dict[str, str]  # role -> API token
    user_ids: dict[str, int]
    campaign_id: int

    def client(self, role: str | None = None) -> Any:
        from fastapi.testclient import TestClient

        c = TestClient(self.app, raise_server_exceptions=False)
        if role:
            c.headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return c

    def login(self, username: str, password: str = PASSWORD) -> tuple[Any, str]:
        """A cookie-session client and its CSRF token."""
        c = self.client()
        r = c.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return c, r.json()["csrf_token"]


_TEMPLATE: list[Path] = []


def _template_db() -> Path:
    if not _TEMPLATE:
        path = Path(tempfile.mkdtemp(prefix="pixmo-app-template-")) / "template.db"
        migrate(f"sqlite:///{path}")
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


def make_appctx(tmp_path: Path, url: str | None = None, **settings: Any) -> AppCtx:
    """An app on a fresh database with a throwaway user (id 1, token id 1), one user per role
    (username = role, password PASSWORD) and a pointing campaign with three images."""
    from annotation_app.app import create_app
    from annotation_app.campaigns import CampaignIn, add_image, create_campaign, get_campaign_row
    from annotation_app.settings import Settings

    if url is None:  # copy a migrated template database instead of running the migrations again
        db = tmp_path / "app.db"
        shutil.copy(_template_db(), db)
        url = f"sqlite:///{db}"
    settings.setdefault("sqlite_background_checkpoint", False)  # no checkpoint thread per in-process test app
    s = Settings(database_url=url, media_root=str(tmp_path / "media"), **settings)
    app = create_app(s, run_migrations=False)
    engine = app.state.engine
    tokens, ids = {}, {}
    t = time.time()
    with write_tx(engine) as conn:
        for name, role in (("throwaway", "annotator"), ("annotator", "annotator"), ("reviewer", "reviewer"),
                           ("admin", "admin"), ("manager", "manager")):
            uid = conn.execute(insert(User).values(username=name, password_hash=_HASH, role=role, active=True,
                                                   created_at=t)).inserted_primary_key[0]
            ids[name] = uid
            tokens[name] = new_token(conn, uid, "test")[1]
        cid = create_campaign(conn, CampaignIn(name="c1", task_type="pointing", instructions="point"), ids["admin"])
        c = get_campaign_row(conn, cid)
        for i in range(3):
            add_image(conn, app.state.media, c, png(64, 48, seed=i))
    return AppCtx(app, tokens, ids, cid)


@pytest.fixture
def appctx(tmp_path: Path) -> AppCtx:
    return make_appctx(tmp_path)


@pytest.fixture
def appctx_factory(tmp_path: Path) -> Any:
    n = [0]

    def make(**settings: Any) -> AppCtx:
        n[0] += 1
        d = tmp_path / f"app{n[0]}"
        d.mkdir()
        return make_appctx(d, **settings)

    return make


@pytest.fixture
def make_png() -> Any:
    return png


@pytest.fixture(params=["sqlite", "postgres"])
def dbctx(request: Any, tmp_path: Path) -> AppCtx:
    """``appctx`` on SQLite and on a fresh PostgreSQL database (skipped when PostgreSQL is down)."""
    if request.param == "sqlite":
        return make_appctx(tmp_path)
    url = request.getfixturevalue("pg_url")
    migrate(url)
    return make_appctx(tmp_path, url)
