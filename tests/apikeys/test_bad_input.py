"""Bad input of every shape raises a typed authcore error, never a stray exception."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authcore import apikeys
from authcore.apikeys import KeyHasher, KeyManager
from authcore.apikeys._format import ALPHABET, _checksum
from authcore.errors import (
    ConfigurationError,
    InvalidCredentials,
    MalformedKey,
    NotFound,
)
from authcore.stores.memory import MemoryKeyStore

from .conftest import PEPPER

_MANAGER = KeyManager(MemoryKeyStore(), KeyHasher({"p1": PEPPER}), prefix="sk_test")
_ISSUED = _MANAGER.create(owner="o")

base62 = st.text(alphabet=ALPHABET, min_size=59, max_size=59)


def _well_formed(body: str, prefix: str = "sk_test") -> str:
    return f"{prefix}_{body}{_checksum(body)}"


@given(st.one_of(st.text(max_size=200), st.binary(max_size=100), st.integers(), st.none()))
@settings(max_examples=300)
def test_junk_is_malformed_key(value: object) -> None:
    """Arbitrary values given as a token raise MalformedKey and nothing else."""
    with pytest.raises(MalformedKey):
        _MANAGER.verify(value)  # type: ignore[arg-type]


@given(base62)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_well_formed_unknown_keys_are_invalid_credentials(body: str) -> None:
    """A well-formed token that was never issued raises InvalidCredentials."""
    with pytest.raises(InvalidCredentials):
        _MANAGER.verify(_well_formed(body))


@given(st.text(alphabet=ALPHABET, min_size=43, max_size=43))
@settings(max_examples=200)
def test_known_id_with_any_other_secret_is_invalid_credentials(secret: str) -> None:
    """Any secret other than the issued one, with the real key id, is refused."""
    parsed = apikeys.parse(_ISSUED.token)
    if secret == parsed.secret:
        return
    with pytest.raises(InvalidCredentials):
        _MANAGER.verify(_well_formed(parsed.key_id + secret))


@pytest.mark.parametrize(
    "scopes", ["read", b"read", 5, [5], [None], ["with space"], [""], object()]
)
def test_bad_required_scopes_are_configuration_errors(scopes: object) -> None:
    """Required scopes that are not a collection of scope strings are caller mistakes."""
    with pytest.raises(ConfigurationError):
        _MANAGER.verify(_ISSUED.token, scopes=scopes)  # type: ignore[arg-type]


@pytest.mark.parametrize("key_id", [None, 5, b"abc", "", "x" * 10_000, "0" * 16])
def test_management_calls_with_bad_ids_are_not_found(key_id: object) -> None:
    """get/revoke/disable/enable/rotate on an id that is not a known str raise NotFound."""
    for call in (_MANAGER.get, _MANAGER.revoke, _MANAGER.disable, _MANAGER.enable):
        with pytest.raises(NotFound):
            call(key_id)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        _MANAGER.rotate(key_id, grace=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("owner", [None, 5, "", "x" * 1000])
def test_list_with_bad_owner_is_configuration_error(owner: object) -> None:
    """list() with an owner that is not a non-empty str is a caller mistake."""
    with pytest.raises(ConfigurationError):
        _MANAGER.list(owner)  # type: ignore[arg-type]


def _record(**given: object) -> object:
    from authcore.apikeys import KeyRecord  # noqa: PLC0415

    fields: dict[str, object] = {
        "key_id": "k1",
        "prefix": "ak",
        "owner": "o",
        "secret_hash": "v1$p$x",
        "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    }
    return KeyRecord(**{**fields, **given})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("scopes", "read write"),  # iterated, this was 'r', 'e', 'a', ... and verify crashed
        ("scopes", b"read"),
        ("scopes", frozenset({"read", 1})),
        ("scopes", frozenset({""})),
        ("status", "active"),
        ("created_at", dt.datetime(2026, 1, 1)),  # naive  # noqa: DTZ001
        ("expires_at", 1_700_000_000),
        ("owner", None),
        ("name", 5),
        ("metadata", {"a": 1}),
        ("metadata", "a=b"),
        ("rate_limit", (10, 60)),
        ("remaining_uses", -1),
        ("remaining_uses", True),
        ("use_count", 1.5),
    ],
)
def test_key_record_refuses_fields_of_the_wrong_type(name: str, value: object) -> None:
    """A record built by hand or by a custom store is checked, every problem named.

    ``KeyRecord(scopes="read write")`` used to be accepted, and ``KeyManager.verify`` of
    its key then raised a bare ``TypeError``.
    """
    with pytest.raises(ConfigurationError, match=name):
        _record(**{name: value})


def test_key_record_takes_a_set_or_list_of_scopes_as_a_frozenset() -> None:
    record = _record(scopes={"read", "write"})
    assert record.scopes == frozenset({"read", "write"})  # type: ignore[attr-defined]
    assert type(record.scopes) is frozenset  # type: ignore[attr-defined]
    assert _record(scopes=["a"]).scopes == frozenset({"a"})  # type: ignore[attr-defined]
