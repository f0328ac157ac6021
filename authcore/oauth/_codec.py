"""JSON forms of the OAuth records, shared by every persistent store backend.

Each artefact is encoded with its ``kind`` (``"code"``, ``"access"``, ``"refresh"``,
``"device"``, ``"user_code"``, ``"par"``); tuples become arrays and states their enum values.
A client's ``client_secret_jwt_key`` is the one secret in these forms (an HMAC key cannot be
hashed); everything else is a digest or public data.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any, Final, cast

from authcore._encoding import json_dumps, json_loads
from authcore.errors import AuthcoreError, StoreError
from authcore.jose import JWK, KeySet
from authcore.mtls import TlsClientAuth
from authcore.oauth._clients import ClientRecord
from authcore.oauth._model import (
    AccessToken,
    Artefact,
    AuthorizationCode,
    DeviceCode,
    Family,
    PushedRequest,
    RefreshToken,
    UserCode,
)
from authcore.oauth.lifecycle import CodeState, DeviceState, RefreshState

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "decode_client",
    "decode_family",
    "decode_record",
    "encode_client",
    "encode_family",
    "encode_record",
    "record_kind",
]

_KINDS: Final[Mapping[str, type[Any]]] = {
    "code": AuthorizationCode,
    "access": AccessToken,
    "refresh": RefreshToken,
    "device": DeviceCode,
    "user_code": UserCode,
    "par": PushedRequest,
}
_STATES: Final[Mapping[str, type[enum.Enum]]] = {
    "code": CodeState,
    "refresh": RefreshState,
    "device": DeviceState,
}


def record_kind(record: Artefact) -> str:
    """The kind name of an artefact."""
    for kind, cls in _KINDS.items():
        if type(record) is cls:
            return kind
    raise StoreError(f"not an OAuth record: {type(record).__name__}")


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    return value


def encode_record(record: Artefact) -> bytes:
    """Canonical JSON of an artefact (its kind is stored beside it)."""
    return json_dumps({f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)})


def _tuples(value: object) -> object:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def decode_record(kind: str, data: bytes | str) -> Artefact:
    """Rebuild an artefact from :func:`encode_record` output.

    Raises:
        StoreError: If the data is not a record of ``kind``.
    """
    try:
        cls = _KINDS[kind]
        values = {k: _tuples(v) for k, v in cast("dict[str, object]", json_loads(data)).items()}
        if kind in _STATES:
            values["state"] = _STATES[kind](values["state"])
        return cast("Artefact", cls(**values))
    except (AuthcoreError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"unreadable OAuth {kind} record: {type(exc).__name__}") from None


def encode_family(family: Family) -> bytes:
    """Canonical JSON of a family."""
    return json_dumps({f.name: getattr(family, f.name) for f in dataclasses.fields(family)})


def decode_family(data: bytes | str) -> Family:
    """Rebuild a family from :func:`encode_family` output.

    Raises:
        StoreError: If the data is not a family.
    """
    try:
        values = {k: _tuples(v) for k, v in cast("dict[str, object]", json_loads(data)).items()}
        return Family(**values)  # type: ignore[arg-type]
    except (AuthcoreError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"unreadable OAuth family: {type(exc).__name__}") from None


def encode_client(client: ClientRecord) -> bytes:
    """JSON of a client registration (contains the ``client_secret_jwt`` key, if any)."""
    return json_dumps(
        {
            "client_id": client.client_id,
            "client_secret_digest": client.client_secret_digest,
            "redirect_uris": client.redirect_uris,
            "grant_types": client.grant_types,
            "response_types": client.response_types,
            "scope": client.scope,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "token_endpoint_auth_signing_alg": client.token_endpoint_auth_signing_alg,
            "jwks": client.jwks.to_dict() if client.jwks is not None else None,
            "jwks_uri": client.jwks_uri,
            "tls_client_auth": (
                [client.tls_client_auth.parameter, client.tls_client_auth.value]
                if client.tls_client_auth is not None
                else None
            ),
            "application_type": client.application_type,
            "client_secret_jwt_key": (
                client.client_secret_jwt_key.to_dict(private=True)
                if client.client_secret_jwt_key is not None
                else None
            ),
            "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
        }
    )


def _listed(value: object) -> tuple[str, ...]:
    """A stored JSON array as a tuple; anything else (a string would iterate) is refused.

    Its items are checked by :class:`ClientRecord`.
    """
    if type(value) is not list:
        raise TypeError("not an array")
    return tuple(cast("list[str]", value))


def decode_client(data: bytes | str) -> ClientRecord:
    """Rebuild a client from :func:`encode_client` output.

    Raises:
        StoreError: If the data is not a client registration.
    """
    try:
        v = cast("dict[str, Any]", json_loads(data))
        tls = v["tls_client_auth"]
        return ClientRecord(
            client_id=v["client_id"],
            client_secret_digest=v["client_secret_digest"],
            redirect_uris=_listed(v["redirect_uris"]),
            grant_types=_listed(v["grant_types"]),
            response_types=_listed(v["response_types"]),
            scope=_listed(v["scope"]),
            token_endpoint_auth_method=v["token_endpoint_auth_method"],
            token_endpoint_auth_signing_alg=v["token_endpoint_auth_signing_alg"],
            jwks=KeySet.from_dict(v["jwks"]) if v["jwks"] is not None else None,
            jwks_uri=v["jwks_uri"],
            tls_client_auth=(
                TlsClientAuth(parameter=tls[0], value=tls[1]) if tls is not None else None
            ),
            application_type=v["application_type"],
            client_secret_jwt_key=(
                JWK.from_dict(v["client_secret_jwt_key"])
                if v["client_secret_jwt_key"] is not None
                else None
            ),
            # Absent from records written before 0.1.0's DPoP support.
            dpop_bound_access_tokens=v.get("dpop_bound_access_tokens", False),
        )
    except (AuthcoreError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise StoreError(f"unreadable OAuth client: {type(exc).__name__}") from None
