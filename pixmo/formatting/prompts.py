"""Prompt template sets, written for this project (the reference's phrasings are not copied).

``{label}`` is replaced once by the lower-cased label.
"""

from __future__ import annotations

import numpy as np

POINTING = (
    "Point to {label}\nPlease say 'This isn't in the image.' if it is not in the image.",
    "Point to {label}.",
    "Point at every {label}.",
    "Show me where {label} is.",
    "Where are the {label}? Point to them.",
    "Mark {label} in the image.",
    "Locate {label}.",
    "Locate every {label} in this picture.",
    "Find {label}.",
    "find {label}",
    "Can you point out {label}?",
    "Please point to all of the {label}.",
    "Put a point on each {label}.",
    "Indicate {label} with points.",
    "Which parts of the image show {label}? Point to them.",
    "Tap on {label}.",
    "Click on {label}.",
    "Pinpoint {label} in the image.",
    "Give the location of {label} as points.",
    "Where is {label}?",
    "Point out where {label} appears.",
    "Identify {label} by pointing.",
)

POINT_COUNT = (
    "How many {label} are there?",
    "How many {label} are in the image?",
    "Count the {label}.",
    "count every {label}",
    "Point to and count the {label} in the picture.",
    "Count {label} by pointing to each one.",
    "What is the number of {label} in this image?",
    "How many {label} can you see?",
    "Tally the {label} in the image.",
    "Give me a count of the {label}.",
    "How many {label} appear here? Point to each.",
    "Count all {label}, pointing at each as you go.",
    "Please count the {label} shown.",
    "What's the total number of {label}?",
    "Number of {label}?",
    "How many instances of {label} are visible?",
    "Point at each {label} and tell me how many there are.",
    "Could you count the {label} for me?",
    "Find and count the {label}.",
    "How many {label} does this picture contain?",
    "Enumerate the {label} in the image.",
    "Count how many {label} there are.",
)

LONG_CAPTION = (
    "Describe this image.",
    "Describe this image in detail.",
    "Write a detailed description of the picture.",
    "What is in this image? Be thorough.",
    "Give a long, detailed caption for this image.",
    "Tell me everything you see in this picture.",
    "Provide a comprehensive description of the image.",
    "Caption this image in detail.",
    "Explain what this image shows, including small details.",
    "Write a paragraph describing the image.",
    "Describe the scene, the objects, their positions and the colors.",
    "What does this picture show? Describe it fully.",
    "Give me a rich description of this photo.",
    "Describe the image as if to someone who cannot see it.",
    "Write a thorough caption.",
)

TRANSCRIPT = (
    "Describe this image as if you were speaking about it.",
    "Talk me through this picture.",
    "Give a spoken-style description of the image.",
    "Narrate what you see in this image.",
    "Say out loud what this image shows.",
)

NO_POINTING_PREFIXES = (
    "No pointing: ",
    "Don't point. ",
    "Answer without points: ",
    "Do not use points. ",
    "Without pointing, ",
    "Answer in words only: ",
    "No points please. ",
    "Reply without pointing: ",
    "Skip the pointing. ",
    "Just answer, no pointing: ",
    "Don't include any points. ",
    "Answer with text, not points: ",
    "No need to point. ",
    "Respond without pointing to anything: ",
    "Please don't point: ",
    "Answer directly, no points: ",
    "Leave out the points. ",
    "Give a plain answer without pointing: ",
    "Do not point at anything. ",
    "Text-only answer: ",
)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "pointing": POINTING,
    "point_count": POINT_COUNT,
    "long_caption": LONG_CAPTION,
    "transcript": TRANSCRIPT,
}


def sample_prompt(kind: str, rng: np.random.Generator, label: str | None = None) -> str:
    """One template of ``kind`` drawn with ``rng``, with ``{label}`` filled (lower-cased)."""
    try:
        options = TEMPLATES[kind]
    except KeyError:
        raise ValueError(f"unknown prompt set {kind!r}; expected one of {sorted(TEMPLATES)}") from None
    template = options[int(rng.integers(len(options)))]
    if "{label}" in template:
        if label is None:
            raise ValueError(f"prompt set {kind!r} needs a label")
        return template.replace("{label}", label.lower(), 1)
    return template


def no_pointing_prefix(rng: np.random.Generator) -> str:
    return NO_POINTING_PREFIXES[int(rng.integers(len(NO_POINTING_PREFIXES)))]
