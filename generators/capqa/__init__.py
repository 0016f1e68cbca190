"""CapQA: multi-turn QA written by an LLM from dense captions (pixmo-cap -> pixmo-cap-qa)."""
