"""Speech captioning: consent, chunked audio upload and assembly, quality gates, the transcription
worker and audio retention. See docs/speech_and_ama.md."""
