"""Denylist: jti revocation until expiry, memory and SQLite implementations."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authcore._sqlite import SQLiteDatabase
from authcore.clock import FixedClock
from authcore.errors import ConfigurationError, InvalidClaim, MissingClaim, Revoked, StoreError
from authcore.jose.denylist import (
    MAX_JTI_LENGTH,
    Denylist,
    MemoryDenylist,
    SQLiteDenylist,
    check_not_revoked,
    optional_denylist,
    revoke,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
US = dt.timedelta(microseconds=1)


@pytest.fixture(params=["memory", "sqlite"])
def denylist(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Denylist]:
    clock = FixedClock(T0)
    if request.param == "memory":
        yield MemoryDenylist(clock=clock)
        return
    store = SQLiteDenylist(tmp_path / "deny.db", clock=clock)
    yield store
    store.close()


def test_implementations_satisfy_the_protocol(denylist: Denylist) -> None:
    """Both implementations are Denylists."""
    assert isinstance(denylist, Denylist)
    assert type(denylist).__name__ in repr(denylist)


def test_jti_is_denied_until_its_expiry(denylist: Denylist) -> None:
    """An entry answers True strictly before expires_at and False from then on."""
    denylist.add("t1", expires_at=T0 + dt.timedelta(hours=1))
    assert denylist.contains("t1", now=T0)
    assert denylist.contains("t1", now=T0 + dt.timedelta(hours=1) - US)
    assert not denylist.contains("t1", now=T0 + dt.timedelta(hours=1))
    assert not denylist.contains("t2", now=T0)


def test_a_later_expiry_wins(denylist: Denylist) -> None:
    """Adding a jti again extends its expiry but never shortens it."""
    denylist.add("t", expires_at=T0 + dt.timedelta(hours=1))
    denylist.add("t", expires_at=T0 + dt.timedelta(hours=2))
    denylist.add("t", expires_at=T0 + dt.timedelta(minutes=1))
    assert denylist.contains("t", now=T0 + dt.timedelta(minutes=90))


def test_purge_deletes_only_expired_entries(denylist: Denylist) -> None:
    """purge(now) removes entries whose expiry has passed and counts them."""
    for i in range(5):
        denylist.add(f"old{i}", expires_at=T0 + dt.timedelta(minutes=i))
    denylist.add("live", expires_at=T0 + dt.timedelta(hours=1))
    assert denylist.purge(now=T0 + dt.timedelta(minutes=3)) == 4
    assert denylist.purge(now=T0 + dt.timedelta(minutes=3)) == 0
    assert denylist.contains("old4", now=T0)
    assert denylist.contains("live", now=T0)


def test_adds_purge_expired_entries_automatically(tmp_path: Path) -> None:
    """Every few hundred adds, entries expired by the clock are dropped."""
    clock = FixedClock(T0)
    memory = MemoryDenylist(clock=clock)
    sqlite = SQLiteDenylist(tmp_path / "d.db", clock=clock)
    for store in (memory, sqlite):
        store.add("expired", expires_at=T0 + dt.timedelta(seconds=1))
    clock.advance(10)
    for store in (memory, sqlite):
        for i in range(300):
            store.add(f"j{i}", expires_at=T0 + dt.timedelta(hours=1))
    assert len(memory) == 300
    with sqlite._db.reading() as conn:
        assert conn.execute("SELECT count(*) FROM jwt_denylist").fetchone()[0] == 300
    sqlite.close()


@pytest.mark.parametrize(
    ("jti", "expires_at", "reason"),
    [
        ("", T0, "non-empty string"),
        (7, T0, "non-empty string"),
        ("x" * (MAX_JTI_LENGTH + 1), T0, "longer than"),
        ("ok", T0.replace(tzinfo=None), "timezone-aware"),
        ("ok", "tomorrow", "must be a datetime"),
    ],
)
def test_bad_add_arguments_are_configuration_errors(
    denylist: Denylist, jti: Any, expires_at: Any, reason: str
) -> None:
    """add() refuses empty, non-string or over-long jti and naive expiries."""
    with pytest.raises(ConfigurationError, match=reason):
        denylist.add(jti, expires_at=expires_at)


def test_bad_lookup_arguments_are_configuration_errors(denylist: Denylist) -> None:
    """contains() needs a string jti and an aware now."""
    with pytest.raises(ConfigurationError):
        denylist.contains("x", now=T0.replace(tzinfo=None))
    with pytest.raises(ConfigurationError):
        denylist.contains(["x"], now=T0)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        MemoryDenylist(clock="x")  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["add", "contains", "purge"]),
            st.sampled_from(["a", "b", "c"]),
            st.integers(min_value=0, max_value=100),
        ),
        max_size=40,
    )
)
def test_memory_denylist_matches_a_model(ops: list[tuple[str, str, int]]) -> None:
    """MemoryDenylist behaves like a dict of jti to the latest expiry."""
    store = MemoryDenylist(clock=FixedClock(T0))
    model: dict[str, int] = {}
    for op, jti, t in ops:
        at = T0 + dt.timedelta(seconds=t)
        if op == "add":
            store.add(jti, expires_at=at)
            model[jti] = max(model.get(jti, t), t)
        elif op == "contains":
            assert store.contains(jti, now=at) == (jti in model and t < model[jti])
        else:
            gone = {j for j, until in model.items() if until <= t}
            assert store.purge(now=at) == len(gone)
            model = {j: u for j, u in model.items() if j not in gone}


# ----------------------------------------------------------------------------- SQLite


def test_sqlite_entries_survive_reopening(tmp_path: Path) -> None:
    """A revocation written by one instance is seen by another on the same file."""
    path = tmp_path / "deny.db"
    writer = SQLiteDenylist(path)
    reader = SQLiteDenylist(str(path))
    writer.add("t", expires_at=T0 + dt.timedelta(days=1))
    assert reader.contains("t", now=T0)
    writer.close()
    reader.close()
    again = SQLiteDenylist(path)
    assert again.contains("t", now=T0)
    assert again._db.schema_version("jwt_denylist") == 1
    with again._db.reading() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_sqlite_shares_a_database_with_other_stores(tmp_path: Path) -> None:
    """An open SQLiteDatabase can host the denylist table next to other components."""
    db = SQLiteDatabase(tmp_path / "shared.db", schemas=[])
    store = SQLiteDenylist(db)
    store.add("t", expires_at=T0 + dt.timedelta(hours=1))
    assert store.contains("t", now=T0)
    assert db.schema_version("jwt_denylist") == 1
    store.close()


def test_sqlite_concurrent_adds_from_threads(tmp_path: Path) -> None:
    """Threads adding at once lose no revocation."""
    store = SQLiteDenylist(tmp_path / "t.db")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.add(f"{n}-{i}", expires_at=T0 + dt.timedelta(hours=1))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(store.contains(f"{n}-{i}", now=T0) for n in range(8) for i in range(25))
    store.close()


def test_sqlite_bad_path_and_closed_store(tmp_path: Path) -> None:
    """:memory: is refused, and a closed store raises StoreError."""
    with pytest.raises(ConfigurationError):
        SQLiteDenylist(":memory:")
    store = SQLiteDenylist(tmp_path / "c.db")
    store.close()
    with pytest.raises(StoreError):
        store.contains("x", now=T0)


# ----------------------------------------------------------------------------- verifier check


def test_check_not_revoked() -> None:
    """The verifier's check requires a string jti and raises Revoked for a denied one."""
    denylist = MemoryDenylist()
    denylist.add("gone", expires_at=T0 + dt.timedelta(hours=1))
    check_not_revoked(denylist, {"jti": "fine"}, now=T0)
    check_not_revoked(denylist, {"jti": "x" * (MAX_JTI_LENGTH + 1)}, now=T0)
    with pytest.raises(Revoked) as info:
        check_not_revoked(denylist, {"jti": "gone"}, now=T0)
    assert info.value.reason == "jti is on the denylist"
    check_not_revoked(denylist, {"jti": "gone"}, now=T0 + dt.timedelta(hours=1))
    with pytest.raises(MissingClaim) as missing:
        check_not_revoked(denylist, {}, now=T0)
    assert missing.value.claim == "jti"
    for bad in (1, "", ["gone"]):
        with pytest.raises(InvalidClaim, match="jti is not a non-empty string"):
            check_not_revoked(denylist, {"jti": bad}, now=T0)


def test_optional_denylist_accepts_none_and_denylists_only() -> None:
    """The verifier option helper passes None and Denylists through, refuses the rest."""
    denylist = MemoryDenylist()
    assert optional_denylist(None) is None
    assert optional_denylist(denylist) is denylist
    with pytest.raises(ConfigurationError, match="denylist must be a Denylist"):
        optional_denylist({"jti"})


def test_revoke_denies_a_token_until_its_exp() -> None:
    """revoke(denylist, claims) records the jti until the token's exp (rounded up)."""
    denylist = MemoryDenylist()
    exp = (T0 + dt.timedelta(hours=1)).timestamp() + 0.5
    revoke(denylist, {"jti": "t", "exp": exp})
    assert denylist.contains("t", now=T0 + dt.timedelta(hours=1, seconds=0.9))
    assert not denylist.contains("t", now=T0 + dt.timedelta(hours=1, seconds=1))
    for claims, reason in (
        ({"jti": "t"}, "numeric exp"),
        ({"jti": "t", "exp": True}, "numeric exp"),
        ({"jti": "t", "exp": 1e300}, "out of range"),
        ({"exp": 10}, "jti must be"),
    ):
        with pytest.raises(ConfigurationError, match=reason):
            revoke(denylist, claims)
