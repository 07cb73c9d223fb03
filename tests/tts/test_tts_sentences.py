from __future__ import annotations

from wirexa.tts.sentences import split_sentences


def test_sentences_keep_their_punctuation_and_skip_abbreviations() -> None:
    text = "Hello!  Thank you for calling Dr. Smith's office.\n  Press 1 for sales, 2 for support. No. Why?"
    assert split_sentences(text) == [
        "Hello!", "Thank you for calling Dr. Smith's office.", "Press 1 for sales, 2 for support.",
        "No.", "Why?"]
    assert split_sentences("Version 2.5 is out. “Great.” Yes") == ["Version 2.5 is out.", "“Great.”", "Yes"]
    assert split_sentences("你好。我很好！") == ["你好。", "我很好！"]
    assert split_sentences(" \n ") == []


def test_long_sentences_break_at_clauses_then_words() -> None:
    clauses = [f"this is clause number {i} of a rather long sentence" for i in range(12)]
    pieces = split_sentences(", ".join(clauses) + ".", max_chars=120)
    assert " ".join(pieces) == ", ".join(clauses) + "."
    assert all(len(p) <= 120 for p in pieces) and len(pieces) > 3
    assert all(p.endswith((",", ".")) for p in pieces)  # cut where a speaker would pause
    words = split_sentences("word " * 60, max_chars=50)
    assert all(len(p) <= 50 for p in words) and " ".join(words) == " ".join(["word"] * 60)
