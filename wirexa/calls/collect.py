"""Collecting DTMF digits on a live call: one implementation for LaML's <Gather> and the
Calling API's `calling.collect`.

Input ends when `max_digits` are in, a terminator is pressed (not part of the digits), or a
timer runs out: `initial_timeout` until the first digit, `digit_timeout` between digits. The
initial timer starts at once, or when `timers` is set (Calling API `start_input_timers`);
digits pressed before that still count."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from wirexa.media.session import MediaSession

MAX = "max"  # ended by: max_digits reached
TERMINATOR = "terminator"
TIMEOUT = "timeout"  # digits were pressed, then digit_timeout passed
NO_INPUT = "no_input"  # nothing was pressed within initial_timeout


@dataclass(frozen=True)
class DigitRules:
    max_digits: int | None  # None: no limit
    terminators: str
    initial_timeout: float
    digit_timeout: float


@dataclass(frozen=True)
class Collected:
    digits: str
    terminator: str
    ended_by: str  # MAX | TERMINATOR | TIMEOUT | NO_INPUT


async def _first_digit(media: MediaSession, rules: DigitRules, timers: asyncio.Event | None) -> str | None:
    if timers is not None and not timers.is_set():
        digit = asyncio.ensure_future(media.wait_for_digit())  # consumes nothing: cancel-safe
        started = asyncio.ensure_future(timers.wait())
        try:
            await asyncio.wait({digit, started}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            digit.cancel()
            started.cancel()
    return await media.next_digit(rules.initial_timeout)


async def collect_digits(media: MediaSession, rules: DigitRules, *, timers: asyncio.Event | None = None,
                         on_digit: Callable[[str], None] | None = None) -> Collected:
    """Digits as they come (queued ones first: a barge-in digit counts). `on_digit` sees
    the digits so far after each one (partial results)."""
    digit = await _first_digit(media, rules, timers)
    if digit is None:
        return Collected("", "", NO_INPUT)
    digits = ""
    while digit is not None:
        if digit in rules.terminators:
            return Collected(digits, digit, TERMINATOR)
        digits += digit
        if on_digit is not None:
            on_digit(digits)
        if rules.max_digits is not None and len(digits) >= rules.max_digits:
            return Collected(digits, "", MAX)
        digit = await media.next_digit(rules.digit_timeout)
    return Collected(digits, "", TIMEOUT)
