"""KeyManager lifecycle over every store: create, verify, scopes, status, rotate, quotas."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import pytest

from authcore import apikeys
from authcore.apikeys import KeyHasher, KeyManager, KeyStatus, KeyStore
from authcore.errors import (
    ConfigurationError,
    Disabled,
    Expired,
    InsufficientScope,
    InvalidCredentials,
    MalformedKey,
    NotFound,
    QuotaExhausted,
    RateLimited,
    Revoked,
    StoreError,
    VerificationError,
)
from authcore.ratelimit import GCRA
from authcore.stores.memory import MemoryKeyStore, MemoryRateLimitStore

from .conftest import PEPPER, START

if TYPE_CHECKING:
    from authcore.clock import FixedClock


def _other_key(token: str) -> str:
    """A well-formed token with the same key id and another secret."""
    parsed = apikeys.parse(token)
    while True:
        other = apikeys.generate(parsed.prefix)
        body = parsed.key_id + other.secret
        from authcore.apikeys._format import _checksum  # noqa: PLC0415

        return f"{parsed.prefix}_{body}{_checksum(body)}"


def test_create_returns_token_once_and_stores_only_the_hash(manager: KeyManager) -> None:
    """create() returns the token; the record holds a hash, not the secret."""
    issued = manager.create(
        owner="acct_1", scopes=["read", "write"], name="CI", metadata={"a": "b"}
    )
    parsed = apikeys.parse(issued.token)
    record = manager.get(issued.record.key_id)
    assert record.key_id == parsed.key_id
    assert parsed.secret not in record.secret_hash
    assert record.secret_hash.startswith("v1$p1$")
    assert record.scopes == frozenset({"read", "write"})
    assert (record.owner, record.name, dict(record.metadata)) == ("acct_1", "CI", {"a": "b"})
    assert record.created_at == START
    assert record.status is KeyStatus.ACTIVE
    assert issued.token not in repr(issued)


def test_verify_returns_the_record(manager: KeyManager) -> None:
    """A valid key verifies and returns its record."""
    issued = manager.create(owner="acct_1", scopes=["read"])
    assert manager.verify(issued.token, scopes=["read"]).key_id == issued.record.key_id


def test_unknown_id_and_wrong_secret_are_the_same_error(manager: KeyManager) -> None:
    """An unknown key id and a wrong secret raise identical InvalidCredentials."""
    issued = manager.create(owner="acct_1")
    with pytest.raises(InvalidCredentials) as wrong:
        manager.verify(_other_key(issued.token))
    with pytest.raises(InvalidCredentials) as unknown:
        manager.verify(apikeys.generate("sk_test").token)
    assert (type(wrong.value), str(wrong.value), wrong.value.reason) == (
        type(unknown.value),
        str(unknown.value),
        unknown.value.reason,
    )


def test_unknown_id_costs_an_hmac_and_a_comparison(
    hash_work: list[str], manager: KeyManager
) -> None:
    """Enumeration resistance: both failure paths compute one HMAC and one comparison.

    ``hash_work`` comes first so that the manager's hasher is built with counting HMACs.
    """
    issued = manager.create(owner="acct_1")
    hash_work.clear()
    with pytest.raises(InvalidCredentials):
        manager.verify(_other_key(issued.token))
    wrong_secret, hash_work[:] = list(hash_work), []
    with pytest.raises(InvalidCredentials):
        manager.verify(apikeys.generate("sk_test").token)
    assert hash_work == wrong_secret == ["mac check"]


@pytest.mark.parametrize("action", ["revoke", "disable", "expire", "rotate"])
def test_status_is_revealed_only_after_the_secret_matched(
    manager: KeyManager, clock: FixedClock, action: str
) -> None:
    """A revoked, disabled, expired or rotated-out key with a wrong secret is InvalidCredentials."""
    issued = manager.create(owner="acct_1", expires_at=START + dt.timedelta(hours=1))
    key_id = issued.record.key_id
    if action == "revoke":
        manager.revoke(key_id)
        expected: type[VerificationError] = Revoked
    elif action == "disable":
        manager.disable(key_id)
        expected = Disabled
    elif action == "expire":
        clock.advance(dt.timedelta(hours=2))
        expected = Expired
    else:
        manager.rotate(key_id, grace=0)
        expected = Revoked
    with pytest.raises(InvalidCredentials):
        manager.verify(_other_key(issued.token))
    with pytest.raises(expected):
        manager.verify(issued.token)


def test_malformed_tokens_never_reach_the_store(hasher: KeyHasher, clock: FixedClock) -> None:
    """Typos, junk and other prefixes are refused offline, without a store lookup."""

    class ExplodingStore(MemoryKeyStore):
        def get(self, key_id: str) -> apikeys.KeyRecord | None:
            raise AssertionError(f"store consulted for {key_id}")

    manager = KeyManager(ExplodingStore(), hasher, prefix="sk_test", clock=clock)
    good = apikeys.generate("sk_test").token
    for token in ["", "junk", good[:-1] + ("A" if good[-1] != "A" else "B"), good + "x",
                  apikeys.generate("sk_live").token, None, b"bytes", b"\xff" * 70]:  # fmt: skip
        with pytest.raises(MalformedKey):
            manager.verify(token)  # type: ignore[arg-type]


def test_key_of_another_prefix_with_forged_prefix(store: KeyStore, hasher: KeyHasher) -> None:
    """A test key presented under the live prefix (the checksum covers only the body) fails."""
    test = KeyManager(store, hasher, prefix="sk_test")
    live = KeyManager(store, hasher, prefix="sk_live")
    issued = test.create(owner="acct_1")
    forged = "sk_live_" + issued.token.removeprefix("sk_test_")
    with pytest.raises(InvalidCredentials):
        live.verify(forged)
    with pytest.raises(NotFound):
        live.get(issued.record.key_id)
    assert live.list("acct_1") == ()


def test_scopes(manager: KeyManager) -> None:
    """Missing scopes raise InsufficientScope naming exactly the missing ones."""
    issued = manager.create(owner="acct_1", scopes=["read"])
    with pytest.raises(InsufficientScope) as info:
        manager.verify(issued.token, scopes=["read", "write", "admin"])
    assert info.value.missing == ("admin", "write")
    with pytest.raises(ConfigurationError):
        manager.verify(issued.token, scopes="read")


def test_expiry(manager: KeyManager, clock: FixedClock) -> None:
    """A key works until expires_at and raises Expired from then on."""
    issued = manager.create(owner="acct_1", expires_at=START + dt.timedelta(minutes=5))
    clock.advance(dt.timedelta(minutes=5) - dt.timedelta(microseconds=1))
    manager.verify(issued.token)
    clock.advance(dt.timedelta(microseconds=1))
    with pytest.raises(Expired):
        manager.verify(issued.token)


def test_revoke_is_final_and_idempotent(manager: KeyManager) -> None:
    """Revoked keys fail; revoking twice is fine; revoked keys cannot be enabled or rotated."""
    issued = manager.create(owner="acct_1")
    key_id = issued.record.key_id
    first = manager.revoke(key_id)
    assert manager.revoke(key_id) == first
    assert first.status is KeyStatus.REVOKED
    assert first.revoked_at == START
    with pytest.raises(Revoked, match="revoked"):
        manager.verify(issued.token)
    with pytest.raises(Revoked):
        manager.enable(key_id)
    with pytest.raises(Revoked):
        manager.rotate(key_id, grace=60)


def test_disable_and_enable(manager: KeyManager) -> None:
    """A disabled key raises Disabled until it is enabled again."""
    issued = manager.create(owner="acct_1")
    manager.disable(issued.record.key_id)
    with pytest.raises(Disabled):
        manager.verify(issued.token)
    manager.enable(issued.record.key_id)
    manager.verify(issued.token)


def test_rotation_with_grace(manager: KeyManager, clock: FixedClock) -> None:
    """After rotate(), both keys work until the grace ends; then the old one is Revoked."""
    old = manager.create(owner="acct_1", scopes=["read"], name="n", metadata={"k": "v"})
    clock.advance(1)
    new = manager.rotate(old.record.key_id, grace=dt.timedelta(minutes=10))
    assert new.record.replaces == old.record.key_id
    assert manager.get(old.record.key_id).replaced_by == new.record.key_id
    assert (new.record.owner, new.record.name) == ("acct_1", "n")
    assert new.record.scopes == frozenset({"read"})
    assert dict(new.record.metadata) == {"k": "v"}
    with pytest.raises(Revoked, match="already rotated"):
        manager.rotate(old.record.key_id, grace=0)
    clock.advance(dt.timedelta(minutes=10) - dt.timedelta(microseconds=1))
    manager.verify(old.token)
    manager.verify(new.token)
    clock.advance(dt.timedelta(microseconds=1))
    with pytest.raises(Revoked, match="rotated"):
        manager.verify(old.token)
    manager.verify(new.token)
    with pytest.raises(Revoked, match="revoked"):
        manager.rotate(old.record.key_id, grace=0)
    assert [r.key_id for r in manager.list("acct_1")] == [old.record.key_id, new.record.key_id]


def test_rotation_refuses_negative_grace(manager: KeyManager) -> None:
    """A negative or non-numeric grace is a caller mistake."""
    issued = manager.create(owner="acct_1")
    for grace in (-1, dt.timedelta(seconds=-1), "1", float("nan")):
        with pytest.raises(ConfigurationError):
            manager.rotate(issued.record.key_id, grace=grace)  # type: ignore[arg-type]


@pytest.mark.parametrize("call", ["get", "revoke", "disable", "enable", "rotate"])
def test_management_of_unknown_ids_is_not_found(manager: KeyManager, call: str) -> None:
    """Management calls on an unknown id raise NotFound."""
    method = getattr(manager, call)
    kwargs = {"grace": 0} if call == "rotate" else {}
    with pytest.raises(NotFound):
        method("0" * 16, **kwargs)


def test_list_by_owner(manager: KeyManager, clock: FixedClock) -> None:
    """list(owner) returns that owner's keys, oldest first."""
    first = manager.create(owner="a")
    clock.advance(1)
    second = manager.create(owner="a")
    manager.create(owner="b")
    assert [r.key_id for r in manager.list("a")] == [first.record.key_id, second.record.key_id]
    assert manager.list("nobody") == ()


