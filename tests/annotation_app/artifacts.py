"""Where browser tests keep their screenshots: out/test-artifacts/annotation_app/ under the
repository root (kept after the run; ignored by git)."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts" / "annotation_app"
ARTIFACTS.mkdir(parents=True, exist_ok=True)
