"""Test helpers usable from any package's tests (a local OpenAI-compatible server)."""

from pixmo.testing.openai_server import FakeOpenAI, Reply, scripted, serve

__all__ = ["FakeOpenAI", "Reply", "scripted", "serve"]
