"""Clock QA text (docs/spec/pixmo_data.md section 3 and 5; docs/spec/molmo.md 8.3)."""

from __future__ import annotations

import re

CLOCK_PROMPT = "What time is being shown?"
CLOCK_NOT_SHOWN = "The time is not shown in the image."


def clock_answer(hour: int, minute: int, second: int = -1, *, ampm: bool = False, noon_is_am: bool = False) -> str:
    """``The time shown is H:MM[:SS][ AM| PM]``; ``hour=-1`` gives the no-time answer.

    ``hour`` is 0-23 when ``ampm`` is set (0 -> 12 AM), else 0-11 or 1-12. The reference labels
    noon "AM"; ``noon_is_am=True`` reproduces that quirk.
    """
    if hour < 0 or minute < 0:
        return CLOCK_NOT_SHOWN
    h12 = hour % 12 or 12
    s = f"The time shown is {h12}:{minute:02d}"
    if second >= 0:
        s += f":{second:02d}"
    if ampm:
        pm = hour > 12 if noon_is_am else hour >= 12
        s += " PM" if pm else " AM"
    return s


_CLOCK_RE = re.compile(r"(\d{1,2})\s*:\s*(\d{1,2})(?:\s*:\s*(\d{1,2}))?")


def parse_clock(text: str) -> tuple[int, int, int | None] | None:
    """(hour, minute, second or None) from an answer, or None when it holds no time.

    The hour is taken from the last word before the first ':' and the minute from the first
    word after it, as the reference evaluator does; "PM" adds 12 to hours below 12.
    """
    if ":" not in text:
        return None
    m = _CLOCK_RE.search(text)
    if not m:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    sec = int(m.group(3)) if m.group(3) else None
    if re.search(r"\bPM\b", text[m.end():], re.I) and h < 12:
        h += 12
    return h, mi, sec
