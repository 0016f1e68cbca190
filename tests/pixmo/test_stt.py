"""pixmo.stt: bundled Whisper transcription, VAD, PyAV decoding, bad-audio errors, OpenAI backend."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from pixmo import stt

SPOKEN = ("There are three red apples and a blue cup next to an open book. "
          "The sign on the wall says open every day.")


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> bytes:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("stt") / "say.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), SPOKEN], check=True)
    return path.read_bytes()


def _webm(pcm: np.ndarray, cut: float = 1.0) -> bytes:
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        s = out.add_stream("libopus", rate=48000)
        s.layout = "mono"
        up = np.repeat(pcm, 3)  # 16 kHz -> 48 kHz, good enough for speech
        fr = av.AudioFrame.from_ndarray((up * 32767).astype("int16").reshape(1, -1), format="s16", layout="mono")
        fr.sample_rate = 48000
        for p in s.encode(fr):
            out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    data = buf.getvalue()
    return data[: int(len(data) * cut)]


def test_bundled_model_transcribes_espeak_with_low_wer(speech_wav):
    t = stt.get_transcriber(stt.STTConfig.tiny())
    res = t.transcribe(speech_wav)
    assert stt.wer(SPOKEN, res.text) <= 0.25, res.text
    assert res.backend == "faster-whisper" and "tiny.en" in res.model
    assert 5 < res.duration_s < 15 and res.decode_s > 0 and res.transcribe_s > 0


def test_webm_opus_decodes_and_vad_measures_speech(speech_wav):
    pcm = stt.decode_audio(speech_wav)
    webm = _webm(pcm)
    back = stt.decode_audio(webm)
    assert abs(len(back) - len(pcm)) / len(pcm) < 0.05
    speech = stt.speech_duration(back)
    assert 0.6 * len(pcm) / 16000 < speech <= len(back) / 16000 + 0.1
    silence = np.zeros(16000 * 3, np.float32)
    assert stt.speech_duration(silence) == 0.0 and stt.rms_dbfs(silence) == float("-inf")


@pytest.mark.parametrize("case,code", [
    ("empty", "empty"), ("text", "not_audio"), ("png", "not_audio"),
    ("trunc_wav", "truncated"), ("trunc_webm", "truncated"), ("big", "too_large"),
])
def test_bad_audio_gets_a_clear_error(speech_wav, case, code):
    from tests.conftest import png_bytes

    data = {
        "empty": b"",
        "text": b"this is not audio at all\n" * 40,
        "png": png_bytes(np.zeros((8, 8, 3), np.uint8)),
        "trunc_wav": speech_wav[: len(speech_wav) // 3],
        "trunc_webm": _webm(stt.decode_audio(speech_wav), cut=0.5),
        "big": speech_wav,
    }[case]
    with pytest.raises(stt.AudioError) as err:
        stt.decode_audio(data, max_bytes=1000 if case == "big" else None)
    assert err.value.code == code
    assert str(err.value)


def test_too_long_is_refused(speech_wav):
    with pytest.raises(stt.AudioError, match="longer than") as err:
        stt.decode_audio(speech_wav, max_seconds=2)
    assert err.value.code == "too_long"


def test_openai_backend_posts_audio(speech_wav):
    from pixmo.testing import serve

    with serve("unused", transcription="three red apples") as srv:
        t = stt.get_transcriber(stt.STTConfig(backend="openai", base_url=srv.base_url))
        res = t.transcribe(speech_wav)
        assert res.text == "three red apples" and res.backend == "openai"
        assert [r for r in srv.requests if r["path"].endswith("/audio/transcriptions")][0]["bytes"] > len(speech_wav)
        with pytest.raises(stt.AudioError):
            t.transcribe(b"")  # validated before anything is sent


def test_config_from_env_and_unknown_backend(monkeypatch):
    monkeypatch.setenv("PIXMO_STT_BEAM_SIZE", "2")
    monkeypatch.setenv("PIXMO_STT_MODEL", "/models/x")
    c = stt.STTConfig.from_env()
    assert c.beam_size == 2 and c.model == "/models/x"
    with pytest.raises(ValueError, match="unknown STT backend"):
        stt.get_transcriber(stt.STTConfig(backend="nope"))  # type: ignore[arg-type]


def test_wer():
    assert stt.wer("the red car", "The red car.") == 0.0
    assert stt.wer("the red car", "the blue car") == pytest.approx(1 / 3)
    assert stt.wer("a b c d", "a c d") == 0.25
