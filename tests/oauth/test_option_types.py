"""Server configuration of the wrong type is refused when given, never read by accident.

Found by probing every option with values of the wrong type: a string scope was iterated
character by character (``scope="read"`` granted ``r`` and refused ``read``), and a flag
given as ``"false"`` read as true (``allow_plain_pkce="false"`` turned plain PKCE on).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from authcore import oauth
from authcore.errors import ConfigurationError, StoreError
from authcore.jose import JWK, PRIVATE_MEMBERS, KeySet
from authcore.oauth import ClientRecord, Policy, decode_client, encode_client
from authcore.oauth.client import DeviceAuthorization, ServerMetadata

_FLAGS = (
    "rotate_refresh_tokens",
    "require_pkce",
    "allow_plain_pkce",
    "require_pushed_authorization_requests",
    "require_dpop",
)
_LISTS = ("redirect_uris", "grant_types", "response_types", "scope")


@pytest.mark.parametrize("flag", _FLAGS)
@pytest.mark.parametrize("value", ["false", "", 0, 1, None])
def test_policy_flags_must_be_bools(flag: str, value: object) -> None:
    """Every Policy flag refuses a non-bool, naming itself (truthiness would decide it)."""
    with pytest.raises(ConfigurationError, match=f"{flag} must be a bool"):
        Policy(**{flag: value})  # type: ignore[arg-type]
    assert getattr(Policy(**{flag: True}), flag) is True  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["scopes", "default_scope", "resources", "dpop_algorithms"])
@pytest.mark.parametrize("value", ["read", b"read", ("read", 1), ("",), (["ES256"],), None])
def test_policy_lists_must_be_tuples_of_strings(name: str, value: object) -> None:
    """A bare string, bytes or non-string items are refused, never iterated."""
    with pytest.raises(ConfigurationError, match=f"{name} must be a tuple of non-empty strings"):
        Policy(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", _LISTS)
@pytest.mark.parametrize("value", ["read", b"read", ("read", 1), ("",), None, ["x"]])
def test_client_record_lists_must_be_tuples_of_strings(name: str, value: object) -> None:
    """ClientRecord's list fields refuse what would be iterated character by character."""
    with pytest.raises(ConfigurationError, match=f"{name} must be a tuple of non-empty strings"):
        ClientRecord(client_id="c", token_endpoint_auth_method="none", **{name: value})  # type: ignore[arg-type]


def test_client_record_flag_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError, match="dpop_bound_access_tokens must be a bool"):
        ClientRecord(
            client_id="c",
            token_endpoint_auth_method="none",
            dpop_bound_access_tokens="false",  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("name", _LISTS)
def test_a_stored_string_is_not_read_back_as_a_list(name: str) -> None:
    """A client row whose list field became a string is unreadable, not widened.

    ``tuple("read")`` would have made a one-character scope per letter, each passing the
    record's own check.
    """
    record = ClientRecord(
        client_id="c",
        client_secret_digest=oauth.digest("s" * 32),
        grant_types=("client_credentials",),
        scope=("read",),
        redirect_uris=("https://app.example/cb",),
    )
    data = json.loads(encode_client(record))
    assert decode_client(json.dumps(data)) == record
    data[name] = "".join(data[name])
    with pytest.raises(StoreError, match="unreadable OAuth client"):
        decode_client(json.dumps(data))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"interval": -1}, "interval must be an int from 1"),
        ({"interval": 0}, "interval must be an int from 1"),
        ({"interval": float("nan")}, "interval must be an int from 1"),
        ({"expires_at": dt.datetime(2030, 1, 1)}, "expires_at must be an aware datetime"),  # noqa: DTZ001
        ({"expires_at": 1_900_000_000}, "expires_at must be an aware datetime"),
    ],
)
def test_a_hand_built_device_authorization_is_checked(
    given: dict[str, object], message: str
) -> None:
    """device_polling would have told the caller to sleep -1 or nan seconds."""
    fields: dict[str, object] = {
        "device_code": "d",
        "user_code": "U",
        "verification_uri": "https://as.example/device",
        "verification_uri_complete": None,
        "expires_at": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
    }
    with pytest.raises(ConfigurationError, match=message):
        DeviceAuthorization(**{**fields, **given})  # type: ignore[arg-type]
    assert DeviceAuthorization(**fields).interval == 5  # type: ignore[arg-type]


