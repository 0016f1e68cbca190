"""LilyPond score templates: a short melody for one instrument, with its own data and questions.

The notes are data (:class:`MusicData`): every measure is filled exactly, so the number of measures,
the notes per measure and the key signature asked about are what LilyPond engraves. Title, composer,
instrument and tempo are text on the page (pdftotext reads them back), and the time signature is
read back from the engraved glyphs (``renderers_tex.time_signatures``); ``\\numericTimeSignature``
keeps 4/4 and 2/2 as digits instead of the C and cut-C symbols.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from generators.docs.bank import PEOPLE, Domain
from generators.docs.qa import QA, UNANSWERABLE, _mc

# (name, LilyPond key, accidentals in the signature, scale notes in LilyPond absolute pitch)
KEYS = (("C major", "c \\major", "none", "c' d' e' f' g' a' b' c''"),
        ("G major", "g \\major", "1 sharp", "g d' e' fis' g' a' b' d''"),
        ("D major", "d \\major", "2 sharps", "d' e' fis' g' a' b' cis'' d''"),
        ("F major", "f \\major", "1 flat", "f c' d' e' f' g' a' bes'"),
        ("B-flat major", "bes \\major", "2 flats", "bes c' d' ees' f' g' a' bes'"),
        ("A minor", "a \\minor", "none", "a c' d' e' f' g' a' c''"),
        ("E minor", "e \\minor", "1 sharp", "e' fis' g' a' b' c'' d'' e''"))
TIMES = {"2/4": 4, "3/4": 6, "4/4": 8, "6/8": 6}  # eighths per measure
FORMS = {"2/4": ("Polka", "Galop"), "3/4": ("Waltz", "Minuet"), "4/4": ("March", "Hymn", "Chorale"),
         "6/8": ("Jig", "Barcarolle")}
TEMPI = (("Allegro", 132), ("Andante", 76), ("Moderato", 108), ("Adagio", 60), ("Allegretto", 112),
         ("Vivace", 152))
INSTRUMENTS = ("Violin", "Flute", "Oboe", "Clarinet", "Trumpet", "Piano")
DURATIONS = ((8, "1"), (4, "2"), (2, "4"), (6, "2."), (3, "4."), (1, "8"))  # eighths, LilyPond duration


@dataclass
class MusicData:
    title: str
    composer: str
    instrument: str
    key: str
    key_signature: str  # "1 sharp", "2 flats", "none"
    time: str
    tempo: str
    bpm: int
    measures: list[list[str]]  # LilyPond notes, e.g. ["c'4", "d'8", ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    def qa(self, rng: np.random.Generator) -> list[QA]:
        return music_qa(self, rng)


def _measure(rng: np.random.Generator, scale: list[str], eighths: int, last: bool) -> list[str]:
    """One measure of ``eighths`` eighth notes; the last is the tonic held for the whole measure."""
    if last:
        return [scale[0] + {4: "2", 6: "2.", 8: "1"}[eighths]]
    notes, left = [], eighths
    while left:
        options = [(n, d) for n, d in DURATIONS if n <= left]
        n, d = options[int(rng.integers(len(options)))]
        notes.append(scale[int(rng.integers(len(scale)))] + d)
        left -= n
    return notes


def sample_music(rng: np.random.Generator, d: Domain, org: str) -> MusicData:
    key = KEYS[int(rng.integers(len(KEYS)))]
    time = str(rng.choice(list(TIMES)))
    tempo, bpm = TEMPI[int(rng.integers(len(TEMPI)))]
    n = int(rng.integers(4, 11))
    scale = key[3].split()
    measures = [_measure(rng, scale, TIMES[time], i == n - 1) for i in range(n)]
    form = str(rng.choice(FORMS[time]))
    title = f"{form} for {org}" if rng.random() < 0.6 else f"{org} {form} in {key[0]}"
    return MusicData(title, str(rng.choice(PEOPLE)), str(rng.choice(INSTRUMENTS)), key[0], key[2], time, tempo, bpm,
                     measures)


def _esc(s: str) -> str:
    return s.replace("\\", "").replace('"', "'")


def write(figure_type: str, m: MusicData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    key = next(k[1] for k in KEYS if k[0] == m.key)
    clef = "bass" if m.instrument == "Piano" and rng.random() < 0.3 else "treble"
    shift = ("\\transpose c c, { ", " }") if clef == "bass" else ("", "")  # an octave down on the bass staff
    notes = " |\n    ".join(" ".join(bar) for bar in m.measures)
    staff = float(rng.choice([18, 20, 22]))
    return f"""\\version "2.24.0"
#(set-global-staff-size {staff:.0f})
\\paper {{ ragged-right = ##f tagline = ##f }}
\\header {{
  title = "{_esc(m.title)}"
  composer = "{_esc(m.composer)}"
  tagline = ##f
}}
\\score {{
  \\new Staff \\with {{ instrumentName = "{_esc(m.instrument)}" }} {{
    \\clef {clef}
    \\key {key}
    \\numericTimeSignature
    \\time {m.time}
    \\tempo "{m.tempo}" 4 = {m.bpm}
    {shift[0]}{notes}{shift[1]} \\bar "|."
  }}
  \\layout {{ }}
}}
"""


def music_qa(m: MusicData, rng: np.random.Generator) -> list[QA]:
    beats = m.time.split("/")
    qa: list[QA] = [("What is the title of the piece?", m.title, (m.title,)),
                    ("Who is the composer?", m.composer, (m.composer,)),
                    ("Which instrument is the part written for?", m.instrument, (m.instrument,)),
                    ("What is the tempo marking?", m.tempo, (m.tempo,)),
                    ("What is the metronome marking in beats per minute?", str(m.bpm), (str(m.bpm),)),
                    ("What is the time signature?", m.time, (m.time,)),
                    ("How many beats are in each measure, as the time signature gives them?", beats[0], (m.time,)),
                    ("How many measures does the piece have?", str(len(m.measures)), ()),
                    ("How many notes are in the first measure?", str(len(m.measures[0])), ()),
                    ("How many sharps or flats are in the key signature?", m.key_signature, ())]
    other = [t for t in TIMES if t != m.time]
    yes = rng.random() < 0.5
    asked = m.time if yes else other[int(rng.integers(len(other)))]
    qa.append((f"Is the piece in {asked} time?", "Yes" if yes else "No", (m.time,)))
    mc = _mc(rng, "Which time signature does the score use?", m.time, list(TIMES), (m.time,))
    if mc:
        qa.append(mc)
    qa.append(("In which year was the piece first performed?", UNANSWERABLE, ()))
    qa.append(("Summarize the score.", f"{m.title} by {m.composer}: {len(m.measures)} measures for "
               f"{m.instrument} in {m.time}, marked {m.tempo} ({m.bpm} bpm).", (m.title, m.composer, m.tempo)))
    return qa
