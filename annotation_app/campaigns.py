"""Campaigns and items: create, import images (bytes, a folder, a URL list, shards), gold answers."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, insert, select, update

from annotation_app.audit import audit
from annotation_app.db import inserted_id, now, write_tx
from annotation_app.gating import check_gate_config
from annotation_app.media import MediaStore, image_key
from annotation_app.models import Campaign, Item, table
from annotation_app.tasks import PayloadError, get_task_type, task_types
from pixmo.shards import Sample, ShardError, image_info, iter_samples, sha256_hex

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
SNIFFED_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class ImportError_(ValueError):
    """An import input is bad; the message names the file/URL and the problem."""


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    task_type: str = Field(min_length=1, max_length=64)
    instructions: str = Field("", max_length=20000)
    overlap: int = Field(1, ge=1, le=100)
    gold_overlap: int = Field(1000, ge=1, le=100000, description="annotators per gold item")
    config: dict[str, Any] = Field(default_factory=dict)


def create_campaign(conn: Connection, spec: CampaignIn, user_id: int | None, ip: str = "") -> int:
    if spec.task_type not in task_types():
        raise ImportError_(f"task_type must be one of {', '.join(sorted(task_types()))}, got {spec.task_type!r}")
    if conn.execute(select(Campaign.id).where(Campaign.name == spec.name)).first():
        raise ImportError_(f"a campaign named {spec.name!r} already exists")
    config = dict(spec.config, gold_overlap=spec.gold_overlap)
    lease = config.get("lease_seconds")
    if lease is not None and (isinstance(lease, bool) or not isinstance(lease, int | float) or not 30 <= lease <= 86400):
        raise ImportError_(f"lease_seconds must be a number of seconds from 30 to 86400, got {lease!r}")
    try:
        check_gate_config(config)
        get_task_type(spec.task_type).check_config(config)
    except PayloadError as exc:
        raise ImportError_(str(exc)) from None
    cid = inserted_id(conn.execute(insert(Campaign).values(name=spec.name, task_type=spec.task_type, instructions=spec.instructions,
                                               overlap=spec.overlap, config=config, created_by=user_id,
                                               created_at=now())))
    audit(conn, user_id, "campaign.create", "campaign", cid, spec.model_dump(), ip=ip)
    return int(cid)


def check_image(data: bytes, declared_type: str | None = None, max_bytes: int = 20 * 2**20) -> tuple[str, int, int]:
    """(ext, width, height) of image bytes; refuses oversized, non-image and mislabelled uploads."""
    if len(data) > max_bytes:
        raise ImportError_(f"image is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        ext, w, h = image_info(data)
    except ShardError as exc:
        raise ImportError_(f"not a JPEG, PNG or WebP image ({exc})") from None
    if declared_type and declared_type not in ("application/octet-stream", SNIFFED_TYPES[ext]):
        raise ImportError_(f"declared content type {declared_type!r} but the bytes are {SNIFFED_TYPES[ext]}")
    return ext, w, h


def add_image(conn: Connection, media: MediaStore, campaign: Any, data: bytes, *, image_url: str = "",
              sample: Sample | None = None, as_gold: bool = False, user_id: int | None = None,
              max_bytes: int = 20 * 2**20, source_path: str = "") -> list[int]:
    """Store an image and create its items (as the task type seeds them); idempotent per image (an
    image imported again keeps its items and the ``source_path`` it was first imported under)."""
    ext, w, h = check_image(data, max_bytes=max_bytes)
    sha = sha256_hex(data)
    key = image_key(sha, ext)
    if not media.exists(key):
        media.put(key, data)
    task = get_task_type(campaign.task_type)
    try:
        seeds = task.seeds(sample, dict(campaign.config or {}), as_gold)
    except PayloadError as exc:
        raise ImportError_(str(exc)) from None
    ids = []
    for seed in seeds:
        source_key = f"{sha}:{seed.key}" if seed.key else sha
        old = conn.execute(select(Item.id).where(Item.campaign_id == campaign.id, Item.source_key == source_key)).first()
        if old:
            ids.append(old[0])
            continue
        gold = seed.gold
        overlap = int(campaign.config.get("gold_overlap", 1000)) if gold else campaign.overlap
        iid = inserted_id(conn.execute(insert(Item).values(
            campaign_id=campaign.id, source_key=source_key, media_key=key, image_sha256=sha, image_url=image_url,
            width=w, height=h, spec=seed.spec, gold=gold, priority=10 if gold else 100, overlap=overlap, taken=0,
            meta={"source_path": source_path[:1000]} if source_path else None,
        )))
        ids.append(int(iid))
    audit(conn, user_id, "item.import", "campaign", campaign.id, {"image_sha256": sha, "items": ids})
    return ids


def get_campaign_row(conn: Connection, campaign_id: int) -> Any:
    c = conn.execute(select(table(Campaign)).where(Campaign.id == campaign_id)).first()
    if c is None:
        raise ImportError_(f"campaign {campaign_id} not found")
    return c


def folder_images(folder: str | Path) -> Iterator[tuple[str, bytes]]:
    """(path relative to ``folder``, POSIX separators; the bytes) of every image under it."""
    root = Path(folder)
    if not root.is_dir():
        raise ImportError_(f"{folder}: not a folder")
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            yield p.relative_to(root).as_posix(), p.read_bytes()


def check_public_url(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts that resolve to private addresses (SSRF)."""
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ImportError_(f"{url}: only http(s) URLs can be imported")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(u.hostname, u.port or 80)
    except OSError as exc:
        raise ImportError_(f"{url}: cannot resolve host ({exc})") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise ImportError_(f"{url}: host resolves to a private address {ip}; refused")