def test_client_metadata_jwks_must_be_public() -> None:
    """Registered client keys are public; private members are refused before any parsing.

    An RSA private JWK with ``d`` alone makes the import recover the primes, which a crafted
    modulus turns into seconds or minutes of work (found while fuzzing; RFC 7591 metadata
    may come from the client itself through dynamic registration).
    """
    public = JWK.generate("ES256", kid="k").public().to_dict()
    record = ClientRecord.from_metadata(
        {"client_id": "c", "token_endpoint_auth_method": "private_key_jwt",
         "jwks": {"keys": [public]}}
    )  # fmt: skip
    assert record.jwks is not None
    for member in sorted(PRIVATE_MEMBERS):
        with pytest.raises(ConfigurationError, match="jwks must hold public keys only"):
            ClientRecord.from_metadata(
                {"client_id": "c", "token_endpoint_auth_method": "private_key_jwt",
                 "jwks": {"keys": [{**public, member: "AQAB"}]}}
            )  # fmt: skip


@pytest.mark.parametrize(
    "key",
    [JWK.generate("ES256", kid="ec"), JWK.generate("EdDSA", kid="ed"), JWK.generate("HS256")],
)
def test_client_record_jwks_must_be_public(key: JWK) -> None:
    """A record built directly (or decoded) holds public keys only, like from_metadata's."""
    keys = [key] if key.is_symmetric else [JWK.generate("ES256", kid="pub").public(), key]
    with pytest.raises(ConfigurationError, match="jwks must hold public keys only"):
        ClientRecord(client_id="c", token_endpoint_auth_method="private_key_jwt", jwks=KeySet(keys))
    if not key.is_symmetric:
        record = ClientRecord(
            client_id="c", token_endpoint_auth_method="private_key_jwt", jwks=KeySet([key.public()])
        )
        assert record.jwks is not None


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"issuer": None}, "issuer must be a non-empty string"),
        ({"token_endpoint": 1}, "token_endpoint must be a non-empty string"),
        ({"jwks_uri": b"https://as.example/jwks"}, "jwks_uri must be a non-empty string"),
        ({"require_pushed_authorization_requests": "false"}, "must be a bool"),
        ({"authorization_response_iss_parameter_supported": 1}, "must be a bool"),
        ({"code_challenge_methods_supported": "S256"}, "must be a frozenset of strings"),
        ({"dpop_signing_alg_values_supported": frozenset({1})}, "must be a frozenset"),
        ({"document": [("issuer", "x")]}, "document must be a mapping"),
    ],
)
def test_a_hand_built_server_metadata_is_checked(given: dict[str, object], message: str) -> None:
    """ServerMetadata built directly is checked as ``parse`` checks a fetched document.

    ``require_pushed_authorization_requests="false"`` would have read as true, a string
    ``code_challenge_methods_supported`` as its characters.
    """
    fields: dict[str, object] = {"issuer": "https://as.example"}
    with pytest.raises(ConfigurationError, match=message):
        ServerMetadata(**{**fields, **given})  # type: ignore[arg-type]
    assert ServerMetadata(**fields).issuer == "https://as.example"  # type: ignore[arg-type]


def test_device_polling_checks_its_options_at_the_call() -> None:
    """A generator runs nothing until ``next()``: the checks now run when it is called."""
    from authcore.oauth.client import device_polling  # noqa: PLC0415

    device = DeviceAuthorization(
        device_code="d",
        user_code="U",
        verification_uri="https://as.example/device",
        verification_uri_complete=None,
        expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
    )
    for given, message in (
        ({"clock": "x"}, "clock must have a now"),
        ({"max_bytes": 0}, "max_bytes must be an int"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            device_polling(device, **given)
    with pytest.raises(ConfigurationError, match="device must be a DeviceAuthorization"):
        device_polling("device")  # type: ignore[arg-type]
    assert next(device_polling(device)) == 5.0
