"""Rules: how a virtual phone behaves, chosen by the dialed number.

A rule (TOML table / JSON object):

    id = "callback-test"          # optional; generated when absent
    number = "+15550100"          # exactly one of: number (exact), prefix, regex
    ring = 2.0                    # seconds of 180 Ringing before the outcome (0: at once)
    outcome = "answer"            # answer | busy | no-answer | reject | fail
    code = 603                    # SIP code for reject (default 603) / fail (503) / busy (486)
    reason = "Decline"            # optional reason phrase
    hangup_after = 30             # seconds after answer: the phone hangs up (BYE)
    hangup_when_done = false      # hang up when the script ends (else wait for the far end)
    script = [ { say = "Hello?" }, { wait = 1 }, { dtmf = "1", when = "quiet" } ]

Script actions (one action key per table, plus its options):

    { say = "text", voice = "en-us", speed = 160 }       espeak-ng, 8 kHz
    { play = "file.wav" }                                 relative to the rules file's folder
    { beep = 0.5, frequency = 1000 }                      a tone
    { voicemail = "greeting text", beep_frequency = 1000, beep_seconds = 0.5 }
    { wait = 2.5 }                                        seconds
    { dtmf = "12#", at = 3.0 }                            at: seconds after answer (optional)
    { dtmf = "1", when = "quiet", quiet_ms = 700, threshold = 300, timeout = 30 }
    { wait_for_quiet = 700, threshold = 300, timeout = 30 }
    { wait_for_hangup = true }                            or a number of seconds (a limit)
    { hangup = true }

"quiet" = the RMS of what the phone hears stays below `threshold` (16-bit scale) for
`quiet_ms` after it heard something at or above it since the action started. `timeout`
(seconds) gives up waiting (the digits are then sent anyway; 0 = no limit).

Matching: an exact `number` wins over any prefix/regex; otherwise the first matching
prefix/regex in list order. Rules added over REST go first, then the rules file, then the
built-in numbers (READY_NUMBERS), whose last entry is the catch-all `default`. A leading "+"
is ignored when comparing numbers and prefixes.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTCOMES = ("answer", "busy", "no-answer", "reject", "fail")
DEFAULT_CODES = {"busy": 486, "reject": 603, "fail": 503}
DTMF_CHARS = set("0123456789*#ABCDabcd")

# action name → {option: type(s)}; the action key's own value type is in _ACTION_VALUE
_ACTION_OPTIONS: dict[str, dict[str, tuple[type, ...]]] = {
    "say": {"voice": (str,), "speed": (int,)},
    "play": {},
    "beep": {"frequency": (int, float)},
    "voicemail": {"voice": (str,), "speed": (int,), "beep_frequency": (int, float),
                  "beep_seconds": (int, float)},
    "wait": {},
    "dtmf": {"at": (int, float), "when": (str,), "quiet_ms": (int,), "threshold": (int, float),
             "timeout": (int, float), "duration_ms": (int,), "pause_ms": (int,)},
    "wait_for_quiet": {"threshold": (int, float), "timeout": (int, float)},
    "wait_for_hangup": {},
    "hangup": {},
}
_ACTION_VALUE: dict[str, tuple[type, ...]] = {
    "say": (str,), "play": (str,), "beep": (int, float), "voicemail": (str,), "wait": (int, float),
    "dtmf": (str,), "wait_for_quiet": (int,), "wait_for_hangup": (bool, int, float),
    "hangup": (bool, int),
}


class RuleError(ValueError):
    """A rule or script that does not validate (the message says where)."""


@dataclass(frozen=True)
class Action:
    kind: str
    value: Any
    options: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: self.value, **self.options}


def parse_action(raw: Any, where: str = "action") -> Action:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: must be a table/object like {{ say = \"Hello\" }}")
    kinds = [k for k in raw if k in _ACTION_OPTIONS]
    if len(kinds) != 1:
        raise RuleError(f"{where}: exactly one of {', '.join(_ACTION_OPTIONS)} expected, got {sorted(raw)}")
    kind = kinds[0]
    value = raw[kind]
    if not isinstance(value, _ACTION_VALUE[kind]) or (isinstance(value, bool) and bool not in _ACTION_VALUE[kind]):
        raise RuleError(f"{where}: {kind} has a bad value {value!r}")
    options = {k: v for k, v in raw.items() if k != kind}
    allowed = _ACTION_OPTIONS[kind]
    for name, opt in options.items():
        if name not in allowed:
            raise RuleError(f"{where}: {kind} has no option {name!r} (options: {', '.join(allowed) or 'none'})")
        if not isinstance(opt, allowed[name]) or isinstance(opt, bool):
            raise RuleError(f"{where}: {kind}.{name} has a bad value {opt!r}")
    if kind in ("wait", "beep") and value < 0:
        raise RuleError(f"{where}: {kind} must be >= 0")
    if kind == "dtmf":
        if not value or set(value) - DTMF_CHARS:
            raise RuleError(f"{where}: dtmf digits must be 0-9 * # A-D, got {value!r}")
        if options.get("when") not in (None, "quiet"):
            raise RuleError(f"{where}: dtmf.when can only be \"quiet\"")
        if "at" in options and "when" in options:
            raise RuleError(f"{where}: dtmf takes `at` or `when`, not both")
    if kind == "say" and not value.strip():
        raise RuleError(f"{where}: say needs text")
    return Action(kind, value, options)


def parse_script(raw: Any, where: str = "script") -> list[Action]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RuleError(f"{where}: must be a list of actions")
    return [parse_action(a, f"{where}[{i}]") for i, a in enumerate(raw)]


def _strip_plus(number: str) -> str:
    return number[1:] if number.startswith("+") else number


@dataclass
class Rule:
    id: str
    number: str | None = None
    prefix: str | None = None
    regex: str | None = None
    ring: float = 0.0
    outcome: str = "answer"
    code: int | None = None
    reason: str | None = None
    hangup_after: float | None = None
    hangup_when_done: bool = False
    script: list[Action] = field(default_factory=list)
    description: str | None = None
    base_dir: Path | None = None  # where relative `play` paths are looked up
    _pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any, base_dir: Path | None = None, where: str = "rule") -> Rule:
        if not isinstance(raw, dict):
            raise RuleError(f"{where}: must be a table/object")
        known = {"id", "number", "prefix", "regex", "ring", "outcome", "code", "reason",
                 "hangup_after", "hangup_when_done", "script", "description"}
        unknown = set(raw) - known
        if unknown:
            raise RuleError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        matchers = [k for k in ("number", "prefix", "regex") if raw.get(k) is not None]
        if len(matchers) != 1:
            raise RuleError(f"{where}: exactly one of number, prefix, regex is required")
        for k in ("id", "number", "prefix", "regex", "reason", "description"):
            if raw.get(k) is not None and not isinstance(raw[k], str):
                raise RuleError(f"{where}: {k} must be a string")
        outcome = raw.get("outcome", "answer")
        if outcome not in OUTCOMES:
            raise RuleError(f"{where}: outcome must be one of {', '.join(OUTCOMES)}")
        ring = _number(raw.get("ring", 0), f"{where}: ring")
        hangup_after = raw.get("hangup_after")
        if hangup_after is not None:
            hangup_after = _number(hangup_after, f"{where}: hangup_after")
        code = raw.get("code")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool) or not 400 <= code <= 699):
            raise RuleError(f"{where}: code must be a SIP failure code (400-699)")
        if not isinstance(raw.get("hangup_when_done", False), bool):
            raise RuleError(f"{where}: hangup_when_done must be true or false")
        pattern = None
        if raw.get("regex") is not None:
            try:
                pattern = re.compile(raw["regex"])
            except re.error as exc:
                raise RuleError(f"{where}: bad regex: {exc}") from exc
        return cls(
            id=raw.get("id") or "r" + uuid.uuid4().hex[:10],
            number=raw.get("number"), prefix=raw.get("prefix"), regex=raw.get("regex"),
            ring=ring, outcome=outcome, code=code, reason=raw.get("reason"),
            hangup_after=hangup_after, hangup_when_done=raw.get("hangup_when_done", False),
            script=parse_script(raw.get("script"), f"{where}.script"),
            description=raw.get("description"), base_dir=base_dir, _pattern=pattern,
        )

    @property
    def final_code(self) -> int | None:
        """The SIP code this rule ends with when it does not answer (None: answer / no-answer)."""
        if self.outcome in DEFAULT_CODES:
            return self.code or DEFAULT_CODES[self.outcome]
        return None

    def matches_exactly(self, number: str) -> bool:
        return self.number is not None and _strip_plus(self.number) == _strip_plus(number)

    def matches_pattern(self, number: str) -> bool:
        if self.prefix is not None:
            return _strip_plus(number).startswith(_strip_plus(self.prefix))
        if self._pattern is not None:
            return self._pattern.search(number) is not None
        return False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        for k in ("number", "prefix", "regex"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        out.update(ring=self.ring, outcome=self.outcome)
        if self.final_code is not None:
            out["code"] = self.final_code
        for k in ("reason", "hangup_after", "description"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        out["hangup_when_done"] = self.hangup_when_done
        out["script"] = [a.to_dict() for a in self.script]
        return out


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RuleError(f"{where} must be a number >= 0")
    return float(value)


class RuleBook:
    """The ordered rules of one sandbox: runtime (REST) rules, then file rules, then built-ins."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        self._rules: list[Rule] = list(rules or [])

    def __iter__(self):
        return iter(list(self._rules))

    def __len__(self) -> int:
        return len(self._rules)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self._rules if r.id == rule_id), None)

    def match(self, number: str) -> Rule | None:
        for rule in self._rules:
            if rule.matches_exactly(number):
                return rule
        for rule in self._rules:
            if rule.matches_pattern(number):
                return rule
        return None

    def add(self, rule: Rule) -> None:
        """Put a new rule first (ahead of the file and built-in rules). RuleError if its id exists."""
        if self.get(rule.id) is not None:
            raise RuleError(f"rule {rule.id!r} exists (PUT /rules/{rule.id} replaces it)")
        self._rules.insert(0, rule)

    def put(self, rule: Rule) -> bool:
        """Replace the rule with the same id in place, or add it first. True if it replaced."""
        for i, existing in enumerate(self._rules):
            if existing.id == rule.id:
                self._rules[i] = rule
                return True
        self._rules.insert(0, rule)
        return False

    def remove(self, rule_id: str) -> bool:
        before = len(self._rules)
        self._rules = [r for r in self._rules if r.id != rule_id]
        return len(self._rules) != before

    def extend(self, rules: list[Rule]) -> None:
        for rule in rules:
            if self.get(rule.id) is not None:
                raise RuleError(f"duplicate rule id {rule.id!r}")
            self._rules.append(rule)


