"""Per-campaign speech settings (stored in ``campaign.config["speech"]``), with PixMo defaults."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONSENT_VERSION = "voice-v1"
CONSENT_TEXT = (
    "I agree that my voice is recorded while I describe images, that the recordings are kept as proof "
    "that the descriptions were spoken by a person, that they are transcribed by a speech recogniser, "
    "and that they are deleted after the campaign's retention period. I can withdraw this consent at "
    "any time; recordings I already submitted are then deleted on request."
)


class SpeechConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_seconds: float = Field(60.0, ge=0, description="shortest recording that can be submitted")
    target_seconds: float = Field(90.0, ge=0, description="the timer nudges the speaker up to this")
    max_seconds: float = Field(600.0, gt=0)
    chunk_seconds: float = Field(3.0, gt=0.2, le=30, description="MediaRecorder timeslice (upload period)")
    max_chunk_bytes: int = Field(4 * 2**20, gt=0)
    max_audio_bytes: int = Field(40 * 2**20, gt=0)
    auto_gain: bool = False  # Mimic Recording Studio turns processing off for fidelity
    noise_suppression: bool = False
    echo_cancellation: bool = False
    silence_dbfs: float = Field(-55.0, description="quieter than this overall is 'silent'")
    min_speech_ratio: float = Field(0.3, ge=0, le=1, description="VAD speech / duration below this is flagged")
    min_wpm: float = Field(60.0, ge=0)
    max_wpm: float = Field(230.0, gt=0)
    min_words: int = Field(50, ge=0, description="transcripts shorter than this are flagged")
    cleanup: str = Field("auto", pattern="^(auto|rules|llm)$", description="auto: LLM if configured, else rules")
    export_audio: bool = Field(True, description="put the audio into exported shards as an extra member")
    retention_days: float | None = Field(None, gt=0, description="delete audio this long after recording")


def speech_config(campaign_config: dict[str, Any] | None) -> SpeechConfig:
    return SpeechConfig.model_validate((campaign_config or {}).get("speech") or {})


def quality_flags(cfg: SpeechConfig, duration_s: float, speech_s: float, words: int) -> list[dict[str, str]]:
    """Soft gates: each flag sends the item to review with its reason."""
    flags = []
    if duration_s > 0 and speech_s / duration_s < cfg.min_speech_ratio:
        flags.append({"code": "little_speech", "message": f"only {speech_s:.1f} s of speech in {duration_s:.1f} s "
                                                          f"({100 * speech_s / duration_s:.0f} %, minimum "
                                                          f"{100 * cfg.min_speech_ratio:.0f} %)"})
    minutes = max(speech_s, 1e-6) / 60.0
    wpm = words / minutes if speech_s > 0 else 0.0
    if wpm < cfg.min_wpm:
        flags.append({"code": "slow_speech", "message": f"{wpm:.0f} words per minute of speech (minimum {cfg.min_wpm:.0f})"})
    if wpm > cfg.max_wpm:
        flags.append({"code": "fast_speech", "message": f"{wpm:.0f} words per minute of speech (maximum "
                                                        f"{cfg.max_wpm:.0f}): reading a script?"})
    if words < cfg.min_words:
        flags.append({"code": "short_transcript", "message": f"the transcript has {words} words (minimum {cfg.min_words})"})
    return flags
