"""A fork() child never inherits one of authcore's locks held (``authcore._fork``).

``fork()`` copies only the calling thread: a lock another thread held at that moment would
stay held in the child for ever, and the child's first use of the store or cache behind it
would hang.  Every lock authcore holds around its own state is made by ``_fork.lock()`` and
released in each child; a source scan keeps new code from making one any other way.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from authcore import _fork
from authcore.apikeys import KeyHasher, KeyManager
from authcore.clock import FixedClock
from authcore.http import Response
from authcore.oauth import ClientRecord
from authcore.oauth.resource import Introspector
from authcore.ratelimit import GCRA
from authcore.stores.memory import (
    MemoryClientStore,
    MemoryGrantStore,
    MemoryKeyStore,
    MemoryOneTimeStore,
    MemoryRateLimitStore,
)
from authcore.stores.sqlite import SQLiteOneTimeStore
from tests._forking import fork_while_held

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(minutes=5)
ROOT = Path(__file__).resolve().parents[2] / "authcore"


def test_a_registered_lock_is_released_in_the_child() -> None:
    """The negative control first: a plain lock held at the fork stays held in the child."""
    plain = threading.Lock()
    assert fork_while_held(plain, lambda: plain.acquire(timeout=1)) == 2
    registered = _fork.lock()
    assert fork_while_held(registered, lambda: registered.acquire(timeout=1)) == 0
    assert not registered.locked()  # the parent's lock is untouched (its holder released it)


def _introspector() -> Introspector:
    def send(request: Any) -> Response:
        del request
        return Response(
            status=200, headers=[("Content-Type", "application/json")], body=b'{"active": true}'
        )

    return Introspector("https://as.example/introspect", send, client_id="rs", client_secret="s")


def _manager_store() -> tuple[MemoryKeyStore, Callable[[], bool]]:
    store = MemoryKeyStore()
    manager = KeyManager(store, KeyHasher({"p1": b"p" * 32}), prefix="sk_test")
    manager.create(owner="o")
    return store, lambda: len(store.list_owner("o")) == 1


def _added(clients: MemoryClientStore, client: ClientRecord) -> bool:
    clients.add(client)
    return clients.get(client.client_id) == client


def _cases(tmp_path: Path) -> dict[str, tuple[object, Callable[[], bool]]]:
    """Name -> (object whose _lock is held at the fork, what the child then does with it)."""
    once = MemoryOneTimeStore()
    limits = MemoryRateLimitStore()
    clients = MemoryClientStore()
    grants = MemoryGrantStore()
    sqlite_once = SQLiteOneTimeStore(tmp_path / "once.db", purge_every=1)
    clock = FixedClock(NOW)
    introspector = _introspector()
    keys, keys_used = _manager_store()
    client = ClientRecord(
        client_id="c", redirect_uris=("https://app.example/cb",), token_endpoint_auth_method="none"
    )
    return {
        "MemoryOneTimeStore": (once, lambda: once.add("k", expires_at=LATER, now=NOW)),
        "MemoryRateLimitStore": (
            limits,
            lambda: GCRA(3, 60).hit(limits, "k", now=NOW).allowed,
        ),
        "MemoryClientStore": (clients, lambda: _added(clients, client)),
        "MemoryGrantStore": (grants, lambda: grants.apply([])),
        "MemoryKeyStore": (keys, keys_used),
        "SQLiteOneTimeStore": (
            sqlite_once,
            lambda: sqlite_once.add("k", expires_at=LATER, now=NOW),
        ),
        "FixedClock": (clock, lambda: clock.advance(1) > NOW),
        "Introspector": (
            introspector,
            lambda: introspector.introspect("token", now=NOW.timestamp()).get("active") is True,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "MemoryOneTimeStore",
        "MemoryRateLimitStore",
        "MemoryClientStore",
        "MemoryGrantStore",
        "MemoryKeyStore",
        "SQLiteOneTimeStore",
        "FixedClock",
        "Introspector",
    ],
)
def test_a_child_uses_what_another_thread_held_at_the_fork(name: str, tmp_path: Path) -> None:
    """Each store or cache works in the child although its lock was held when it forked."""
    owner, use = _cases(tmp_path)[name]
    lock = owner._lock  # type: ignore[attr-defined]
    assert fork_while_held(lock, use) == 0


# Where a lock may still be made directly: the module that makes the others, and the ones
# with their own fork() hook or no use in a forked process.
_OWN_HOOKS = {
    "_fork.py": "makes the registered locks",
    "_sqlite.py": "its own hook renews each database's lock; the -shm registry lock is held "
    "across fork()",
    "apikeys/_manager.py": "KeyManager's hook renews the flush lock with the usage it drops",
    "cli/_devserver.py": "the development server's process, which never forks",
}


def _direct_locks(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"Lock", "RLock"}
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "threading"
    ]


def test_every_lock_is_made_by_the_fork_module() -> None:
    """No threading.Lock()/RLock() outside the modules that handle fork() themselves."""
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted(ROOT.rglob("*.py"))
        if (lines := _direct_locks(path))
    }
    assert found, "the scan found no lock at all: it is broken"
    stray = {name: lines for name, lines in found.items() if name not in _OWN_HOOKS}
    assert stray == {}, "make these locks with authcore._fork.lock()"