def load_rules_file(path: str | Path) -> list[Rule]:
    """Rules from a TOML file: `[[rule]]` tables (see the module docstring)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"{path}: {exc}") from exc
    unknown = set(data) - {"rule"}
    if unknown:
        raise RuleError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; use [[rule]] tables")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RuleError(f"{path}: `rule` must be an array of tables ([[rule]])")
    rules = [Rule.from_dict(r, base_dir=path.parent, where=f"{path}: rule {i + 1}")
             for i, r in enumerate(raw_rules)]
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(f"{path}: duplicate rule id(s) {', '.join(sorted(dupes))}")
    return rules


# --- the ready-made numbers: the one table (documented in wirexa/sandbox/__init__.py) -------

VOICEMAIL_GREETING = "Hi, you have reached the sandbox voicemail. Please leave a message after the tone."

READY_NUMBERS: list[dict[str, Any]] = [
    {"id": "human", "number": "+15005550001", "ring": 1,
     "description": "rings 1 s, answers, says \"Hello?\", presses nothing, hangs up when the far end does",
     "hangup_after": 600, "script": [{"say": "Hello?"}, {"wait_for_hangup": True}]},
    {"id": "voicemail", "number": "+15005550002", "ring": 2,
     "description": "answers after 2 s, ~4 s greeting, 1000 Hz beep (0.5 s), listens 10 s, hangs up",
     "hangup_when_done": True,
     "script": [{"voicemail": VOICEMAIL_GREETING}, {"wait": 10}]},
    {"id": "busy", "number": "+15005550003", "outcome": "busy",
     "description": "486 Busy Here at once"},
    {"id": "no-answer", "number": "+15005550004", "outcome": "no-answer",
     "description": "rings (180) until the caller cancels"},
    {"id": "rejected", "number": "+15005550005", "outcome": "reject", "code": 603,
     "description": "603 Decline at once"},
    {"id": "failed", "number": "+15005550006", "outcome": "fail", "code": 503,
     "description": "503 Service Unavailable at once"},
    {"id": "presses-1", "number": "+15005550007", "ring": 1, "hangup_after": 600,
     "description": "rings 1 s, answers, presses 1 once the far end has spoken and gone quiet "
                    "(0.7 s), then waits for the far end to hang up",
     "script": [{"dtmf": "1", "when": "quiet", "quiet_ms": 700, "timeout": 30},
                {"wait_for_hangup": True}]},
    {"id": "hangs-up", "number": "+15005550008", "ring": 1,
     "description": "rings 1 s, answers, says \"Sorry, goodbye.\" and hangs up itself",
     "hangup_when_done": True, "script": [{"say": "Sorry, goodbye."}, {"wait": 0.5}]},
    {"id": "default", "regex": ".*", "ring": 1, "hangup_after": 600,
     "description": "any other number: behaves like +15005550001 (human)",
     "script": [{"say": "Hello?"}, {"wait_for_hangup": True}]},
]


def ready_rules() -> list[Rule]:
    return [Rule.from_dict(r, where=f"built-in {r['id']}") for r in READY_NUMBERS]
