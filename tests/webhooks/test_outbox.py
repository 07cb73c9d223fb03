"""The outbox in the store, on SQLite and PostgreSQL: claims keep each call's callbacks in
order, skip saturated hosts, and survive a node stopping mid-send."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from wirexa.clock import utcnow
from wirexa.store.db import make_engine, migrate
from wirexa.store.projects import ProjectStore
from wirexa.webhooks import outbox
from wirexa.webhooks.options import parse_options
from wirexa.webhooks.outbox import Outcome, WebhookStore


def setup(database_url: str) -> tuple[Engine, WebhookStore, str]:
    engine = make_engine(database_url, "OFF")
    migrate(engine)
    project = ProjectStore(engine).create("p")
    return engine, WebhookStore(engine), project.sid


def add(engine: Engine, account: str, call: str | None, url: str = "http://a.example/cb") -> str:
    with engine.begin() as conn:
        return outbox.enqueue(conn, account_sid=account, call_sid=call, kind="call-status", url=url,
                              method="POST", params={"CallSid": call or ""})


def outcome(row: dict, delivered: bool, retry_in: float | None = None) -> Outcome:
    now = utcnow()
    return Outcome(row["id"], now, 5, 200 if delivered else 503, None if delivered else "HTTP 503", "", None,
                   None if retry_in is None else now + timedelta(seconds=retry_in), delivered)


def test_one_callback_per_call_at_a_time_in_order(database_url: str) -> None:
    engine, store, account = setup(database_url)
    a1, a2, a3 = (add(engine, account, "CAa") for _ in range(3))
    b1 = add(engine, account, "CAb")
    loose = add(engine, account, None)
    claimed = store.claim_due("n1", 10, 16, {})
    assert [r["sid"] for r in claimed] == [a1, b1, loose]
    assert store.claim_due("n1", 10, 16, {}) == []  # a2 waits for a1
    store.record([outcome(claimed[0], True)])
    (second,) = store.claim_due("n1", 10, 16, {})
    assert second["sid"] == a2
    store.record([outcome(second, False, retry_in=60)])
    assert store.claim_due("n1", 10, 16, {}) == []  # a2 waits for its retry, a3 behind it
    assert a3 not in [r["sid"] for r in store.page(account, 10, status="sending")]


def test_hosts_get_their_share_and_a_stopped_node_releases_what_it_was_sending(database_url: str) -> None:
    engine, store, account = setup(database_url)
    slow = [add(engine, account, None, "http://slow.example/cb") for _ in range(5)]
    fast = add(engine, account, "CA2", "http://FAST.example/cb")
    claimed = store.claim_due("n1", 10, 3, {"slow.example": 1})
    assert [r["sid"] for r in claimed] == [*slow[:2], fast]  # 3 per host, 1 already in flight
    assert store.release("n1") == 3
    assert [r["sid"] for r in store.claim_due("n2", 4, 3, {})] == [*slow[:3], fast]


def test_fragment_options() -> None:
    default = frozenset({"ct", "rt", "5xx"})
    plain = parse_options("https://x.example/cb?a=1", default)
    assert plain.url == "https://x.example/cb?a=1" and plain.retries is None and plain.retry_on == default
    assert (plain.connect_timeout, plain.read_timeout, plain.total_timeout) == (5.0, 15.0, 15.0)
    tuned = parse_options("https://x.example/cb#ct=1500&rt=3000&tt=4000&rc=2&rp=4xx,ct", default)
    assert tuned.url == "https://x.example/cb" and tuned.retries == 2 and tuned.retry_on == {"4xx", "ct"}
    assert (tuned.connect_timeout, tuned.read_timeout, tuned.total_timeout) == (1.5, 3.0, 4.0)
    assert parse_options("https://x.example/cb#rp=all&rc=9", default).retry_on == {"ct", "rt", "4xx", "5xx"}
    assert parse_options("https://x.example/cb#rc=9", default).retries == 5
