"""OAuth 2.x authorization server: grants as pure decisions, sync and async drivers.

* :class:`AuthorizationServer` / :class:`AsyncAuthorizationServer`: every endpoint takes an
  :class:`authcore.http.Request` and returns an :class:`authcore.http.Response`.
* Grants decide, hosts store: each grant is a pure function returning a :class:`Decision`
  (a response plus effects such as :class:`Insert`, :class:`Update`, :class:`SaveFamily`,
  :class:`RevokeFamily`), applied atomically through the :class:`GrantStore` protocol.
* :class:`RefreshFamilies`: rotation, reuse detection, absolute and idle lifetimes, reusable
  on its own.
* :mod:`authcore.oauth.lifecycle`: the transition tables; :mod:`authcore.oauth.pkce`: RFC 7636.
* ``encode_record``/``decode_record`` (and the family and client pairs): the JSON form of
  every record, shared by the persistent store backends.

Implemented: RFC 6749, RFC 7009, RFC 7523 (client assertions), RFC 7591 (metadata names),
RFC 7636, RFC 7662, RFC 8252 section 7.3, RFC 8414, RFC 8628, RFC 8705, RFC 8707, RFC 9068,
RFC 9126, RFC 9207, and the RFC 9700 best current practice.  Not implemented: implicit and
password grants (never), JAR request objects, token exchange, DPoP (coming).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from authcore.oauth import lifecycle, pkce
from authcore.oauth._clients import (
    AUTH_METHODS,
    AuthenticatedClient,
    ClientRecord,
    generate_client_secret,
)
from authcore.oauth._codec import (
    decode_client,
    decode_family,
    decode_record,
    encode_client,
    encode_family,
    encode_record,
    record_kind,
)
from authcore.oauth._grants import (
    PendingAuthorization,
    Policy,
    RefreshFamilies,
    RefreshOutcome,
)
from authcore.oauth._model import (
    AccessToken,
    Artefact,
    AsyncClientStore,
    AsyncGrantStore,
    AuthorizationCode,
    ClientStore,
    Decision,
    DeviceCode,
    Effect,
    Family,
    GrantStore,
    Insert,
    PushedRequest,
    RefreshToken,
    RevokeFamily,
    SaveFamily,
    TokenFormat,
    Update,
    UserCode,
    digest,
)
from authcore.oauth._server import AsyncAuthorizationServer, AuthorizationServer, Endpoints

__all__ = [
    "AUTH_METHODS",
    "AccessToken",
    "Artefact",
    "AsyncAuthorizationServer",
    "AsyncClientStore",
    "AsyncGrantStore",
    "AuthenticatedClient",
    "AuthorizationCode",
    "AuthorizationServer",
    "ClientRecord",
    "ClientStore",
    "Decision",
    "DeviceCode",
    "Effect",
    "Endpoints",
    "Family",
    "GrantStore",
    "Insert",
    "PendingAuthorization",
    "Policy",
    "PushedRequest",
    "RefreshFamilies",
    "RefreshOutcome",
    "RefreshToken",
    "RevokeFamily",
    "SaveFamily",
    "TokenFormat",
    "Update",
    "UserCode",
    "decode_client",
    "decode_family",
    "decode_record",
    "digest",
    "encode_client",
    "encode_family",
    "encode_record",
    "generate_client_secret",
    "lifecycle",
    "pkce",
    "record_kind",
]
