"""Test helpers for the speech and AMA tasks: an app with users and a campaign, espeak-ng speech,
and Chromium launch flags for a fake microphone. Used by tests/annotation_app/test_caption*.py,
test_ama*.py and test_point_explanations*.py."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from annotation_app.campaigns import CampaignIn, create_campaign, import_images
from annotation_app.db import write_tx
from annotation_app.security import create_user, new_token

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--autoplay-policy=no-user-gesture-required"]


def fake_mic_args(wav: str | Path) -> list[str]:
    return [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={Path(wav).resolve()}%noloop"]


def espeak_wav(text: str, path: str | Path, rate: int = 48000, lead_silence_s: float = 0.0) -> Path:
    """Speak ``text`` with espeak-ng into a mono 16-bit WAV (resampled to ``rate`` with sox if present)."""
    path = Path(path)
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    if shutil.which("sox"):
        pad = ["pad", str(lead_silence_s), "0"] if lead_silence_s else []
        subprocess.run(["sox", str(raw), "-r", str(rate), "-b", "16", "-c", "1", str(path), *pad], check=True)
        raw.unlink()
    else:
        raw.rename(path)
    return path


def test_image(seed: int = 0, text: str = "") -> bytes:
    rng = np.random.default_rng(seed)
    arr = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(arr)
    if text:
        from PIL import ImageDraw, ImageFont

        im = Image.new("RGB", (480, 160), "white")
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40)
        ImageDraw.Draw(im).text((20, 50), text, fill="black", font=font)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class AppEnv:
    app: Any
    engine: Any
    media: Any
    root: Path
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def campaign(self, task_type: str, config: dict[str, Any], images: list[bytes], name: str | None = None,
                 image_urls: list[str] | None = None, overlap: int = 1) -> int:
        with write_tx(self.engine) as conn:
            cid = create_campaign(conn, CampaignIn(name=name or f"{task_type}-{time.monotonic_ns()}",
                                                   task_type=task_type, config=config, overlap=overlap),
                                  self.ids["admin"])
        named = [(u, b) for u, b in zip(image_urls or [f"img{i}.png" for i in range(len(images))], images, strict=True)]
        import_images(self.engine, self.media, cid, named, urls=bool(image_urls))
        return cid


def make_env(tmp: Path, **settings: Any) -> AppEnv:
    from annotation_app.app import create_app
    from annotation_app.settings import Settings

    s = Settings(database_url=f"sqlite:///{tmp}/app.db", media_root=str(tmp / "media"), **settings)
    app = create_app(s)
    env = AppEnv(app, app.state.engine, app.state.media, tmp)
    with write_tx(env.engine) as conn:
        for name, role in (("admin", "admin"), ("rev", "reviewer"), ("ann", "annotator"), ("ann2", "annotator")):
            env.ids[name] = create_user(conn, name, f"{name}-password-123", role)
            env.tokens[name] = new_token(conn, env.ids[name], "test")[1]
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn on 127.0.0.1 in a thread (stopped by ``stop``)."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return
            time.sleep(0.02)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class WorkerThread:
    """The speech worker in a thread of this process."""

    def __init__(self, engine: Any, media: Any, **kw: Any):
        from annotation_app import jobs
        from annotation_app.speech.worker import SpeechWorker

        self.worker = SpeechWorker(engine, media, **kw)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=jobs.run_worker, args=(engine, self.worker.handlers(), self.stop_event),
                                       kwargs={"poll_s": 0.1}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)


def TestClientFor(env: AppEnv) -> Any:  # noqa: N802 - reads like a class at call sites
    from fastapi.testclient import TestClient

    return TestClient(env.app)
