"""``pixmo annotate speech-worker`` (registered by annotation_app/cli.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("speech-worker")
    def speech_worker(once: bool = typer.Option(False, help="exit when the queue is empty"),
                      lease_s: float = typer.Option(300.0, help="job lease; a dead worker's job reruns after it"),
                      db: str = typer.Option(None, "--db", help="database URL (default: PIXMO_APP_DATABASE_URL)"),
                      media: str = typer.Option(None, "--media", help="media root (default: PIXMO_APP_MEDIA_ROOT)")) -> None:
        """Run the speech worker: transcription (PIXMO_STT_*), caption cleanup (PIXMO_LLM_*), audio retention."""
        from annotation_app.speech.worker import main

        args = ["--lease-s", str(lease_s)] + (["--once"] if once else [])
        args += ["--database-url", db] if db else []
        args += ["--media-root", media] if media else []
        raise typer.Exit(main(args))