def test_remaining_uses(manager: KeyManager) -> None:
    """Credits are taken one per verification and then QuotaExhausted is raised."""
    issued = manager.create(owner="acct_1", remaining_uses=2)
    assert manager.verify(issued.token).remaining_uses == 1
    assert manager.verify(issued.token).remaining_uses == 0
    with pytest.raises(QuotaExhausted):
        manager.verify(issued.token)
    assert manager.get(issued.record.key_id).remaining_uses == 0


def test_failed_checks_take_no_credit(manager: KeyManager) -> None:
    """A scope failure does not consume a use."""
    issued = manager.create(owner="acct_1", remaining_uses=1)
    with pytest.raises(InsufficientScope):
        manager.verify(issued.token, scopes=["admin"])
    assert manager.verify(issued.token).remaining_uses == 0


def test_per_key_rate_limit(manager: KeyManager, clock: FixedClock) -> None:
    """A key's own GCRA limit raises RateLimited with retry_after, then recovers."""
    issued = manager.create(owner="acct_1", rate_limit=GCRA(2, 1.0))
    other = manager.create(owner="acct_1")
    manager.verify(issued.token)
    manager.verify(issued.token)
    with pytest.raises(RateLimited) as info:
        manager.verify(issued.token)
    assert info.value.retry_after == pytest.approx(0.5)
    for _ in range(10):
        manager.verify(other.token)
    clock.advance(0.5)
    manager.verify(issued.token)


