"""SLA risk at scale: one `commands.sla_risk.at_risk` evaluation (what the SLA-risk alert runs each time it
checks, and `kpibot alert sla --preview` prints) against a team far behind.

    python bench/sla_risk.py [--open 150000] [--db /tmp/kpibot-bench-sla-risk.db] [--runs 9]
                             [--lead 1800] [--kpi-db /tmp/kpibot-bench-kpi.db]
                             [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

Builds (each run, in seconds) a database of `--open` open conversations that arrived over the 48 hours
before NOW (bench/kpi_data.py's instant and channel mix), written with bench/kpi_data.py's bulk helpers:
55 % still wait for a first reply (a running "first" clock), 25 % were answered and wait for the next
reply (an ended "first" clock and a running "next" clock), 20 % wait on the customer (an ended "first"
clock); every one has a running "resolution" clock. Replies are lognormal (median 40 min), so the
last hour's replies give each channel a pace. 1 % are claimed ("I'm on it") and 1 % snoozed past NOW.
Clocks carry the deadlines ingestion would stamp under the default policies (first and next response:
the channel's FRT benchmark; resolution: 24 h; calendar time), recorded as stamped.

Then times `at_risk(conn, NOW, lead=--lead)` — per-channel queues, one queue for all channels, and
twitter alone — printing the median and the slowest of `--runs` evaluations after an untimed first one,
and how many clocks were candidates (deadline within the lead) and at risk. When the KPI benchmark's
database (bench/kpi.py, 1,000,000 conversations over 90 days) exists at `--kpi-db`, the same evaluations
are timed there too: fewer running response clocks, more history.

The clocks a check reads are the running ones (the partial indexes ix_sla_clock_due and
ix_sla_clock_queue) and the last hour's replies (ix_sla_clock_end): closed history adds little.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.kpi_data import (  # noqa: E402
    _CONV_COLUMNS,
    AGENTS,
    CHANNELS,
    MIX,
    NOW,
    _connect_for_load,
    _floats,
    _stamps,
    _times,
    _write,
    bench_database,
)
from commands.sla_risk import at_risk  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.service_levels import Deadlines, policies  # noqa: E402
from storage.settings import Settings  # noqa: E402

HOURS = 48
_CLOCK_COLUMNS = (
    "conversation_id", "channel", "kind", "start_at", "end_at", "seconds", "agent", "deadline", "late",
)  # fmt: skip


def build_backlog(url: str, conversations: int, seed: int = 1, settings: Settings | None = None) -> None:
    """Creates the schema in the empty database at `url` and writes `conversations` open conversations
    with their service-level clocks, stamped under `settings` (default: `Settings`)."""
    settings = settings or Settings(database_url=url)
    deadlines = Deadlines(policies(None, settings))
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    engine.dispose()  # the bulk load's own connection sets the journal off: no other may be open
    rng = np.random.default_rng(seed)
    now, n = NOW.timestamp(), conversations
    opened = np.sort(now - rng.integers(1, HOURS * 3600, n)).astype(float)
    ids = np.arange(1, n + 1)
    channel = CHANNELS[rng.choice(len(CHANNELS), n, p=MIX)]
    agent = AGENTS[rng.integers(0, len(AGENTS), n)]
    state = rng.choice(3, n, p=[0.55, 0.25, 0.20])  # waiting for a first reply, a next reply, the customer
    reply = opened + np.exp(rng.normal(np.log(2400), 1.3, n)).round()
    state[reply >= now] = 0  # not answered yet, whatever it was to be
    reply = np.where(state > 0, reply, np.nan)
    again = reply + np.floor((now - reply) * rng.random(n))  # the customer's next message
    again = np.where(state == 1, again, np.nan)
    replied = reply == reply
    db = _connect_for_load(url, postgres)
    _write(
        db,
        "raw_event",
        ("id", "source", "external_id", "type", "event_at", "received_at", "body"),
        [(1, "bench", "bench", "message", "2026-01-01 00:00:00.000000", "2026-01-01 00:00:00.000000", "{}")],
    )
    rows = zip(
        ids.tolist(),
        ["bench"] * n,
        [f"c{i}" for i in ids.tolist()],
        channel.tolist(),
        [f"@u{i}" for i in ids.tolist()],
        _times(opened),
        _times(opened),
        _times(reply),
        np.where(replied, agent, None).tolist(),
        _floats(reply - opened),
        _times(np.fmax(np.fmax(opened, reply), again)),
        ["open"] * n,
        [0] * n,
        [None] * n,
        [None] * n,
        [None] * n,
        [None] * n,
        [0] * n,
        np.where(replied, agent, None).tolist(),
        ["support"] * n,
        [0] * n,
        [None] * n,
        strict=True,
    )
    _write(db, "conversation", _CONV_COLUMNS, rows)
    conv, chan, who = ids.tolist(), channel.tolist(), agent.tolist()
    for kind, start, end, keep in (
        ("first", opened, reply, np.ones(n, dtype=bool)),
        ("next", again, np.full(n, np.nan), state == 1),
        ("resolution", opened, np.full(n, np.nan), np.ones(n, dtype=bool)),
    ):
        due, late = _stamps(deadlines, kind, channel, start, end)
        ended = (end == end).tolist()
        clocks = zip(
            conv, chan, _times(start), _times(end), _floats(end - start), who, ended, due, late,
            keep.tolist(), strict=True,
        )  # fmt: skip
        _write(
            db,
            "sla_clock",
            _CLOCK_COLUMNS,
            (
                (c, ch, kind, s, e, w, a if x and kind != "resolution" else None, d, lt)
                for c, ch, s, e, w, a, x, d, lt, k in clocks
                if k
            ),
        )
    pick = rng.random(n)
    claims = [(c, "U001", _times(np.array([now - 600.0]))[0], None) for c in ids[pick < 0.01].tolist()]
    snoozed = _times(np.array([now + 1800.0]))[0]
    claims += [(c, None, None, snoozed) for c in ids[(pick >= 0.01) & (pick < 0.02)].tolist()]
    _write(db, "sla_claim", ("conversation_id", "claimed_by", "claimed_at", "snoozed_until"), claims)
    db.commit()
    db.close()
    with engine.begin() as conn:
        deadlines.record(conn)
        if postgres:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('conversation', 'id'), "
                "(SELECT max(id) FROM conversation))"
            )
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def time_risk(url: str, runs: int, lead: float) -> None:
    """The median and slowest of `runs` evaluations (after an untimed first) for three cases."""
    engine = make_engine(url, create=False)
    with engine.connect() as conn:
        running = conn.execute(
            text("SELECT kind, count(*) FROM sla_clock WHERE end_at IS NULL GROUP BY kind ORDER BY kind")
        ).all()
        open_count = conn.execute(
            text("SELECT count(*) FROM conversation WHERE status <> 'resolved'")
        ).scalar()
        print(
            f"{open_count:,} open conversations; running clocks: "
            + ", ".join(f"{k} {c:,}" for k, c in running)
        )
        for label, options in (
            ("per-channel queues", {}),
            ("one queue (all)", {"queue": "all"}),
            ("twitter", {"channels": ("twitter",)}),
        ):
            found = at_risk(conn, NOW, lead=lead, **options)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                at_risk(conn, NOW, lead=lead, **options)
                times.append((time.perf_counter() - started) * 1000)
            print(
                f"  at_risk {label:<20} median {statistics.median(times):7.1f} ms  max {max(times):7.1f} ms"
                f"  ({runs} runs; {len(found):,} at risk)",
                flush=True,
            )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=150_000, help="open conversations (default 150,000)")
    parser.add_argument("--db", default="/tmp/kpibot-bench-sla-risk.db", help="the SQLite file")
    parser.add_argument("--database-url", help="a PostgreSQL server; the bench uses kpibot_bench_sla_risk")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--lead", type=float, default=1800.0, help="seconds ahead (default 1800)")
    parser.add_argument(
        "--kpi-db", default="/tmp/kpibot-bench-kpi.db", help="bench/kpi.py's database, timed too when present"
    )
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith("sqlite"):
        url = bench_database(args.database_url, "kpibot_bench_sla_risk", fresh=True)
    else:
        url = args.database_url or f"sqlite:///{args.db}"
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    build_backlog(url, args.open)
    took = time.perf_counter() - started
    print(f"built {url.split('@')[-1]}: {args.open:,} open conversations in {took:.1f} s")
    print(f"as of {NOW:%Y-%m-%d %H:%M} UTC, lead {args.lead:.0f} s")
    time_risk(url, args.runs, args.lead)
    if args.kpi_db and Path(args.kpi_db).exists():
        print(f"\n{args.kpi_db} (bench/kpi.py's database)")
        time_risk(f"sqlite:///{args.kpi_db}", args.runs, args.lead)


if __name__ == "__main__":
    main()
