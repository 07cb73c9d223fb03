"""Store-level behaviour on SQLite and PostgreSQL: migrations, ending calls, the queue claim."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from wirexa.calls import status as st
from wirexa.sids import new_call_sid
from wirexa.store.calls import CallStore
from wirexa.store.db import make_engine, migrate
from wirexa.store.projects import ProjectStore
from wirexa.store.tables import metadata


def stores(url: str) -> tuple[ProjectStore, CallStore]:
    engine = make_engine(url)
    migrate(engine)
    migrate(engine)  # a second run is a no-op
    return ProjectStore(engine), CallStore(engine)


def new_call(calls: CallStore, account: str, **extra: object) -> dict:
    return calls.create({"sid": new_call_sid(), "account_sid": account, "direction": "outbound-api",
                         "status": st.QUEUED, "to_number": "+13125551234", "from_number": "+18005550100",
                         "url": "https://b.example/v", **extra})


def test_schema_has_the_owner_node_column(database_url: str) -> None:
    projects, calls = stores(database_url)
    cols = {c["name"] for c in inspect(calls.engine).get_columns("calls")}
    assert {"node_id", "dispatched_at", "sip_response_code", "error_message"} <= cols


def test_migrations_build_exactly_the_tables_the_code_defines(database_url: str) -> None:
    _, calls = stores(database_url)
    with calls.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_times_come_back_timezone_aware_utc(database_url: str) -> None:
    projects, calls = stores(database_url)
    p = projects.create("P")
    start = datetime(2025, 1, 14, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    row = new_call(calls, p.sid, start_time=start)
    got = calls.get(p.sid, row["sid"])
    assert got is not None
    assert got["start_time"] == start and got["start_time"].tzinfo == timezone.utc
    assert got["date_created"].tzinfo == timezone.utc


def test_finish_prices_by_started_minute_and_debits_billing_projects(database_url: str) -> None:
    projects, calls = stores(database_url)
    p = projects.create("P", billing_enabled=True, balance=Decimal("1.00"), price_per_minute=Decimal("0.013"))
    row = new_call(calls, p.sid)
    calls.transition(row["sid"], st.ALL, {"status": st.IN_PROGRESS,
                                          "start_time": datetime.now(timezone.utc) - timedelta(seconds=125)})
    ended = calls.finish(row["sid"], st.COMPLETED, sip_response_code=200, sip_reason="OK",
                         default_price_per_minute=Decimal("0.01"), price_unit="USD")
    assert ended is not None
    assert ended["status"] == st.COMPLETED and ended["duration"] == 125
    assert ended["price"] == Decimal("-0.039") and ended["price_unit"] == "USD"
    assert ended["end_time"] is not None
    assert projects.get(p.sid).balance == Decimal("0.961")  # type: ignore[union-attr]
    # Ending twice changes nothing.
    assert calls.finish(row["sid"], st.FAILED, default_price_per_minute=Decimal("0.01"), price_unit="USD") is None
    assert projects.get(p.sid).balance == Decimal("0.961")  # type: ignore[union-attr]


def test_unanswered_calls_cost_nothing_and_keep_their_sip_outcome(database_url: str) -> None:
    projects, calls = stores(database_url)
    p = projects.create("P", billing_enabled=True, balance=Decimal("1"))
    row = new_call(calls, p.sid)
    ended = calls.finish(row["sid"], st.BUSY, sip_response_code=486, sip_reason="Busy Here",
                         default_price_per_minute=Decimal("0.01"), price_unit="USD")
    assert ended is not None and ended["duration"] == 0 and ended["price"] == 0
    assert (ended["sip_response_code"], ended["sip_reason"]) == (486, "Busy Here")
    assert projects.get(p.sid).balance == Decimal("1")  # type: ignore[union-attr]


def test_a_claimed_call_is_not_canceled_as_waiting(database_url: str) -> None:
    projects, calls = stores(database_url)
    p = projects.create("P")
    row = new_call(calls, p.sid)
    assert [c["sid"] for c in calls.claim_queued(p.sid, "node-a", 10)] == [row["sid"]]
    assert calls.finish(row["sid"], st.CANCELED, unclaimed=True,
                        default_price_per_minute=Decimal("0.01"), price_unit="USD") is None
    assert calls.get(p.sid, row["sid"])["status"] == st.QUEUED  # type: ignore[index]


def test_the_queue_lists_each_project_with_calls_waiting_for_a_node(database_url: str) -> None:
    projects, calls = stores(database_url)
    waiting, claimed, ringing, idle = (projects.create(n) for n in ("W", "C", "R", "I"))
    for _ in range(3):
        new_call(calls, waiting.sid)
    new_call(calls, claimed.sid)
    calls.claim_queued(claimed.sid, "node-a", 10)  # still queued, but a node owns it
    new_call(calls, ringing.sid, status=st.RINGING)
    assert calls.projects_with_queued() == [waiting.sid]
    new_call(calls, idle.sid)
    assert sorted(calls.projects_with_queued()) == sorted([waiting.sid, idle.sid])


def test_concurrent_claimers_never_take_the_same_call(database_url: str) -> None:
    projects, calls = stores(database_url)
    p = projects.create("P")
    made = [new_call(calls, p.sid)["sid"] for _ in range(60)]
    taken: dict[str, list[str]] = {"node-a": [], "node-b": [], "node-c": []}

    def claim(node: str) -> None:
        while True:
            got = calls.claim_queued(p.sid, node, 4)
            if not got:
                return
            taken[node].extend(c["sid"] for c in got)

    threads = [threading.Thread(target=claim, args=(n,)) for n in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    everything = [s for got in taken.values() for s in got]
    assert sorted(everything) == sorted(made)  # each call claimed exactly once
    for node, got in taken.items():
        assert got == sorted(got, key=made.index)  # each node got its calls in creation order
        for sid in got:
            assert calls.get(p.sid, sid)["node_id"] == node  # type: ignore[index]


def test_batcher_shares_commits_keeps_order_and_isolates_a_failing_job(database_url: str) -> None:
    import asyncio
    from functools import partial

    from wirexa.store.batch import Batcher

    projects, calls = stores(database_url)
    p = projects.create("P")
    batcher = Batcher(calls.engine)
    transactions: list[int] = []
    real_execute = batcher._execute

    def counting_execute(jobs: list) -> list:
        transactions.append(len(jobs))
        return real_execute(jobs)

    batcher._execute = counting_execute  # type: ignore[method-assign]

    def values(account: str) -> dict:
        return {"sid": new_call_sid(), "account_sid": account, "direction": "outbound-api",
                "status": st.QUEUED, "to_number": "+13125551234", "from_number": "+18005550100",
                "url": "https://b.example/v"}

    async def create_all() -> list:
        jobs = [batcher.run(partial(calls.create, values(p.sid))) for _ in range(50)]
        jobs.insert(25, batcher.run(partial(calls.create, values("no-such-project"))))
        out = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.close()
        return out

    results = asyncio.run(create_all())
    failed = [r for r in results if isinstance(r, Exception)]
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(failed) == 1 and len(made) == 50  # the foreign key refused only the bad one
    assert len(transactions) < 51  # jobs waiting together shared transactions
    ids = [r["id"] for r in made]
    assert ids == sorted(ids)  # committed in submission order (the queue's order)
    assert all(calls.get(p.sid, r["sid"]) is not None for r in made)


def test_calls_per_second_are_paced_evenly() -> None:
    from wirexa.calls.queue import CallsPerSecond

    limit = CallsPerSecond(20)
    sent: list[float] = []
    now = 0.0
    while now < 3.0:  # a dispatcher asking every millisecond
        for _ in range(limit.available(now)):
            limit.record(now)
            sent.append(now)
        now = round(now + 0.001, 3)
    assert 59 <= len(sent) <= 60
    for i, t in enumerate(sent):
        assert sum(1 for u in sent[i:] if u - t < 0.998) <= 20  # 20 in a second (to the ms the dispatcher asks at)
        assert sum(1 for u in sent[i:] if u - t < 0.099) <= 4  # and spread: 4 per tenth at most
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert min(gaps) > 0.047 and max(gaps) < 0.053  # evenly: one every 50 ms (the dispatcher asks each ms)
    late = CallsPerSecond(100)  # a dispatcher that wakes late takes what it missed, 10 at most
    late.record(0.0)
    assert late.available(0.065) == 6 and late.available(0.5) == 10
    assert late.available(1.5) == 1  # after a second idle: no burst
    slow = CallsPerSecond(0.5)
    assert slow.available(0.0) == 1
    slow.record(0.0)
    assert slow.available(1.5) == 0 and slow.next_free(1.5) == 2.0
