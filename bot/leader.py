"""Which `kpibot serve` process runs the scheduler: the one holding the database's leader lock.

Several bot processes may share one PostgreSQL database behind a load balancer. They all answer Slack
and webhooks; one of them, the leader, runs the scheduler. The leader holds a PostgreSQL session
advisory lock on a connection of its own; the others try again every `retry_seconds` and take over
when the leader's connection ends (process stopped, crashed or cut off), so at most one scheduler runs
at a time and a new one starts within a retry after the leader goes. (The outbox keeps posts single
even if two ever overlapped.) On SQLite, one file on one machine, the process is the leader at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from storage.dialect import try_leader_lock

_log = logging.getLogger("kpibot.leader")

# Starts the leader's work; returns what stops it.
Work = Callable[[], Callable[[], None]]


class Leadership:
    """Runs `work` while this process holds the leader lock of `engine`'s database."""

    def __init__(self, engine: Engine, work: Work, *, retry_seconds: float = 10.0) -> None:
        self._engine = engine
        self._work = work
        self._retry = retry_seconds
        self._stop_work: Callable[[], None] | None = None
        self._lock: Connection | None = None
        self._stopping = threading.Event()
        self._said_standby = False
        self._thread = threading.Thread(target=self._campaign, name="kpibot-leader", daemon=True)

    @property
    def leading(self) -> bool:
        """Whether this process is the leader now."""
        return self._stop_work is not None

    def start(self) -> None:
        """Becomes the leader at once on SQLite; on PostgreSQL starts trying in the background."""
        if self._engine.dialect.name != "postgresql":
            self._lead()
            return
        self._thread.start()

    def retire(self) -> None:
        """Stops trying to become the leader, as the process starts shutting down (SIGTERM): a process on
        its way out must not take the lock a leader that stopped first just gave up. A leader keeps
        its lock and work until `stop`. Safe to call from a signal handler."""
        self._stopping.set()

    def stop(self) -> None:
        """Stops the leader's work (if leading) and gives up the lock for another process to take."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._retry + 30)
        self._step_down()

    def _campaign(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._lock is None:
                    self._try_to_lead()
                else:
                    self._lock.execute(text("SELECT 1"))  # still connected, so still holding the lock
                    self._lock.commit()
            except Exception:  # noqa: BLE001 - a lost connection means the lock is lost too
                _log.exception("lost the database connection holding the leader lock")
                self._step_down()
            self._stopping.wait(self._retry)

    def _try_to_lead(self) -> None:
        conn = self._engine.connect()
        if try_leader_lock(conn):
            conn.commit()  # end the query's transaction; the session lock stays until the connection closes
            self._lock = conn
            self._lead()
        else:
            conn.close()
            if not self._said_standby:
                _log.info("another process runs the scheduler; this one stands by")
                self._said_standby = True

    def _lead(self) -> None:
        _log.info("this process runs the scheduler (leader)")
        self._stop_work = self._work()

    def _step_down(self) -> None:
        if self._stop_work is not None:
            stop, self._stop_work = self._stop_work, None
            stop()
        if self._lock is not None:
            conn, self._lock = self._lock, None
            try:
                conn.invalidate()  # closes the DBAPI connection: PostgreSQL releases the lock at once
            except Exception:  # noqa: BLE001 - already gone
                _log.debug("leader connection already closed", exc_info=True)