def url_images(urls: Iterable[str], allow_private: bool, max_bytes: int) -> Iterator[tuple[str, bytes]]:
    import httpx

    with httpx.Client(timeout=30, follow_redirects=False) as client:
        for url in urls:
            url = url.strip()
            if not url or url.startswith("#"):
                continue
            check_public_url(url, allow_private)
            r = client.get(url)
            if r.status_code != 200:
                raise ImportError_(f"{url}: HTTP {r.status_code}")
            if len(r.content) > max_bytes:
                raise ImportError_(f"{url}: {len(r.content)} bytes is over the {max_bytes}-byte limit")
            yield url, r.content


def import_images(engine: Engine, media: MediaStore, campaign_id: int, images: Iterable[tuple[str, bytes]],
                  *, urls: bool = False, user_id: int | None = None, max_bytes: int = 20 * 2**20) -> int:
    n = 0
    for name, data in images:
        with write_tx(engine) as conn:
            c = get_campaign_row(conn, campaign_id)
            try:
                n += len(add_image(conn, media, c, data, image_url=name if urls else "", user_id=user_id,
                                   max_bytes=max_bytes, source_path="" if urls else name))
            except ImportError_ as exc:
                raise ImportError_(f"{name}: {exc}") from None
    return n


def import_shards(engine: Engine, media: MediaStore, campaign_id: int, source: str, *, as_gold: bool = False,
                  user_id: int | None = None) -> int:
    n = 0
    for sample in iter_samples(source):
        with write_tx(engine) as conn:
            c = get_campaign_row(conn, campaign_id)
            n += len(add_image(conn, media, c, sample.image, image_url=sample.image_url, sample=sample,
                               as_gold=as_gold, user_id=user_id))
    return n


def set_gold(conn: Connection, item_id: int, gold: dict[str, Any] | None, user_id: int | None, ip: str = "") -> None:
    item = conn.execute(select(table(Item)).where(Item.id == item_id)).first()
    if item is None:
        raise ImportError_(f"item {item_id} not found")
    c = get_campaign_row(conn, item.campaign_id)
    if gold is not None:  # validated like a submit, so scoring never meets malformed gold
        from annotation_app.claiming import item_context

        try:
            gold = get_task_type(c.task_type).parse_gold(gold, item_context(item, c.config))
        except PayloadError as exc:
            raise ImportError_(f"gold: {exc}") from None
    overlap = max(item.overlap, int((c.config or {}).get("gold_overlap", 1000))) if gold else item.overlap
    conn.execute(update(Item).where(Item.id == item_id).values(gold=gold, priority=10 if gold else 100, overlap=overlap))
    audit(conn, user_id, "item.gold", "item", item_id, {"gold": gold}, ip=ip)