def test_default_rate_limit(store: KeyStore, hasher: KeyHasher, clock: FixedClock) -> None:
    """default_rate_limit applies to keys without their own limit."""
    manager = KeyManager(
        store, hasher, prefix="sk_test", clock=clock,
        limiter=MemoryRateLimitStore(), default_rate_limit=GCRA(1, 60),
    )  # fmt: skip
    issued = manager.create(owner="acct_1")
    manager.verify(issued.token)
    with pytest.raises(RateLimited):
        manager.verify(issued.token)


def test_usage_is_batched_and_flushed(manager: KeyManager, clock: FixedClock) -> None:
    """Uses are counted in memory and written by flush(), dated from the manager's clock."""
    issued = manager.create(owner="acct_1")
    key_id = issued.record.key_id
    for _ in range(3):
        manager.verify(issued.token)
    assert manager.get(key_id).use_count == 0
    assert manager.pending_usage == 3
    clock.advance(60)
    assert manager.flush() == 1
    assert manager.flush() == 0
    record = manager.get(key_id)
    assert record.use_count == 3
    assert record.last_used_at is not None
    # Used just before the flush (monotonic time), dated relative to the clock at flush.
    assert (
        START + dt.timedelta(seconds=50) < record.last_used_at <= START + dt.timedelta(seconds=60)
    )


