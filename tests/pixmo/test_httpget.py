"""pixmo.httpget against local hosts: keep-alive reuse and reconnect, redirects, size limits, proxies."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pipelines.fake_image_server import Host, Route
from pixmo import httpget


def test_get_reuses_one_connection_per_thread_and_host() -> None:
    with Host("127.0.0.1") as host, httpget.Client(timeout=5) as client:
        urls = [host.add(f"/{i}.jpg", Route(bytes([i]) * 100)) for i in range(20)]
        for i, u in enumerate(urls):
            r = client.get(u)
            assert (r.status, r.body) == (200, bytes([i]) * 100)
        assert len(client._all) == 1
        done = []
        t = threading.Thread(target=lambda: done.append((client.get(urls[0]).body, len(client._all))))
        t.start()
        t.join()
        assert done == [(bytes([0]) * 100, 2)]  # another thread opens its own connection


def _one_answer_per_connection_server() -> tuple[socket.socket, list[int]]:
    """A server that answers one request per connection as keep-alive, then closes it: what a
    server's idle timeout does to a connection the client keeps for later."""
    srv = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            accepted.append(1)
            with conn:
                conn.recv(65536)
                body = b"answer %d" % len(accepted)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                time.sleep(0.05)  # closed after the client has read the answer

    threading.Thread(target=serve, daemon=True).start()
    return srv, accepted


def test_a_connection_the_server_closed_is_reopened() -> None:
    srv, accepted = _one_answer_per_connection_server()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}/a.jpg"
    try:
        with httpget.Client(timeout=5) as client:
            assert client.get(url).body == b"answer 1"
            time.sleep(0.2)
            assert client.get(url).body == b"answer 2"  # the kept connection was closed: sent again afresh
            assert len(accepted) == 2
    finally:
        srv.close()


def test_redirects_relative_and_absolute_and_too_many() -> None:
    with Host("127.0.0.1") as a, Host("127.0.0.2") as b, httpget.Client(timeout=5, max_redirects=2) as client:
        final = b.add("/img.jpg", Route(b"pixels"))
        a.add("/rel", Route(redirect="/abs"))
        a.add("/abs", Route(redirect=final))
        r = client.get(a.url("/rel"))
        assert (r.status, r.body, r.url) == (200, b"pixels", final)
        a.add("/x", Route(redirect="/y"))
        a.add("/y", Route(redirect="/x"))
        with pytest.raises(httpget.TooManyRedirects):
            client.get(a.url("/x"))


def test_error_status_is_returned_and_the_connection_stays_usable() -> None:
    with Host("127.0.0.1") as host, httpget.Client(timeout=5) as client:
        r = client.get(host.add("/gone", Route(status=404)))
        assert r.status == 404 and r.body == b"gone"
        assert client.get(host.add("/ok", Route(b"ok"))).body == b"ok"
        assert len(client._all) == 1


def test_body_over_the_limit_is_refused() -> None:
    with Host("127.0.0.1") as host, httpget.Client(timeout=5, max_bytes=1000) as client:
        assert len(client.get(host.add("/fits", Route(b"x" * 1000))).body) == 1000
        with pytest.raises(httpget.TooLarge):
            client.get(host.add("/big", Route(b"x" * 1001)))
        assert client.get(host.url("/fits")).body == b"x" * 1000  # a fresh connection after the refusal


def test_bad_urls_and_timeouts() -> None:
    with Host("127.0.0.1") as host, httpget.Client(timeout=0.3) as client:
        for bad in ("ftp://127.0.0.1/a.jpg", "not a url", "http://:80/x", "http://127.0.0.1:99999/x"):
            with pytest.raises(httpget.InvalidURL):
                client.get(bad)
        with pytest.raises(TimeoutError):
            client.get(host.add("/slow", Route(b"late", delay=1.0)))


def test_http_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with Host("127.0.0.1") as proxy:
        target = "http://images.example.invalid/a.jpg"
        proxy.add(target, Route(b"via proxy"))  # a proxy is asked for the absolute URL
        monkeypatch.setenv("HTTP_PROXY", proxy.base)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with httpget.Client(timeout=5) as client:
            assert client.get(target).body == b"via proxy"
        assert proxy.hits[target] == 1
