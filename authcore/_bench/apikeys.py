"""API key verification against the floor: parse + HMAC-SHA256 + compare_digest + dict lookup.

The floor does the least any correct checksummed-key verifier must: split the token, check the
CRC32, look the key id up in a dict of digests, HMAC the secret and compare in constant time.
``KeyManager.verify`` adds the strict format checks, the store lookup, the stored-hash version
and pepper, status, expiry and batched usage counting.
"""

from __future__ import annotations

import atexit
import hmac
import shutil
import string
import tempfile
import zlib
from pathlib import Path
from typing import Final

from authcore._bench import Group
from authcore.apikeys import KeyHasher, KeyManager, KeyStore
from authcore.stores.memory import MemoryKeyStore
from authcore.stores.sqlite import SQLiteKeyStore

NAME = "apikeys"

_PEPPER = b"bench-pepper-0123456789abcdef0123456789"
_PREFIX = "sk_live"
# The token layout documented in authcore.apikeys: after the prefix, a 16-character key id,
# a 43-character secret and a 6-character base62 CRC32.  The floor decodes it on its own,
# as any verifier would, without authcore's private helpers.
KEY_ID_LENGTH: Final = 16
BODY_LENGTH: Final = KEY_ID_LENGTH + 43
_BASE62: Final = {
    c: i for i, c in enumerate(string.digits + string.ascii_uppercase + string.ascii_lowercase)
}


def _decode62(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + _BASE62[char]
    return value


def _floor(tokens: list[str]) -> dict[str, bytes]:
    """The floor's table: key id to raw HMAC-SHA256 digest."""
    table = {}
    for token in tokens:
        tail = token.rpartition("_")[2]
        key_id, secret = tail[:KEY_ID_LENGTH], tail[KEY_ID_LENGTH:BODY_LENGTH]
        table[key_id] = hmac.digest(_PEPPER, secret.encode(), "sha256")
    return table


def _manager(store: KeyStore, count: int) -> tuple[KeyManager, list[str]]:
    manager = KeyManager(store, KeyHasher({"p1": _PEPPER}), prefix=_PREFIX, flush_interval=5)
    tokens = [manager.create(owner=f"acct_{i % 10}", scopes=["read"]).token for i in range(count)]
    return manager, tokens


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - suite protocol
    """Verify one key with the memory and the SQLite store against the floor."""
    count = 100 if quick else 1000
    directory = tempfile.mkdtemp(prefix="authcore-bench-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    memory, tokens = _manager(MemoryKeyStore(), count)
    sqlite_store = SQLiteKeyStore(Path(directory) / "keys.db", synchronous="NORMAL")
    atexit.register(sqlite_store.close)
    sqlite, sqlite_tokens = _manager(sqlite_store, count)
    stale_store = SQLiteKeyStore(
        Path(directory) / "keys.db", synchronous="NORMAL", max_staleness=1.0
    )
    atexit.register(stale_store.close)
    stale = KeyManager(stale_store, KeyHasher({"p1": _PEPPER}), prefix=_PREFIX, flush_interval=5)
    table = _floor(tokens)
    token = tokens[count // 2]
    sqlite_token = sqlite_tokens[count // 2]

    def floor() -> object:
        tail = token.rpartition("_")[2]
        body = tail[:BODY_LENGTH]
        if zlib.crc32(body.encode()) != _decode62(tail[BODY_LENGTH:]):
            raise AssertionError("checksum")
        stored = table[body[:KEY_ID_LENGTH]]
        mac = hmac.digest(_PEPPER, body[KEY_ID_LENGTH:].encode(), "sha256")
        if not hmac.compare_digest(mac, stored):
            raise AssertionError("mismatch")
        return body[:KEY_ID_LENGTH]

    def verify_memory() -> object:
        return memory.verify(token, scopes=("read",)).key_id

    def verify_sqlite() -> object:
        return sqlite.verify(sqlite_token, scopes=("read",)).key_id

    def verify_stale() -> object:
        return stale.verify(sqlite_token, scopes=("read",)).key_id

    if verify_memory() != floor():  # pragma: no cover - smoke check
        raise AssertionError("KeyManager.verify disagrees with the floor")
    expected = sqlite_token.rpartition("_")[2][:KEY_ID_LENGTH]
    if not verify_sqlite() == verify_stale() == expected:  # pragma: no cover
        raise AssertionError("SQLite KeyManager.verify returned another key")
    return [
        Group(
            name="API key verify",
            floor="floor",
            cases={
                "floor": floor,
                "KeyManager (memory)": verify_memory,
                "KeyManager (SQLite)": verify_sqlite,
                "KeyManager (SQLite, max_staleness=1s)": verify_stale,
            },
            note="parse + CRC32 + dict lookup + HMAC-SHA256 + compare_digest",
        )
    ]