def test_a_fork_child_forgets_the_pending_usage(manager: KeyManager) -> None:
    """What the at-fork hook runs in a child: no pending uses, a new flush lock.

    (tests/stores/test_sqlite_keys.py forks for real; this runs the same step in-process.)
    """
    issued = manager.create(owner="acct_1")
    for _ in range(2):
        manager.verify(issued.token)
    lock = manager._flush_lock
    manager._forget_pending()
    assert manager.pending_usage == 0
    assert manager._flush_lock is not lock
    assert manager.flush() == 0
    manager.verify(issued.token)
    assert manager.flush() == 1
    assert manager.get(issued.record.key_id).use_count == 1


def test_usage_flushes_after_the_interval(
    store: KeyStore, hasher: KeyHasher, clock: FixedClock
) -> None:
    """Once flush_interval has passed, the next verify writes the pending usage."""
    manager = KeyManager(store, hasher, prefix="sk_test", clock=clock, flush_interval=0)
    issued = manager.create(owner="o")
    manager.verify(issued.token)
    manager.verify(issued.token)
    assert manager.pending_usage == 0
    assert manager.get(issued.record.key_id).use_count == 2
    lazy = KeyManager(store, hasher, prefix="sk_test", clock=clock, flush_interval=3600)
    lazy.verify(issued.token)
    assert lazy.pending_usage == 1


def test_flush_threshold(store: KeyStore, hasher: KeyHasher, clock: FixedClock) -> None:
    """Reaching flush_threshold pending keys writes them at once."""
    manager = KeyManager(store, hasher, prefix="sk_test", clock=clock, flush_threshold=2)
    a, b = manager.create(owner="o"), manager.create(owner="o")
    manager.verify(a.token)
    manager.verify(b.token)
    assert manager.pending_usage == 0
    assert manager.get(a.record.key_id).use_count == 1


