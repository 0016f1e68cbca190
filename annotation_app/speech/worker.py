"""The speech worker: transcription, caption cleanup and audio retention, as durable jobs.

    python -m annotation_app.speech.worker                 # settings from PIXMO_APP_* / PIXMO_STT_* / PIXMO_LLM_*
    python -m annotation_app.speech.worker --once          # drain the queue and exit

Jobs live in the app's ``jobs`` table (:mod:`annotation_app.jobs`): a job enqueued with a finalized
recording is never lost, a worker that dies loses its lease and the job runs again, failures are
retried with back-off. Each handler is idempotent: results are written with
``WHERE transcript IS NULL`` / ``WHERE caption IS NULL``, so a job that runs twice stores once.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, select, update

from annotation_app import jobs
from annotation_app.audit import audit
from annotation_app.db import make_engine, migrate, now, read_tx, write_tx
from annotation_app.media import MediaStore
from annotation_app.models import Campaign, table
from annotation_app.speech import recordings as rs
from annotation_app.speech.config import quality_flags, speech_config
from annotation_app.speech.recordings import CLEANUP, RETENTION, TRANSCRIBE, R
from pixmo import stt
from pixmo.cleanup import clean_caption, clean_with_rules
from pixmo.llm import LLMSettings

log = logging.getLogger(__name__)


class SpeechWorker:
    def __init__(self, engine: Engine, media: MediaStore, stt_config: stt.STTConfig | None = None,
                 llm_settings: LLMSettings | None = None, lease_s: float = 300.0):
        self.engine, self.media, self.lease_s = engine, media, lease_s
        self.stt_config = stt_config or stt.STTConfig.from_env()
        self.llm_settings = llm_settings
        self._transcriber: stt.Transcriber | None = None

    @property
    def transcriber(self) -> stt.Transcriber:
        if self._transcriber is None:
            self._transcriber = stt.get_transcriber(self.stt_config)
        return self._transcriber

    def handlers(self) -> dict[str, Any]:
        return {TRANSCRIBE: self.transcribe, CLEANUP: self.cleanup, RETENTION: self.retention}

    def _load(self, rec_id: int) -> tuple[Any, Any]:
        with read_tx(self.engine) as conn:
            rec = conn.execute(select(R).where(R.c.id == rec_id)).one()
            campaign = conn.execute(select(table(Campaign)).where(Campaign.id == rec.campaign_id)).one()
        return rec, speech_config(campaign.config)

    @contextmanager
    def _leased(self, job: dict[str, Any]) -> Iterator[None]:
        """Renew the job's lease while long work runs, so no second worker starts it meanwhile."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.lease_s / 3):
                try:
                    jobs.heartbeat_job(self.engine, job["id"], job["worker"], self.lease_s)
                except Exception as exc:  # noqa: BLE001 - a missed beat only risks a duplicate run
                    log.warning("lease renewal of job %s failed: %s", job["id"], exc)

        t = threading.Thread(target=beat, daemon=True)
        t.start()
        try:
            yield
        finally:
            done.set()

    def transcribe(self, job: dict[str, Any]) -> dict[str, Any]:
        rec_id = int(job["payload"]["recording_id"])
        rec, cfg = self._load(rec_id)
        if rec.transcript is not None:
            return {"recording_id": rec_id, "skipped": "already transcribed"}
        if not rec.audio_key:
            return {"recording_id": rec_id, "skipped": "audio deleted"}
        try:
            with self._leased(job):
                res = self.transcriber.transcribe(self.media.get(rec.audio_key))
        except stt.AudioError as exc:  # permanent: retrying cannot help
            with write_tx(self.engine) as conn:
                conn.execute(update(R).where(R.c.id == rec_id).values(status="failed", error=str(exc)))
            return {"recording_id": rec_id, "failed": str(exc)}
        flags = quality_flags(cfg, res.duration_s, rec.speech_s or 0.0, res.words)
        with write_tx(self.engine) as conn:
            n = conn.execute(update(R).where(R.c.id == rec_id, R.c.transcript.is_(None)).values(
                transcript=res.text, stt={**res.provenance(), "decode_s": round(res.decode_s, 3),
                                          "transcribe_s": round(res.transcribe_s, 3)},
                flags=flags, status="transcribed", transcribed_at=now())).rowcount
            if n:
                audit(conn, None, "speech.transcribed", "recording", rec_id,
                      {"job_id": job["id"], "attempt": job["attempts"], "words": res.words})
                jobs.enqueue(conn, CLEANUP, f"{CLEANUP}:{rec_id}", {"recording_id": rec_id}, max_attempts=3)
        return {"recording_id": rec_id, "words": res.words, "stored": bool(n)}

    def cleanup(self, job: dict[str, Any]) -> dict[str, Any]:
        rec_id = int(job["payload"]["recording_id"])
        rec, cfg = self._load(rec_id)
        if rec.caption is not None:
            return {"recording_id": rec_id, "skipped": "already cleaned"}
        flags = list(rec.flags or [])
        if not (rec.transcript or "").strip():
            res = None
            flags.append({"code": "empty_transcript", "message": "the recogniser found no words"})
        elif cfg.cleanup == "rules":
            res = clean_with_rules([rec.transcript])
        else:
            try:
                res = clean_caption([rec.transcript], settings=self.llm_settings)
            except Exception as exc:  # noqa: BLE001 - the LLM failed; retried by the queue
                if cfg.cleanup == "llm" or job["attempts"] < job["max_attempts"]:
                    raise
                res = clean_with_rules([rec.transcript])
                flags.append({"code": "llm_failed", "message": f"LLM cleanup failed ({exc}); rule-based cleanup used"})
        caption = res.caption if res else ""
        with write_tx(self.engine) as conn:
            n = conn.execute(update(R).where(R.c.id == rec_id, R.c.caption.is_(None)).values(
                caption=caption, cleanup=res.provenance if res else {"method": "none"}, flags=flags,
                status="cleaned")).rowcount
            if n:
                audit(conn, None, "speech.cleaned", "recording", rec_id, {"method": res.method if res else "none"})
        return {"recording_id": rec_id, "method": res.method if res else "none", "stored": bool(n)}

    def retention(self, job: dict[str, Any] | None = None) -> dict[str, Any]:
        """Delete the audio of every recording past its campaign's retention period."""
        t = now()
        with write_tx(self.engine) as conn:
            recs = rs.expired_recordings(conn, t)
            files = sum(rs.delete_audio(conn, self.media, r, "retention period over") for r in recs)
        return {"recordings": len(recs), "files": files}


