"""pipelines.fake_image_server: the test server's in-flight count is what clients could have had."""

from __future__ import annotations

import time
import urllib.request

from pipelines.fake_image_server import Host, Route


def test_a_request_stops_counting_before_its_answer_is_sent(monkeypatch):
    """A strictly sequential client never has two requests in flight, so the server's peak must be
    1 even when the server thread is slow to do its bookkeeping. The old server decremented after
    writing the answer: a client that already had it started the next request first and the peak
    read 2 (test_host_gate_limits_concurrency_and_spacing then failed on a loaded machine)."""
    leave = Host._leave

    def slow_leave(self: Host) -> None:
        time.sleep(0.05)  # the server thread descheduled between its last write and the decrement
        leave(self)

    monkeypatch.setattr(Host, "_leave", slow_leave)
    with Host("127.0.0.1") as h:
        h.add("/a", Route(b"x", content_type="text/plain"))
        for _ in range(5):
            with urllib.request.urlopen(f"{h.base}/a", timeout=5) as r:  # a new connection each time
                assert r.read() == b"x"
        assert h.peak == 1
