"""A local OpenAI-compatible server with canned or scripted replies, for tests.

    from pixmo.testing import serve, scripted
    base_url, stop = serve(lambda req: "hello")        # or serve(scripted(["a", "b"]))
    ...  # PIXMO_LLM_BASE_URL=base_url
    stop()

``serve`` returns a :class:`FakeOpenAI` that unpacks as ``(base_url, stop)`` and also has
``.requests`` (every JSON body received, in order) and works as a context manager.
``replies_fn(request) -> str | Reply``: a str is the assistant message; a :class:`Reply` can set an
HTTP error status or a delay (to test timeouts and retries). Endpoints: ``POST /v1/chat/completions``,
``GET /v1/models``, ``POST /v1/audio/transcriptions`` (returns ``transcription``). It listens on
127.0.0.1 on a free port, in a daemon thread (stdlib ``http.server``, no extra dependency).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A scripted reply: content, or an HTTP error ``status`` with ``error`` text; ``delay`` seconds first."""

    content: str = ""
    status: int = 200
    error: str = "scripted error"
    delay: float = 0.0


RepliesFn = Callable[[dict[str, Any]], "str | Reply"]


def scripted(replies: Sequence[str | Reply], repeat_last: bool = True) -> RepliesFn:
    """Replies in order, one per chat request (thread-safe); then the last one again (or a 500)."""
    lock = threading.Lock()
    state = {"i": 0}

    def fn(_req: dict[str, Any]) -> str | Reply:
        with lock:
            i = state["i"]
            state["i"] += 1
        if i < len(replies):
            return replies[i]
        return replies[-1] if repeat_last and replies else Reply(status=500, error="script exhausted")

    return fn


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _completion(model: str, content: str, prompt_tokens: int) -> dict[str, Any]:
    ct = _tokens(content)
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": ct, "total_tokens": prompt_tokens + ct},
    }


class FakeOpenAI:
    """The running server. Unpacks as ``(base_url, stop)``."""

    def __init__(self, replies_fn: RepliesFn, transcription: str = "a canned transcript",
                 models: Sequence[str] = ("fake-model",)):
        self.replies_fn = replies_fn
        self.transcription = transcription
        self.models = list(models)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def record(self, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append({"path": path, **body})

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.base_url, self.stop))

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()


def serve(replies_fn: RepliesFn | str | Sequence[str | Reply], **kw: Any) -> FakeOpenAI:
    """Start a server on 127.0.0.1 (free port). ``replies_fn`` may also be a str or a list (scripted)."""
    if isinstance(replies_fn, str):
        text = replies_fn
        replies_fn = lambda _req: text  # noqa: E731
    elif not callable(replies_fn):
        replies_fn = scripted(list(replies_fn))
    return FakeOpenAI(replies_fn, **kw)


def _handler(srv: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "pixmo-test"} for m in srv.models]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.endswith("/audio/transcriptions"):
                srv.record(self.path, {"bytes": len(raw)})
                self._send(200, {"text": srv.transcription})
                return
            if not self.path.endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "body is not JSON"}})
                return
            srv.record(self.path, body)
            try:
                reply = srv.replies_fn(body)
            except Exception as exc:  # noqa: BLE001 - a broken script is a 500, not a dead server
                reply = Reply(status=500, error=f"replies_fn raised {exc!r}")
            if isinstance(reply, str):
                reply = Reply(content=reply)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": reply.error, "type": "scripted"}})
                return
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
            self._send(200, _completion(body.get("model", "fake-model"), reply.content, _tokens(prompt)))

    return Handler
