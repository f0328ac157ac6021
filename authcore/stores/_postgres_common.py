"""What every PostgreSQL store module shares: the database, the stores' base, error translation.

Private: :mod:`authcore.stores.postgres` re-exports :class:`PostgresDatabase`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import math
import select
from typing import TYPE_CHECKING, Any, Final, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from authcore._options import int_option, seconds_option
from authcore._sqlite import apply_migrations, check_schemas, stored_int
from authcore.errors import ConfigurationError, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from psycopg.abc import PQGen
    from psycopg.rows import TupleRow

    from authcore._sqlite import Schema

__all__ = ["PostgresDatabase", "Store", "open_database", "store_error"]

_R = TypeVar("_R")

# pg_advisory_xact_lock key serialising authcore migrations: the bytes "authcore" as an int8.
_MIGRATION_LOCK: Final = int.from_bytes(b"authcore", "big", signed=True)


def store_error(exc: Exception) -> StoreError:
    """A :class:`StoreError` naming what failed (the error class and SQLSTATE, never data)."""
    sqlstate = getattr(exc, "sqlstate", None)
    detail = type(exc).__name__ + (f" {sqlstate}" if sqlstate else "")
    return StoreError(f"postgres {detail}")


class _BoundedConnection(psycopg.Connection["TupleRow"]):
    """A connection whose every wait for the server ends after ``reply_timeout`` seconds.

    psycopg waits for replies without a deadline; a hung server (or a network partition)
    would block a request forever.  On expiry the connection is closed (its state is unknown)
    and psycopg raises an ``OperationalError``, which the stores turn into a StoreError.
    """

    reply_timeout: float = 5.0

    def wait(self, gen: PQGen[_R], interval: float = 0.1, timeout: float | None = None) -> _R:
        try:
            return super().wait(gen, interval, self.reply_timeout if timeout is None else timeout)
        except psycopg.OperationalError:
            if timeout is None and not self.closed:
                self.pgconn.finish()
            raise


def _idle_and_open(conn: _BoundedConnection) -> None:
    """Pool check: refuse a connection the server closed while it sat in the pool.

    An idle connection has nothing to read; if its socket is readable, the server sent EOF or
    a termination notice (a restart).  No round trip, so checking each checkout is free.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        conn.close()  # a closed connection is discarded by the pool, not handed out again
        raise psycopg.OperationalError("the server closed the connection")


class PostgresDatabase:
    """A psycopg connection pool opened for authcore stores, with versioned tables.

    Args:
        conninfo: A libpq connection string or URL (``postgresql://user@host/db``).
        schemas: A list of the components to migrate to their latest version, each once.
        min_size: Connections kept open.
        max_size: The most connections open at once.
        timeout: Seconds to wait for a connection from the pool and for each server reply;
            past it, a call raises :class:`~authcore.errors.StoreError`.  The server's
            ``statement_timeout`` is set to 80 % of it, so a statement that runs too long is
            cancelled (and rolled back) on the server before the client gives up.

    Raises:
        ConfigurationError: On an invalid option.
        StoreError: If the server cannot be reached or migrated, or a schema is newer.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        conninfo: str,
        *,
        schemas: Sequence[Schema] = (),
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
    ) -> None:
        seconds = seconds_option(timeout, "timeout")
        schemas = check_schemas(schemas)  # before the pool connects
        int_option(max_size, "max_size")
        if int_option(min_size, "min_size", low=0) > max_size:
            raise ConfigurationError("min_size must be at most max_size")
        if not isinstance(conninfo, str):
            raise ConfigurationError("conninfo must be a str")
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.Error:
            raise ConfigurationError("invalid PostgreSQL connection string") from None
        # The server cancels a statement (waiting on a lock, or slow) before the client gives
        # up on it, so a timed-out write is rolled back rather than applied after the error.
        options = f"{params.get('options') or ''} -c statement_timeout={int(seconds * 800)}"

        def configure(conn: _BoundedConnection) -> None:
            conn.reply_timeout = seconds

        self._pool: ConnectionPool[_BoundedConnection] = ConnectionPool(
            conninfo,
            connection_class=_BoundedConnection,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(2, math.ceil(seconds)),
                "options": options.strip(),
            },
            min_size=min_size,
            max_size=max_size,
            timeout=seconds,
            configure=configure,
            check=_idle_and_open,
            name="authcore",
            open=True,
        )
        try:
            self.migrate(schemas)
        except BaseException:
            self.close()
            raise

    @property
    def pool(self) -> ConnectionPool[_BoundedConnection]:
        """The underlying psycopg pool (for statistics; use :meth:`connection` for work)."""
        return self._pool

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """Lend an autocommit connection, translating every psycopg error to StoreError."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise store_error(exc) from None
        except UnicodeEncodeError:  # psycopg encodes parameters as UTF-8
            raise ConfigurationError("keys and ids must be encodable as UTF-8") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """Run the block in one transaction (rolled back on any exception)."""
        with self.connection() as conn, conn.transaction():
            yield conn

    def migrate(self, schemas: Sequence[Schema]) -> None:
        """Bring every component to its latest version, under the migration advisory lock.

        Raises:
            StoreError: If a component's stored version is newer than its schema.
        """
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS authcore_schema ("
                "component text PRIMARY KEY, version integer NOT NULL)"
            )
            apply_migrations(
                schemas,
                version_of=lambda component: self._version(conn, component),
                execute=lambda statement: conn.execute(statement.encode()),
                record=lambda component, version: conn.execute(
                    "INSERT INTO authcore_schema (component, version) VALUES (%s, %s) "
                    "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                    (component, version),
                ),
            )

    @staticmethod
    def _version(conn: psycopg.Connection[TupleRow], component: str) -> int:
        row = conn.execute(
            "SELECT version FROM authcore_schema WHERE component = %s", (component,)
        ).fetchone()
        return 0 if row is None else stored_int(row[0], "authcore_schema", "version", minimum=1)

    def schema_version(self, component: str) -> int:
        """Return the stored version of ``component`` (0 if it was never migrated)."""
        with self.connection() as conn:
            return self._version(conn, component)

    def close(self) -> None:
        """Close the pool and its connections."""
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresDatabase(pool={self._pool.name!r})"


def open_database(
    database: str | PostgresDatabase, schema: Schema, timeout: float
) -> PostgresDatabase:
    """Open ``database`` with ``schema``, or migrate ``schema`` into an open database."""
    if isinstance(database, PostgresDatabase):
        database.migrate([schema])
        return database
    return PostgresDatabase(database, schemas=[schema], timeout=timeout)


class Store:
    """What every PostgreSQL store shares: its database, and closing what it opened."""

    __slots__ = ("_db", "_owned")

    def __init__(self, database: str | PostgresDatabase, schema: Schema, timeout: float) -> None:
        self._owned = not isinstance(database, PostgresDatabase)
        self._db = open_database(database, schema, timeout)

    @property
    def database(self) -> PostgresDatabase:
        """The underlying database (pool, transactions, schema versions)."""
        return self._db

    def close(self) -> None:
        """Close the pool if this store opened it (a shared database stays open)."""
        if self._owned:
            self._db.close()

    def _one(self, query: str, params: Sequence[object]) -> tuple[Any, ...] | None:
        with self._db.connection() as conn:
            return conn.execute(query.encode(), params).fetchone()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
