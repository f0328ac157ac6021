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
password grants (never), JAR request objects, token exchange, DPoP at the token endpoint
(coming).  For resource servers: :mod:`authcore.oauth.dpop` (RFC 9449 proofs) and
:mod:`authcore.oauth.resource` (RFC 6750 and RFC 9068 access tokens, RFC 7662 introspection).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from authcore.oauth import client, dpop, lifecycle, pkce, resource
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
    IntrospectionRule,
    PendingAuthorization,
    Policy,
    RefreshFamilies,
    RefreshOutcome,
    may_introspect,
    resource_servers,
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
from authcore.oauth.client import AuthorizationCodeFlow, OAuthClient, ServerMetadata, TokenSet
from authcore.oauth.dpop import DPoPKey
from authcore.oauth.resource import AccessTokenInfo, AsyncResourceServer, ResourceServer

__all__ = [
    "AUTH_METHODS",
    "AccessToken",
    "AccessTokenInfo",
    "Artefact",
    "AsyncAuthorizationServer",
    "AsyncClientStore",
    "AsyncGrantStore",
    "AsyncResourceServer",
    "AuthenticatedClient",
    "AuthorizationCode",
    "AuthorizationCodeFlow",
    "AuthorizationServer",
    "ClientRecord",
    "ClientStore",
    "DPoPKey",
    "Decision",
    "DeviceCode",
    "Effect",
    "Endpoints",
    "Family",
    "GrantStore",
    "Insert",
    "IntrospectionRule",
    "OAuthClient",
    "PendingAuthorization",
    "Policy",
    "PushedRequest",
    "RefreshFamilies",
    "RefreshOutcome",
    "RefreshToken",
    "ResourceServer",
    "RevokeFamily",
    "SaveFamily",
    "ServerMetadata",
    "TokenFormat",
    "TokenSet",
    "Update",
    "UserCode",
    "client",
    "decode_client",
    "decode_family",
    "decode_record",
    "digest",
    "dpop",
    "encode_client",
    "encode_family",
    "encode_record",
    "generate_client_secret",
    "lifecycle",
    "may_introspect",
    "pkce",
    "record_kind",
    "resource",
    "resource_servers",
]
