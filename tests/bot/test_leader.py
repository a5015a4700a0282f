"""Leadership: one process of several on a database runs the scheduler; another takes over when it goes."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from bot.leader import Leadership
from storage.db import make_engine
from tests.slack_standin import wait_for


class Work:
    """Stands in for the scheduler: counts how often it was started and stopped."""

    def __init__(self) -> None:
        self.started = self.stopped = 0

    def __call__(self):
        self.started += 1
        return self.stop

    def stop(self) -> None:
        self.stopped += 1


@pytest.mark.sqlite_only("several processes need PostgreSQL; on SQLite the one process leads")
def test_on_sqlite_the_process_leads_at_once_and_stops_its_work_on_stop(engine):
    work = Work()
    leadership = Leadership(engine, work, retry_seconds=0.1)
    leadership.start()
    assert (leadership.leading, work.started) == (True, 1)
    leadership.stop()
    assert (leadership.leading, work.stopped) == (False, 1)


@contextmanager
def two_processes(database_url: str) -> Iterator[tuple[Leadership, Leadership, list[Work]]]:
    """Two candidates on their own engines; the first leads, the second has started standing by."""
    engines = [make_engine(database_url) for _ in range(2)]
    works = [Work(), Work()]
    first, second = (Leadership(e, w, retry_seconds=0.1) for e, w in zip(engines, works, strict=True))
    first.start()
    wait_for(lambda: first.leading, message="the first process to lead")
    second.start()
    wait_for(lambda: second._said_standby, message="the second process to stand by")
    try:
        yield first, second, works
    finally:
        first.stop()
        second.stop()
        for engine in engines:
            engine.dispose()


@pytest.mark.postgresql_only("the leader lock is a PostgreSQL advisory lock")
def test_of_two_processes_one_leads_and_the_other_takes_over_when_it_stops(database_url):
    with two_processes(database_url) as (first, second, works):
        assert (works[0].started, works[1].started) == (1, 0)

        first.stop()  # releases the lock

        wait_for(lambda: second.leading, message="the second process to take over")
        assert (works[0].stopped, works[1].started) == (1, 1)


@pytest.mark.postgresql_only("the leader lock is a PostgreSQL advisory lock")
def test_a_leader_whose_connection_is_cut_stops_its_work_and_one_process_leads_again(database_url, engine):
    with two_processes(database_url) as (first, second, works):
        with engine.begin() as conn:  # as a network cut or a server restart would
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )

        wait_for(lambda: works[0].stopped == 1, message="the cut-off leader to stop its work")
        # Then one of the two (either may win the lock) leads again, and only one.
        wait_for(lambda: first.leading or second.leading, message="a leader again")
        assert [first.leading, second.leading].count(True) == 1
        assert works[0].started + works[1].started == 2


@pytest.mark.postgresql_only("the leader lock is a PostgreSQL advisory lock")
def test_a_process_told_to_stop_no_longer_takes_over_from_a_leader_that_stops_first(database_url):
    # As when every process of a deployment gets SIGTERM: the leader's graceful shutdown may end first,
    # and the others, still finishing theirs, must not pick up the scheduler on their way out.
    with two_processes(database_url) as (first, second, works):
        second.retire()
        first.stop()

        time.sleep(1.0)  # ten of the second's retries
        assert (second.leading, works[1].started) == (False, 0)
        assert (works[0].started, works[0].stopped) == (1, 1)
