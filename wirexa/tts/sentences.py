"""Text cut into sentences (and over-long sentences into clauses) so speech can start playing
while the rest is still being rendered."""

from __future__ import annotations

import re

# Long enough for natural prosody, short enough that the first piece renders quickly.
MAX_CHARS = 200

# A sentence ends at . ! ? … (plus closing quotes/brackets) before a space, or at CJK full stops.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|[。！？]+\s*")
_CLAUSE = re.compile(r"(?<=[,;:—])\s+")
# A full stop after these is not the end of a sentence ("Dr. Smith", "e.g. this").
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "e.g", "i.e", "mt"}


def split_sentences(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for end in _END.finditer(text):
        words = text[start:end.start()].split()
        last = words[-1].lower() if words else ""
        if text[end.start()] == "." and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            continue
        sentences.append(text[start:end.end()].strip())
        start = end.end()
    sentences.append(text[start:].strip())
    pieces: list[str] = []
    for sentence in filter(None, sentences):
        pieces += _shorten(sentence, max_chars) if len(sentence) > max_chars else [sentence]
    return pieces


def _shorten(sentence: str, max_chars: int) -> list[str]:
    """A long sentence in pieces of at most `max_chars`: whole clauses where they fit, else words."""
    pieces: list[str] = []
    for clause in _CLAUSE.split(sentence):
        units = [clause] if len(clause) <= max_chars else clause.split(" ")
        for unit in units:
            if pieces and len(pieces[-1]) + 1 + len(unit) <= max_chars:
                pieces[-1] += " " + unit
            else:
                pieces.append(unit)
    return pieces
