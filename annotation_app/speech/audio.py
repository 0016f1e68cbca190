"""Pure audio steps of a recording: assemble uploaded chunks, check the result, re-encode.

A MediaRecorder session produces one container stream cut into timeslices, so the chunks of one
session (a *segment*) concatenate into a valid file. A reload starts a new session (a new
segment); several segments are decoded and joined into one webm/opus file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from annotation_app.speech.config import SpeechConfig
from pixmo import stt

MIME_EXT = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/wav": "wav", "audio/x-wav": "wav"}


class AudioRejected(ValueError):
    """The recording cannot be submitted; ``code`` names why (empty, not_audio, truncated, too_large,
    too_long, too_short, silent, missing_chunk)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def mime_ext(mime: str) -> str:
    base = mime.split(";")[0].strip().lower()
    if base not in MIME_EXT:
        raise AudioRejected("not_audio", f"unsupported audio type {mime!r}; use one of {', '.join(MIME_EXT)}")
    return MIME_EXT[base]


@dataclass
class Assembled:
    data: bytes  # the file to keep
    ext: str
    pcm: np.ndarray  # 16 kHz mono float32
    speech_s: float
    dbfs: float

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / stt.SAMPLE_RATE


def encode_webm(pcm: np.ndarray, rate: int = stt.SAMPLE_RATE) -> bytes:
    """Mono float audio as webm/opus (48 kHz), the format browsers record."""
    import av

    up = np.interp(np.arange(0, len(pcm) * 3) / 3.0, np.arange(len(pcm)), pcm) if rate == 16000 else pcm
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        s = out.add_stream("libopus", rate=48000)
        s.layout = "mono"
        for i in range(0, len(up), 48000):
            fr = av.AudioFrame.from_ndarray((np.clip(up[i:i + 48000], -1, 1) * 32767).astype("int16").reshape(1, -1),
                                            format="s16", layout="mono")
            fr.sample_rate = 48000
            for p in s.encode(fr):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return buf.getvalue()


def assemble(segments: list[list[bytes]], mime: str, cfg: SpeechConfig) -> Assembled:
    """Join chunks into one audio file and check it; raises :class:`AudioRejected` with a clear message."""
    ext = mime_ext(mime)
    files = [b"".join(chunks) for chunks in segments if chunks]
    total = sum(len(f) for f in files)
    if not total:
        raise AudioRejected("empty", "no audio was uploaded: the recording is empty")
    if total > cfg.max_audio_bytes:
        raise AudioRejected("too_large", f"the recording is {total / 1e6:.1f} MB, over the "
                                         f"{cfg.max_audio_bytes / 1e6:.1f} MB limit")
    pcms = []
    for i, f in enumerate(files):
        try:
            pcms.append(stt.decode_audio(f, max_seconds=cfg.max_seconds))
        except stt.AudioError as exc:
            where = f" (recording part {i + 1} of {len(files)})" if len(files) > 1 else ""
            raise AudioRejected(exc.code, f"{exc}{where}") from None
    pcm = np.concatenate(pcms) if pcms else np.zeros(0, np.float32)
    return check(pcm, files[0] if len(files) == 1 else None, ext, cfg)


def check(pcm: np.ndarray, data: bytes | None, ext: str, cfg: SpeechConfig) -> Assembled:
    dur = len(pcm) / stt.SAMPLE_RATE
    if dur > cfg.max_seconds:
        raise AudioRejected("too_long", f"the recording is {dur:.0f} s, over the {cfg.max_seconds:.0f} s limit")
    if dur < cfg.min_seconds:
        raise AudioRejected("too_short", f"the recording is {dur:.1f} s; this campaign needs at least "
                                         f"{cfg.min_seconds:.0f} s. Keep describing the image, then stop again.")
    dbfs = stt.rms_dbfs(pcm)
    speech = stt.speech_duration(pcm) if dbfs > cfg.silence_dbfs else 0.0
    if speech <= 0.0:
        level = "digital silence" if dbfs == float("-inf") else f"{dbfs:.0f} dBFS"
        raise AudioRejected("silent", f"no speech was detected ({level}). Check that the right microphone is "
                                      "selected and not muted, then record again.")
    if data is None:
        data, ext = encode_webm(pcm), "webm"
    return Assembled(data, ext, pcm, speech, dbfs)
