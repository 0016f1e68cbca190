"""A local image host for tests and benchmarks of `pixmo download` (127.0.0.x only, never public).

Each ``Host`` is a threaded ``http.server`` on its own loopback address (127.0.0.1, 127.0.0.2, ...),
so per-host politeness can be observed. Routes are registered per path:

- ``Route(body)``: 200 with the bytes (``fail_first=n`` answers 503 the first n times);
- ``Route(status=404)``: an error status;
- ``Route(redirect="http://...")``: a 302;
- ``delay``: seconds to sleep before answering (a slow host has a default delay).

Hosts count requests per path and the peak number of requests in flight.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    redirect: str = ""
    delay: float = 0.0
    fail_first: int = 0
    content_type: str = "image/jpeg"
    retry_after: str = "0"  # the Retry-After header of the first ``fail_first`` 503 answers


class Host:
    def __init__(self, ip: str = "127.0.0.1", delay: float = 0.0, port: int = 0):
        if not ip.startswith("127."):
            raise ValueError("the fake image server listens on loopback addresses only")
        self.ip, self.delay = ip, delay
        self.routes: dict[str, Route] = {}
        self.hits: Counter = Counter()
        self.in_flight = self.peak = 0
        self.starts: list[float] = []
        self._lock = threading.Lock()
        self.server = _QuietServer((ip, port), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def start(self) -> Host:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Host:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def _enter(self, path: str) -> int:
        with self._lock:
            self.hits[path] += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.starts.append(time.monotonic())
            return self.hits[path]

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default listen backlog of 5 refuses bursts of connections
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or are killed reset their connections; that is expected here


def _handler(host: Host) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _in_flight = False
        # TCP_NODELAY, as real servers set it: headers and body go out as two writes, and without it
        # every keep-alive answer waits ~40 ms for the client's delayed ACK (Nagle's algorithm)
        disable_nagle_algorithm = True

        def log_message(self, *_: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            n = host._enter(self.path)
            self._in_flight = True
            try:
                self._answer(host.routes.get(self.path), n)
            finally:
                self._leave()

        def _leave(self) -> None:
            """The request stops counting as in flight once, before the first byte of its answer
            goes out: a client that has the answer may start its next request at once, and a
            server still counting the old one would report a concurrency the client never had."""
            if self._in_flight:
                self._in_flight = False
                host._leave()

        def _answer(self, route: Route | None, n: int) -> None:
            if route is None:
                return self._send(404, b"not found", "text/plain")
            delay = route.delay or host.delay
            if delay:
                time.sleep(delay)
            if n <= route.fail_first:
                return self._send(503, b"try later", "text/plain", {"Retry-After": route.retry_after})
            if route.redirect:
                return self._send(302, b"", "text/plain", {"Location": route.redirect})
            if route.status != 200:
                return self._send(route.status, b"gone", "text/plain")
            self._send(200, route.body, route.content_type)

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self._leave()  # headers are still buffered: nothing has reached the client
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


def serve_dir(directory: str, ip: str = "127.0.0.1") -> None:
    """Serve every file of a directory at ``/NAME`` (keep-alive HTTP/1.1); prints the base URL."""
    import pathlib
    import sys

    host = Host(ip)
    for p in sorted(pathlib.Path(directory).iterdir()):
        if p.is_file():
            host.add("/" + p.name, Route(p.read_bytes()))
    print(host.base, flush=True)
    sys.stdout.close()
    host.server.serve_forever()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="serve a directory of images on a loopback address (tests, benchmarks)")
    ap.add_argument("directory")
    ap.add_argument("--ip", default="127.0.0.1")
    a = ap.parse_args()
    serve_dir(a.directory, a.ip)
