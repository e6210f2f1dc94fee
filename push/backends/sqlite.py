"""A SQLite file as the log, for the embedded default (no Redis): the web process and the Celery worker
both write to it, and the web process reads new rows a few times a second while it has open streams.
Not the application's database: the streams' reading never touches that."""

import asyncio
import sqlite3
from pathlib import Path

from push.backends.base import Backend, Reader, Replay
from push.events import ORIGIN, Event, id_key

# AUTOINCREMENT: ids are never reused after the retention's deletes, so they stay in order.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS push_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account_id INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS push_event_account ON push_event (account_id, id);
CREATE TABLE IF NOT EXISTS push_trimmed (account_id INTEGER PRIMARY KEY, upto INTEGER NOT NULL);
"""
_BATCH = 500


def _as_id(row_id: int) -> str:
    return f"{row_id}-0" if row_id else ORIGIN


class SQLiteBackend(Backend):
    def __init__(self, *, path: str, retention: int, poll_seconds: float):
        self.path = Path(path)
        self.retention = retention
        self.poll_seconds = poll_seconds
        self._ready = False

    def connect(self) -> sqlite3.Connection:
        """A new connection per use: cheap for a local file, and safe across threads and forks."""
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=20, isolation_level=None)
        # Events are worth no fsync each: a crash may lose the last ones, and pages refresh for a gap.
        conn.execute("PRAGMA synchronous=NORMAL")
        if not self._ready:
            conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            conn.executescript(_SCHEMA)
            self._ready = True
        return conn

    def publish(self, event: Event) -> str:
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row_id = conn.execute(
                "INSERT INTO push_event (account_id, body) VALUES (?, ?)", (event.account_id, event.encode())
            ).lastrowid
            cutoff = conn.execute(
                "SELECT id FROM push_event WHERE account_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                (event.account_id, self.retention),
            ).fetchone()
            if cutoff:
                conn.execute(
                    "DELETE FROM push_event WHERE account_id = ? AND id <= ?", (event.account_id, cutoff[0])
                )
                conn.execute(
                    "INSERT INTO push_trimmed (account_id, upto) VALUES (?, ?) "
                    "ON CONFLICT (account_id) DO UPDATE SET upto = excluded.upto",
                    (event.account_id, cutoff[0]),
                )
            conn.execute("COMMIT")
        finally:
            conn.close()
        return _as_id(row_id)

    def last_id(self, account_id: int) -> str:
        conn = self.connect()
        try:
            row = conn.execute(
                "SELECT max(id) FROM push_event WHERE account_id = ?", (account_id,)
            ).fetchone()
        finally:
            conn.close()
        return _as_id(row[0] or 0)

    def replay_sync(self, account_id: int, after: str | None) -> Replay:
        conn = self.connect()
        try:
            conn.execute("BEGIN")  # one snapshot for the three reads
            last = conn.execute(
                "SELECT max(id) FROM push_event WHERE account_id = ?", (account_id,)
            ).fetchone()
            last = last[0] or 0
            if after is None:
                return Replay(events=[], complete=True, last_id=_as_id(last))
            after_row = id_key(after)[0]
            trimmed = conn.execute(
                "SELECT upto FROM push_trimmed WHERE account_id = ?", (account_id,)
            ).fetchone()
            rows = conn.execute(
                "SELECT id, body FROM push_event WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?",
                (account_id, after_row, self.retention),
            ).fetchall()
            conn.execute("COMMIT")
        finally:
            conn.close()
        complete = (trimmed is None or trimmed[0] <= after_row) and after_row <= last
        events = [Event.decode(body, id=_as_id(row_id)) for row_id, body in rows]
        return Replay(events=events, complete=complete, last_id=_as_id(last))

    def rows_after(self, row_id: int | None) -> list[tuple[int, str]]:
        """Every account's rows after `row_id`; with None, just the newest row (where to start)."""
        conn = self.connect()
        try:
            if row_id is None:
                return conn.execute("SELECT max(id), '' FROM push_event").fetchall()
            return conn.execute(
                "SELECT id, body FROM push_event WHERE id > ? ORDER BY id LIMIT ?", (row_id, _BATCH)
            ).fetchall()
        finally:
            conn.close()

    def ping(self) -> None:
        self.connect().close()

    def reader(self) -> "SQLiteReader":
        return SQLiteReader(self)


class SQLiteReader(Reader):
    def __init__(self, backend: SQLiteBackend):
        self.backend = backend

    async def listen(self, deliver, ready) -> None:
        newest = (await asyncio.to_thread(self.backend.rows_after, None))[0][0] or 0
        ready()
        while True:
            rows = await asyncio.to_thread(self.backend.rows_after, newest)
            for row_id, body in rows:
                deliver(Event.decode(body, id=_as_id(row_id)))
                newest = row_id
            if len(rows) < _BATCH:
                await asyncio.sleep(self.backend.poll_seconds)

    async def replay(self, account_id: int, after: str | None) -> Replay:
        return await asyncio.to_thread(self.backend.replay_sync, account_id, after)
