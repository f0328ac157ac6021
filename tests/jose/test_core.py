"""The JOSE core shared by jws, jwt and jwe: one set of rules for the accepted key inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from authcore.errors import ConfigurationError
from authcore.jose import JWK, JWTVerifier, jwe, jws, jwt

if TYPE_CHECKING:
    from collections.abc import Callable

_SIGNING = JWK.generate("ES256", kid="s")
_ENCRYPTION = JWK.generate("ECDH-ES+A128KW", kid="e")
_JWT = jwt.encode({"sub": "a", "exp": 4_000_000_000}, _SIGNING)
_JWS_JSON = jws.sign_json(b"x", _SIGNING)
_JWE = jwe.encrypt(b"x", _ENCRYPTION, enc="A128GCM")
_JWE_JSON = jwe.encrypt_json(b"x", _ENCRYPTION, enc="A128GCM")
_NESTED = jwe.encrypt_jwt({"exp": 4_000_000_000}, _SIGNING, _ENCRYPTION, enc="A128GCM")
_JWE_OPTIONS: dict[str, Any] = {"algorithms": ["ECDH-ES+A128KW"], "encryptions": ["A128GCM"]}


def _nested(keys: Any) -> object:
    verifier = JWTVerifier(_SIGNING, algorithms=["ES256"])
    return jwe.decrypt_jwt(_NESTED, keys, verify=verifier.verify, **_JWE_OPTIONS)


def _nested_inner(keys: Any) -> object:
    verifier = JWTVerifier(keys, algorithms=["ES256"])
    return jwe.decrypt_jwt(_NESTED, _ENCRYPTION, verify=verifier.verify, **_JWE_OPTIONS)


ENTRY_POINTS: dict[str, Callable[[Any], object]] = {
    "jws.verify": lambda keys: jws.verify(_JWT, keys, algorithms=["ES256"]),
    "jws.verify_json": lambda keys: jws.verify_json(_JWS_JSON, keys, algorithms=["ES256"]),
    "jwt.decode": lambda keys: jwt.decode(_JWT, keys, algorithms=["ES256"]),
    "JWTVerifier": lambda keys: JWTVerifier(keys, algorithms=["ES256"]).verify(_JWT),
    "jwe.decrypt": lambda keys: jwe.decrypt(_JWE, keys, **_JWE_OPTIONS),
    "jwe.decrypt_json": lambda keys: jwe.decrypt_json(_JWE_JSON, keys, **_JWE_OPTIONS),
    "jwe.decrypt_jwt": _nested,
    "jwe.decrypt_jwt inner verifier": _nested_inner,
}

WRONG_KEYS: dict[str, Callable[[JWK], object]] = {
    "dict": lambda key: key.to_dict(private=True),
    "str": lambda key: key.to_pem().decode(),
    "bytes": lambda key: key.to_pem(),
    "list of dicts": lambda key: [key.to_dict(private=True)],
    "None": lambda _key: None,
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("wrong", sorted(WRONG_KEYS))
def test_every_entry_point_refuses_key_look_alikes_the_same_way(entry: str, wrong: str) -> None:
    """A dict, key text, bytes, dicts or None as keys: ConfigurationError naming JWK.from_dict."""
    key = _SIGNING if entry.startswith(("jws", "jwt", "JWT", "jwe.decrypt_jwt inner")) else None
    keys = WRONG_KEYS[wrong](key or _ENCRYPTION)
    with pytest.raises(ConfigurationError, match=r"JWK\.from_dict\(\.\.\.\)"):
        ENTRY_POINTS[entry](keys)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_accepts_the_right_key(entry: str) -> None:
    """The same entry points succeed with a JWK, so the refusals above are about the input."""
    key = _SIGNING if entry.startswith(("jws", "jwt", "JWT", "jwe.decrypt_jwt inner")) else None
    assert ENTRY_POINTS[entry](key or _ENCRYPTION) is not None


def test_the_jose_package_reexports_every_public_module() -> None:
    """authcore.jose re-exports jwe, jwks, keyring and denylist beside jws and jwt."""
    import authcore.jose  # noqa: PLC0415 - the package under test

    for name in ("denylist", "jwe", "jwks", "jws", "jwt", "keyring"):
        assert name in authcore.jose.__all__
        assert getattr(authcore.jose, name).__name__ == f"authcore.jose.{name}"


def test_key_plumbing_is_private() -> None:
    """JWK exposes no verifier/signer: the JOSE layers' plumbing is not public API."""
    assert not hasattr(_SIGNING, "verifier")
    assert not hasattr(_SIGNING, "signer")
    assert not hasattr(jwt, "optional_denylist")
