"""API key verification against the floor: parse + CRC32 + dict lookup + HMAC + compare.

The floor does the least any correct checksummed-key verifier must, each step the fastest
plain way: check the prefix and length, decode the 6-character base62 checksum with table
lookups and compare it with ``zlib.crc32`` of the body, look the key id up in a dict of
digests, MAC the secret with a ``cryptography`` HMAC keyed once before timing (a copy per
call: about half the instructions of ``hmac.digest``) and let it compare the tag in constant
time.  ``KeyManager.verify`` adds the base62 charset check, the store lookup, the stored
hash's version and pepper, status, expiry and batched usage counting.
"""

from __future__ import annotations

import atexit
import shutil
import string
import tempfile
import zlib
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

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
_ALPHABET: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
# Byte value to base62 digit (0 for anything else: such bytes cannot pass the CRC check).
_VALUES: Final = tuple(_ALPHABET.index(chr(b)) if chr(b) in _ALPHABET else 0 for b in range(128))


def _floor_hmac() -> crypto_hmac.HMAC:
    return crypto_hmac.HMAC(_PEPPER, hashes.SHA256())


def _floor(tokens: list[str]) -> dict[str, bytes]:
    """The floor's table: key id to raw HMAC-SHA256 digest."""
    table = {}
    for token in tokens:
        tail = token.rpartition("_")[2]
        key_id, secret = tail[:KEY_ID_LENGTH], tail[KEY_ID_LENGTH:BODY_LENGTH]
        mac = _floor_hmac()
        mac.update(secret.encode())
        table[key_id] = mac.finalize()
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

    head = f"{_PREFIX}_".encode()
    start = len(head)
    id_end, body_end = start + KEY_ID_LENGTH, start + BODY_LENGTH
    length = body_end + 6
    keyed, values = _floor_hmac(), _VALUES

    def floor() -> object:
        raw = token.encode("ascii")
        if len(raw) != length or not raw.startswith(head):
            raise AssertionError("shape")
        a, b, c, d, e, f = raw[body_end:]
        checksum = (
            (((values[a] * 62 + values[b]) * 62 + values[c]) * 62 + values[d]) * 62 + values[e]
        ) * 62 + values[f]
        if zlib.crc32(raw[start:body_end]) != checksum:
            raise AssertionError("checksum")
        key_id = token[start:id_end]
        stored = table[key_id]
        mac = keyed.copy()
        mac.update(raw[id_end:body_end])
        mac.verify(stored)  # constant-time; raises InvalidSignature
        return key_id

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
            note="parse + CRC32 + dict lookup + pre-keyed HMAC-SHA256 + constant-time compare",
        )
    ]
