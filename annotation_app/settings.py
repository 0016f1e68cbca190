"""App settings from the environment (prefix ``PIXMO_APP_``), with laptop defaults."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIXMO_APP_", extra="ignore")

    database_url: str = Field("sqlite:///var/annotation.db", description="SQLAlchemy URL (SQLite or PostgreSQL)")
    media_root: str = Field("var/media", description="fsspec URL or local folder for images and audio")
    sqlite_synchronous: str = Field("NORMAL", description="SQLite synchronous pragma (NORMAL or FULL)")
    sqlite_background_checkpoint: bool = Field(True, description="checkpoint the SQLite WAL from a background "
                                                                 "thread instead of inside requests")
    lease_seconds: float = Field(600.0, gt=0, description="how long a claimed task stays reserved")
    max_active_leases: int = Field(2, ge=1, description="leases one annotator may hold per campaign (current + prefetched)")
    session_hours: float = Field(24.0 * 7, gt=0)
    cookie_secure: bool = Field(False, description="set the Secure flag on cookies (enable behind HTTPS)")
    login_free_failures: int = Field(3, ge=0, description="failed logins per (username, client) before a delay")
    login_delay_s: float = Field(1.0, ge=0, description="delay after the first counted failure; doubles with each "
                                                        "further one")
    login_max_delay_s: float = Field(30.0, ge=0, description="longest delay between two attempts of one "
                                                             "(username, client)")
    login_window_s: float = Field(900.0, gt=0, description="failures older than this are forgotten")
    trusted_proxies: str = Field("", description="comma-separated proxy addresses whose X-Forwarded-For is "
                                                 "believed (default: none; the peer address is the client)")
    public_docs: bool = Field(False, description="serve /docs and /openapi.json without login")
    max_image_bytes: int = Field(20 * 2**20, gt=0)
    max_json_bytes: int = Field(1 * 2**20, gt=0, description="JSON request bodies (drafts, submits, ...)")
    max_chunk_bytes: int = Field(8 * 2**20, gt=0, description="raw request bodies (audio chunks); campaigns may "
                                                              "set a lower speech.max_chunk_bytes")
    max_points: int = Field(1000, ge=1)
    import_root: str = Field("", description="server folder under which managers may import image folders and "
                                             "shards from the API or the admin page (default: none, refused)")
    allow_private_urls: bool = Field(False, description="allow URL imports from private/loopback addresses")
    pool_size: int = Field(40, ge=1, description="pooled DB connections (40 = the threadpool's size, so "
                                                 "PostgreSQL connections are not opened and closed under load)")
    pg_async: bool = Field(True, description="PostgreSQL: run claim and submit on the event loop through "
                                             "asyncpg (no thread hop) instead of the threadpool")
    pg_async_pool_size: int | None = Field(None, ge=1, description="asyncpg connections for claim and submit "
                                           "(default: 2 per CPU core; more only queue inside PostgreSQL)")
    fast_routes: bool = Field(True, description="answer claim and submit with an API token without FastAPI's "
                                                "per-request machinery (annotation_app/hotpath.py)")
    inline_db: bool | None = Field(None, description="run short DB calls on the event loop instead of the "
                                                     "threadpool (default: True for SQLite, False for PostgreSQL)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
