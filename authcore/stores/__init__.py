"""Storage adapters: thread-safe in-memory stores and the embedded SQLite stores.

* :mod:`authcore.stores.memory`: :class:`~authcore.stores.memory.MemoryKeyStore` (and
  :class:`~authcore.ratelimit.MemoryRateLimitStore` lives beside GCRA) for tests and single
  processes.
* :mod:`authcore.stores.sqlite`: :class:`~authcore.stores.sqlite.SQLiteKeyStore` and
  :class:`~authcore.stores.sqlite.SQLiteRateLimitStore` on the standard library's
  :mod:`sqlite3`: WAL, short transactions, a schema version table with migrations, safe for
  several threads and processes on one machine.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

__all__: list[str] = []
