"""Shared test fixtures: sample images bundled with installed packages, tmp dirs, service probes."""

from __future__ import annotations

import io
import os
import socket

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


POSTGRES_URL = os.environ.get("PIXMO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not port_open("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432; the PostgreSQL part is skipped")
    return POSTGRES_URL


@pytest.fixture
def s3_bucket(monkeypatch):
    """A bucket on moto's standalone S3 server (127.0.0.1, a free port) with the AWS environment
    pointing at it; yields ``put(key, bytes)``. S3 costs money, so this local server stands in for it."""
    pytest.importorskip("s3fs", reason="s3:// needs the 'remote' extra (s3fs)")
    moto_server = pytest.importorskip("moto.server", reason="the S3 test server needs moto[server]")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://{host}:{port}"}.items():
        monkeypatch.setenv(key, value)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # fsspec caches filesystems, not the endpoint they read from env
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="pixmo")
    yield lambda key, body: s3.put_object(Bucket="pixmo", Key=key, Body=body)
    server.stop()
    s3fs.S3FileSystem.clear_instance_cache()
