"""Storage adapters: one public module per backend, implementing the areas' protocols.

The areas declare what they store and how (:class:`~authcore.apikeys.KeyStore` and
:class:`~authcore.apikeys.KeyRecord`, :class:`~authcore.ratelimit.RateLimitStore`,
:class:`~authcore.onetime.OneTimeStore`); this package sits above them and implements each
protocol once per backend, under the same names in every backend module:

* :mod:`authcore.stores.memory`: :class:`~authcore.stores.memory.MemoryKeyStore`,
  :class:`~authcore.stores.memory.MemoryRateLimitStore` and
  :class:`~authcore.stores.memory.MemoryOneTimeStore`, thread-safe, for tests and single
  processes.
* :mod:`authcore.stores.sqlite`: :class:`~authcore.stores.sqlite.SQLiteKeyStore`,
  :class:`~authcore.stores.sqlite.SQLiteRateLimitStore` and
  :class:`~authcore.stores.sqlite.SQLiteOneTimeStore` on the standard library's
  :mod:`sqlite3`: WAL, short transactions, a schema version table with migrations, safe for
  several threads and processes on one machine.

Areas never import this package; it imports only their public names.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

__all__: list[str] = []