def test_failed_flush_keeps_counts(
    hasher: KeyHasher, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A store outage keeps the counts, backs off automatic flushes, and verify still passes."""

    class FlakyStore(MemoryKeyStore):
        fail = True
        calls = 0

        def record_usage(self, usage: object) -> None:
            self.calls += 1
            if self.fail:
                raise StoreError("down")
            super().record_usage(usage)  # type: ignore[arg-type]

    store = FlakyStore()
    manager = KeyManager(store, hasher, prefix="sk_test", clock=clock, flush_threshold=1)
    issued = manager.create(owner="o")
    with caplog.at_level(logging.WARNING, logger="authcore.apikeys"):
        manager.verify(issued.token)
    assert "store_error" in caplog.text
    for _ in range(50):  # backing off: counted in memory, no store call per verify
        manager.verify(issued.token)
    assert store.calls == 1
    assert manager.pending_usage == 51
    with pytest.raises(StoreError):  # an explicit flush always tries
        manager.flush()
    assert manager.pending_usage == 51
    store.fail = False
    assert manager.flush() == 1
    manager.verify(issued.token)  # the next automatic flush is no longer suspended
    assert manager.get(issued.record.key_id).use_count == 52
    assert manager.pending_usage == 0


def test_old_pepper_is_rehashed_on_verify(store: KeyStore, clock: FixedClock) -> None:
    """Verifying a key hashed with an old pepper stores a hash under the current one."""
    old = KeyManager(store, KeyHasher({"p1": PEPPER}), prefix="sk_test", clock=clock)
    issued = old.create(owner="o")
    rotated = KeyManager(
        store, KeyHasher({"p1": PEPPER, "p2": b"q" * 32}), prefix="sk_test", clock=clock
    )
    assert rotated.verify(issued.token).secret_hash.startswith("v1$p2$")
    assert rotated.get(issued.record.key_id).secret_hash.startswith("v1$p2$")
    rotated.verify(issued.token)
    with pytest.raises(InvalidCredentials):  # p1 retired: its keys are dead
        KeyManager(store, KeyHasher({"p3": b"r" * 32}), prefix="sk_test").verify(
            apikeys.generate("sk_test").token
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"owner": ""},
        {"owner": 5},
        {"owner": "o", "scopes": "read"},
        {"owner": "o", "scopes": ["has space"]},
        {"owner": "o", "scopes": [""]},
        {"owner": "o", "scopes": 5},
        {"owner": "o", "expires_at": dt.datetime(2030, 1, 1)},  # noqa: DTZ001 - naive on purpose
        {"owner": "o", "name": ""},
        {"owner": "o", "metadata": {"a": 1}},
        {"owner": "o", "metadata": ["a"]},
        {"owner": "o", "rate_limit": (1, 2)},
        {"owner": "o", "remaining_uses": 0},
        {"owner": "o", "remaining_uses": True},
    ],
)
def test_create_refuses_bad_arguments(manager: KeyManager, kwargs: dict[str, object]) -> None:
    """Every invalid create() argument is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        manager.create(**kwargs)  # type: ignore[arg-type]


def test_manager_configuration(hasher: KeyHasher) -> None:
    """Bad manager options are refused at setup."""
    store = MemoryKeyStore()
    bad: list[dict[str, object]] = [
        {"prefix": "SK"},
        {"prefix": "sk", "hasher": "nope"},
        {"prefix": "sk", "default_rate_limit": GCRA(1, 1)},
        {"prefix": "sk", "default_rate_limit": 5, "limiter": MemoryRateLimitStore()},
        {"prefix": "sk", "flush_threshold": 0},
        {"prefix": "sk", "flush_interval": -1},
        {"prefix": "sk", "store": object()},
    ]
    for options in bad:
        kwargs = {"store": store, "hasher": hasher, **options}
        with pytest.raises(ConfigurationError):
            KeyManager(**kwargs)  # type: ignore[arg-type]
    manager = KeyManager(store, hasher, prefix="sk")
    with pytest.raises(ConfigurationError):  # a per-key limit needs a limiter
        manager.create(owner="o", rate_limit=GCRA(1, 1))
    assert manager.prefix == "sk"
    assert "sk" in repr(manager)


def test_verify_takes_the_token_as_str_or_bytes(manager: KeyManager) -> None:
    """verify(token.encode()) returns the same record as verify(token)."""
    issued = manager.create(owner="acct", scopes=["read"])
    as_text = manager.verify(issued.token, scopes=["read"])
    assert manager.verify(issued.token.encode(), scopes=["read"]).key_id == as_text.key_id
    assert manager.verify(bytearray(issued.token.encode())).owner == "acct"  # type: ignore[arg-type]
    with pytest.raises(InvalidCredentials):
        manager.verify(apikeys.generate("sk_test").token.encode())


def test_expiry_and_usable_at_take_any_instant(manager: KeyManager, clock: FixedClock) -> None:
    """expires_at= and usable_at() take UNIX seconds as well as aware datetimes."""
    at = clock.now().timestamp() + 60
    record = manager.create(owner="acct", expires_at=at).record
    assert record.expires_at == dt.datetime.fromtimestamp(at, dt.timezone.utc)
    assert record.usable_at(at - 1)
    assert not record.usable_at(at)
    assert record.usable_at(clock.now())
    with pytest.raises(ConfigurationError, match="expires_at"):
        manager.create(owner="acct", expires_at=dt.datetime(2030, 1, 1))  # noqa: DTZ001
