"""API key verification against the floor: the same checks, each the fastest plain way.

The floor verifies ``KeyManager.verify(token, scopes=("read",))`` step for step, without
authcore's objects: check the length, the prefix and (``bytes.isalnum``) the base62 charset
of the body, decode the 6-character base62 checksum with table lookups (a byte outside base62
decodes to 2**32, which no CRC32 equals) and compare it with ``zlib.crc32`` of the body; look
the key id up in a dict of plain tuples (what a store keeps: the ``v1$pepper$digest`` hash
text, the prefix, the first unusable instant, the granted scopes and whether a rate limit or
a use quota applies); resolve the hash text through a dict to a pre-keyed ``cryptography``
HMAC and digest; MAC the secret with a copy of that HMAC (about half the instructions of
``hmac.digest``) and let it compare the tag in constant time; refuse another prefix; test
whether the key has a first unusable instant (only then would the clock be read: the bench
key has none, as in authcore); check the scopes (the required tuple looked up in a dict of
frozensets, then one frozenset comparison); test whether the key is metered or due for a
rehash (the bench key is neither; the floor has no rate limiter or credits to go on to);
count the use (a monotonic clock stamp, a list append, a dict store, a flush when due: the
same lock-free batching).  ``KeyManager.verify`` does exactly this work for this key; what
it adds is its structure (method calls, records as objects, validating a new scopes tuple
once) and, for SQLite, the store's change check, which the floor has no equivalent of.
"""

from __future__ import annotations

import atexit
import base64
import shutil
import string
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from time import monotonic_ns
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from authcore._bench import Group
from authcore.apikeys import KeyHasher, KeyManager, KeyStore
from authcore.stores.memory import MemoryKeyStore
from authcore.stores.sqlite import SQLiteKeyStore

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

NAME = "apikeys"

_PEPPER = b"bench-pepper-0123456789abcdef0123456789"
_PREFIX = "sk_live"
# The token layout documented in authcore.apikeys: after the prefix, a 16-character key id,
# a 43-character secret and a 6-character base62 CRC32.  The floor decodes it on its own,
# as any verifier would, without authcore's private helpers.
KEY_ID_LENGTH: Final = 16
BODY_LENGTH: Final = KEY_ID_LENGTH + 43
_ALPHABET: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
# Byte value to base62 digit, 2**32 for anything else: no CRC32 equals such a checksum.
_VALUES: Final = tuple(
    _ALPHABET.index(chr(b)) if chr(b) in _ALPHABET else 1 << 32 for b in range(128)
)


def _floor_hmac() -> crypto_hmac.HMAC:
    return crypto_hmac.HMAC(_PEPPER, hashes.SHA256())


_FloorRow = tuple[str, str, "dt.datetime | None", frozenset[str], bool]
_FLUSH_NS: Final = 5_000_000_000  # the managers' flush_interval=5
_FLUSH_THRESHOLD: Final = 10_000  # KeyManager's default flush_threshold


def _floor(tokens: list[str]) -> dict[str, _FloorRow]:
    """The floor's table: key id to (hash text, prefix, usable until, scopes, metered).

    The hash text has authcore's documented form ``v1$<pepper id>$<base64url digest>``.
    """
    table: dict[str, _FloorRow] = {}
    for token in tokens:
        tail = token.rpartition("_")[2]
        key_id, secret = tail[:KEY_ID_LENGTH], tail[KEY_ID_LENGTH:BODY_LENGTH]
        mac = _floor_hmac()
        mac.update(secret.encode())
        digest = base64.urlsafe_b64encode(mac.finalize()).rstrip(b"=").decode()
        table[key_id] = (f"v1$p1${digest}", _PREFIX, None, frozenset({"read"}), False)
    return table


def _resolved(table: dict[str, _FloorRow]) -> dict[str, tuple[crypto_hmac.HMAC, bytes, bool]]:
    """Hash text to (pre-keyed HMAC of its pepper, digest, needs a rehash)."""
    keyed = _floor_hmac()
    resolved = {}
    for stored, *_ in table.values():
        encoded = stored.split("$")[2]
        resolved[stored] = (keyed, base64.urlsafe_b64decode(encoded + "="), False)
    return resolved


def _floor_verifier(table: dict[str, _FloorRow]) -> Callable[..., str]:
    """The floor: ``verify(token, scopes) -> key id`` over the floor's table."""
    head = f"{_PREFIX}_".encode()
    start = len(head)
    id_end, body_end = start + KEY_ID_LENGTH, start + BODY_LENGTH
    length = body_end + 6
    values = _VALUES
    resolved = _resolved(table)
    required_sets: dict[tuple[str, ...], frozenset[str]] = {("read",): frozenset({"read"})}
    uses: list[str] = []
    last_used: dict[str, int] = {}
    use_counts: Counter[str] = Counter()
    next_flush = [monotonic_ns() + _FLUSH_NS]

    def flush() -> None:
        taken = len(uses)
        use_counts.update(uses[:taken])
        del uses[:taken]
        next_flush[0] = monotonic_ns() + _FLUSH_NS

    def verify(token: str, scopes: tuple[str, ...]) -> str:
        raw = token.encode("ascii")
        body = raw[start:body_end]
        if len(raw) != length or not raw.startswith(head) or not body.isalnum():
            raise AssertionError("shape")
        a, b, c, d, e, f = raw[body_end:]
        checksum = (
            (((values[a] * 62 + values[b]) * 62 + values[c]) * 62 + values[d]) * 62 + values[e]
        ) * 62 + values[f]
        if zlib.crc32(body) != checksum:
            raise AssertionError("checksum")
        key_id = token[start:id_end]
        stored, prefix, until, granted, metered = table[key_id]
        keyed, digest, needs_rehash = resolved[stored]
        mac = keyed.copy()
        mac.update(raw[id_end:body_end])
        mac.verify(digest)  # constant-time; raises InvalidSignature
        if prefix != _PREFIX:
            raise AssertionError("prefix")
        if until is not None:
            raise AssertionError("status")
        if scopes and not granted >= required_sets[scopes]:
            raise AssertionError("scopes")
        if metered or needs_rehash:
            raise AssertionError("metered")
        stamp = monotonic_ns()
        uses.append(key_id)
        last_used[key_id] = stamp
        if stamp >= next_flush[0] or len(uses) >= _FLUSH_THRESHOLD:
            flush()
        return key_id

    return verify


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

    floor_verify = _floor_verifier(table)

    def floor() -> object:
        return floor_verify(token, scopes=("read",))

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
            note="the same checks in plain Python: parse, charset, CRC32, dict lookups, "
            "pre-keyed HMAC-SHA256 with a constant-time compare, status, scopes, usage count",
        )
    ]
