"""A small, fast HTTP/1.1 GET client for ``pixmo download``, on the standard library's ``http.client``.

Why not httpx: on one core httpx spends about 1 ms of CPU per small image and its shared connection
pool serialises the download threads on a lock; ``http.client`` needs about a fifth of that
(benchmarks/README.md, "Download"). What this client does, and no more:

- keep-alive: every thread keeps its own open connection per (scheme, host, port), so threads
  never wait on each other; a reused connection the server has closed meanwhile is reopened and
  the request sent once more (nothing was received yet, so nothing is lost);
- redirects (301/302/303/307/308, relative ``Location`` too) up to ``max_redirects``;
- a timeout per connect and per read, like httpx's;
- bodies larger than ``max_bytes`` are refused without reading them (by ``Content-Length``) or
  cut off one byte past the limit;
- proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``) as httpx honours them:
  plain HTTP through the proxy, HTTPS tunnelled with CONNECT;
- TLS with certifi's CA bundle when it is installed (as httpx does), else the system's.

Errors are the exceptions ``http.client`` and ``socket`` raise (``TimeoutError``, ``OSError``,
``http.client.HTTPException``) plus :class:`TooManyRedirects`, :class:`TooLarge` and
:class:`InvalidURL`; ``pixmo.download`` turns them into failure reasons.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import urllib.request
import weakref
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

REDIRECTS = {301, 302, 303, 307, 308}
_ERROR_BODY = 64 * 1024  # an error answer's body is read (to keep the connection) up to this size


class InvalidURL(ValueError):
    """Not an absolute http(s) URL."""


class TooManyRedirects(Exception):
    """More redirects than allowed (or a loop)."""


class TooLarge(Exception):
    """The body is larger than the limit."""


@dataclass
class Response:
    status: int
    url: str  # after redirects
    headers: dict[str, str]  # lower-case names
    body: bytes  # the whole body for 200, at most 64 kB of it otherwise


def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()


class Client:
    """Thread-safe: each thread uses its own connections. ``close()`` closes every connection."""

    def __init__(self, timeout: float = 20.0, max_redirects: int = 5, max_bytes: int = 50 * 2**20,
                 headers: dict[str, str] | None = None):
        self.timeout, self.max_redirects, self.max_bytes = timeout, max_redirects, max_bytes
        self.headers = {"Accept": "*/*", **(headers or {})}
        self._local = threading.local()
        self._all: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()  # dropped ones go
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        self._proxies = urllib.request.getproxies()

    def get(self, url: str) -> Response:
        """GET ``url``, following redirects; the body of a 200 answer is read whole."""
        for _ in range(self.max_redirects + 1):
            r = self._get_once(url)
            if r.status not in REDIRECTS or "location" not in r.headers:
                return r
            url = urljoin(url, r.headers["location"])
        raise TooManyRedirects(f"more than {self.max_redirects} redirects")

    def _get_once(self, url: str) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidURL(f"not an http(s) URL: {url[:200]!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise InvalidURL(f"{exc}: {url[:200]!r}") from None
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        key = (parts.scheme, parts.hostname, port)
        proxy = self._proxy_for(parts.scheme, parts.hostname)
        if proxy and parts.scheme == "http":
            target = url.split("#", 1)[0]  # a plain HTTP proxy takes the absolute URL
        for attempt in (0, 1):
            conn, reused = self._conn(key, proxy)
            try:
                conn.request("GET", target, headers=self.headers)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(key)
                if reused and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: once more, afresh
                raise
            except BaseException:
                self._drop(key)
                raise
            return self._read(key, url, resp)
        raise AssertionError("unreachable")

    def _read(self, key: tuple[str, str, int], url: str, resp: http.client.HTTPResponse) -> Response:
        try:
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if resp.status == 200:
                if resp.length is not None and resp.length > self.max_bytes:
                    raise TooLarge(f"body larger than {self.max_bytes} bytes")
                body = resp.read() if resp.length is not None else resp.read(self.max_bytes + 1)
                if len(body) > self.max_bytes:
                    raise TooLarge(f"body larger than {self.max_bytes} bytes")
            else:
                body = resp.read(_ERROR_BODY)
            if resp.will_close or not resp.isclosed():  # body left unread, or the server closes
                self._drop(key)
            return Response(resp.status, url, headers, body)
        except BaseException:
            self._drop(key)
            raise

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        proxy = self._proxies.get(scheme) or self._proxies.get("all")
        if not proxy or urllib.request.proxy_bypass(host):
            return None
        return proxy

    def _conn(self, key: tuple[str, str, int], proxy: str | None) -> tuple[http.client.HTTPConnection, bool]:
        conns = self._local.__dict__.setdefault("conns", {})
        if key in conns:
            return conns[key], True
        scheme, host, port = key
        if proxy:
            p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
            proxy_port = p.port or (443 if p.scheme == "https" else 80)
            if scheme == "https":  # CONNECT through the proxy, then TLS with the origin server
                conn = self._new("https", p.hostname or "", proxy_port, tunnel=(host, port))
            else:
                conn = self._new(p.scheme or "http", p.hostname or "", proxy_port)
        else:
            conn = self._new(scheme, host, port)
        conns[key] = conn
        with self._lock:
            self._all.add(conn)
        return conn, False

    def _new(self, scheme: str, host: str, port: int, tunnel: tuple[str, int] | None = None
             ) -> http.client.HTTPConnection:
        if scheme == "https":
            if self._ssl is None:
                self._ssl = _ssl_context()
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        if tunnel:
            conn.set_tunnel(*tunnel)
        return conn

    def _drop(self, key: tuple[str, str, int]) -> None:
        conn = self._local.__dict__.get("conns", {}).pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in list(self._all):
                conn.close()
            self._all = weakref.WeakSet()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