def enqueue_retention(engine: Engine, period_s: float = 3600.0) -> None:
    bucket = int(time.time() // period_s)
    with write_tx(engine) as conn:
        jobs.enqueue(conn, RETENTION, f"{RETENTION}:{bucket}", {})


def _retention_timer(engine: Engine, stop: threading.Event, period_s: float = 3600.0) -> None:
    while not stop.wait(period_s / 4):
        try:
            enqueue_retention(engine, period_s)
        except Exception as exc:  # noqa: BLE001 - keep the timer alive through a DB hiccup
            log.warning("could not enqueue the retention job: %s", exc)


def main(argv: list[str] | None = None) -> int:
    from annotation_app.settings import Settings

    ap = argparse.ArgumentParser(description="Run the speech worker (transcription, cleanup, retention).")
    ap.add_argument("--database-url", help="default: PIXMO_APP_DATABASE_URL")
    ap.add_argument("--media-root", help="default: PIXMO_APP_MEDIA_ROOT")
    ap.add_argument("--once", action="store_true", help="exit when the queue is empty")
    ap.add_argument("--lease-s", type=float, default=300.0, help="job lease; a dead worker's job reruns after it")
    ap.add_argument("--poll-s", type=float, default=0.5)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = Settings()
    url = args.database_url or s.database_url
    migrate(url)
    engine = make_engine(url)
    worker = SpeechWorker(engine, MediaStore(args.media_root or s.media_root), lease_s=args.lease_s)
    stop = threading.Event()
    enqueue_retention(engine)
    if not args.once:  # one retention sweep per hour while the worker runs
        threading.Thread(target=_retention_timer, args=(engine, stop), daemon=True).start()
    n = jobs.run_worker(engine, worker.handlers(), stop, poll_s=args.poll_s, lease_s=args.lease_s, once=args.once)
    log.info("speech worker done: %d jobs", n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
