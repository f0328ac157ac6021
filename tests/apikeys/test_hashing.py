"""KeyHasher: versioned peppered HMAC-SHA256, pepper rotation, constant-time refusal."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authcore import apikeys
from authcore._encoding import b64url_encode
from authcore.apikeys import _hashing
from authcore.errors import ConfigurationError, InvalidCredentials, InvalidKeyError, StoreError

OLD = b"o" * 32
NEW = b"n" * 48


def test_hash_format_names_version_and_pepper() -> None:
    """hash() is v1$<pepper id>$<base64url HMAC-SHA256(pepper, secret)>."""
    hasher = apikeys.KeyHasher({"p1": OLD})
    expected = hmac.new(OLD, b"secret", hashlib.sha256).digest()
    assert hasher.hash("secret") == f"v1$p1${b64url_encode(expected)}"
    assert hasher.hash(b"secret") == hasher.hash("secret")


@given(st.text(min_size=1, max_size=64))
def test_verify_accepts_the_secret_and_refuses_others(secret: str) -> None:
    """verify() returns a HashCheck for the right secret and raises for any other."""
    hasher = apikeys.KeyHasher({"p1": OLD})
    stored = hasher.hash(secret)
    check = hasher.verify(secret, stored)
    assert check == apikeys.HashCheck(pepper_id="p1", needs_rehash=False)
    with pytest.raises(InvalidCredentials):
        hasher.verify(secret + "x", stored)


def test_pepper_rotation_reports_rehash() -> None:
    """A hash made with an older pepper verifies and says a rehash is due."""
    old_hasher = apikeys.KeyHasher({"p1": OLD})
    stored = old_hasher.hash("s3cret")
    rotated = apikeys.KeyHasher({"p1": OLD, "p2": NEW})
    assert rotated.current == "p2"
    assert rotated.verify("s3cret", stored) == apikeys.HashCheck(pepper_id="p1", needs_rehash=True)
    fresh = rotated.hash("s3cret")
    assert fresh.startswith("v1$p2$")
    assert rotated.verify("s3cret", fresh).needs_rehash is False
    pinned = apikeys.KeyHasher({"p1": OLD, "p2": NEW}, current="p1")
    assert pinned.verify("s3cret", stored).needs_rehash is False


def test_retired_pepper_refuses_like_a_wrong_secret() -> None:
    """A hash naming a pepper that is no longer configured gives InvalidCredentials."""
    stored = apikeys.KeyHasher({"p1": OLD}).hash("s3cret")
    with pytest.raises(InvalidCredentials) as info:
        apikeys.KeyHasher({"p2": NEW}).verify("s3cret", stored)
    assert info.value.reason == _hashing.NO_MATCH


def test_reject_does_the_same_work(hash_work: list[str]) -> None:
    """reject() computes one HMAC and one comparison, like a failed verify(), then raises."""
    hasher = apikeys.KeyHasher({"p1": OLD})
    stored = hasher.hash("right")
    hash_work.clear()
    with pytest.raises(InvalidCredentials) as wrong:
        hasher.verify("wrong", stored)
    wrong_calls, hash_work[:] = list(hash_work), []
    with pytest.raises(InvalidCredentials) as unknown:
        hasher.reject("wrong")
    assert hash_work == wrong_calls == ["mac check"]
    assert str(unknown.value) == str(wrong.value)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "v1$p1",
        "v2$p1$" + "A" * 43,
        "v1$p 1$" + "A" * 43,
        "v1$p1$" + "A" * 42,
        "v1$p1$" + "A" * 44,
        "v1$p1$" + "A" * 42 + "=",
        "v1$p1$" + "A" * 43 + "$x",
        "v1$p1$" + "A" * 40,
    ],
)
def test_unreadable_stored_hashes_are_store_errors(stored: str) -> None:
    """A stored value this class did not make is a StoreError (not the peer's fault)."""
    with pytest.raises(StoreError):
        apikeys.KeyHasher({"p1": OLD}).verify("secret", stored)


def test_non_string_stored_hash() -> None:
    """A stored hash that is not a str is a StoreError."""
    with pytest.raises(StoreError):
        apikeys.KeyHasher({"p1": OLD}).verify("secret", b"v1$p1$x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peppers", "current", "error"),
    [
        ({}, None, ConfigurationError),
        ([("p1", OLD)], None, ConfigurationError),
        ({"p1": b"short"}, None, InvalidKeyError),
        ({"p1": "x" * 32}, None, InvalidKeyError),
        ({"": OLD}, None, ConfigurationError),
        ({"a$b": OLD}, None, ConfigurationError),
        ({1: OLD}, None, ConfigurationError),
        ({"p1": OLD}, "p9", ConfigurationError),
    ],
)
def test_bad_configuration(peppers: object, current: str | None, error: type[Exception]) -> None:
    """Empty, short, mistyped or misnamed peppers are refused at setup."""
    with pytest.raises(error):
        apikeys.KeyHasher(peppers, current=current)  # type: ignore[arg-type]


def test_bad_secret_type_is_configuration_error() -> None:
    """Hashing something that is not str or bytes is a caller mistake."""
    with pytest.raises(ConfigurationError):
        apikeys.KeyHasher({"p1": OLD}).hash(42)  # type: ignore[arg-type]


def test_repr_shows_ids_not_peppers() -> None:
    """The repr names pepper ids only."""
    text = repr(apikeys.KeyHasher({"p1": OLD, "p2": NEW}))
    assert "p1" in text
    assert "ooo" not in text
    assert "nnn" not in text


def test_fast_path_is_private() -> None:
    """KeyHasher exposes from_env, hash, verify and reject; its fast path is not public API."""
    public = {name for name in dir(apikeys.KeyHasher) if not name.startswith("_")}
    assert public == {"current", "from_env", "hash", "reject", "verify"}


def test_verify_caches_parsed_hashes_on_the_hasher_bounded() -> None:
    """Parsed stored hashes live on the hasher, at most _RESOLVED_MAX of them."""
    hasher = apikeys.KeyHasher({"p1": OLD})
    stored = hasher.hash("s")
    assert hasher.verify("s", stored) == hasher.verify(b"s", stored)
    other = apikeys.KeyHasher({"p1": OLD})
    assert stored in hasher._resolved
    assert stored not in other._resolved
    for i in range(_hashing._RESOLVED_MAX + 5):
        with pytest.raises(InvalidCredentials):
            hasher.verify("s", "v1$p1$" + b64url_encode(i.to_bytes(32, "big")))
    assert len(hasher._resolved) <= _hashing._RESOLVED_MAX
