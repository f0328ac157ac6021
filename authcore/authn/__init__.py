"""Authenticate requests with one method or a production pairing of two.

:class:`Authenticator` turns an :class:`authcore.http.Request` into a frozen
:class:`Principal` (application, subject, scopes, the methods that proved it, claims,
certificate identity), or raises :class:`~authcore.errors.AuthenticationFailed` carrying the
HTTP status (401, or 403 for a missing scope) and the ``WWW-Authenticate`` challenges to send.
Rate limits (:class:`~authcore.errors.RateLimited`, 429) and store failures
(:class:`~authcore.errors.StoreError`, 503) pass through with their own types.

Schemes: :class:`APIKey`, :class:`BearerJWT`, :class:`OAuthAccessToken` (Bearer and DPoP
through a resource server) and :class:`MutualTLS`.  ``Authenticator([...])`` accepts a
request proved by any one of them (the first whose credentials are present decides); the
pairings require both credentials and enforce their consistency rule:

* :func:`api_key_and_jwt`: the key names the application, the JWT the user; the JWT's
  ``azp`` (or ``client_id``) must be the key's owner.
* :func:`mtls_and_jwt`: the JWT must be bound to the presented certificate
  (``cnf.x5t#S256``, RFC 8705).
* :func:`mtls_and_api_key`: the key must be registered for the certificate's SPIFFE ID or
  subject (its ``mtls_identity`` metadata).

:func:`exchange_api_key` trades a long-lived API key for a short-lived JWT carrying the key's
scopes, narrowed to those asked for.  :class:`AsyncAuthenticator` has the same API for
asyncio and shares every decision with the sync one.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from authcore._options import bool_option, int_option, str_option, strings_option
from authcore.authn._core import (
    APIKey,
    BearerJWT,
    MutualTLS,
    OAuthAccessToken,
    Principal,
    Proof,
    Rule,
    Scheme,
    acheck,
    aguarded,
    bound_to_certificate,
    choose,
    combine,
    guarded,
)
from authcore.authn.sessions import AsyncSessionIssuer, SessionIssuer, SessionTokens
from authcore.clock import as_datetime, as_unix
from authcore.errors import (
    ConfigurationError,
    InsufficientScope,
    InvalidClaim,
    NameMismatch,
)
from authcore.jose.keyring import KeyRing

if TYPE_CHECKING:
    import datetime as dt

    from cryptography import x509

    from authcore.apikeys import KeyManager
    from authcore.http import Request
    from authcore.mtls import ClientIdentity

__all__ = [
    "APIKey",
    "AsyncAuthenticator",
    "AsyncSessionIssuer",
    "Authenticator",
    "BearerJWT",
    "ExchangedToken",
    "MutualTLS",
    "OAuthAccessToken",
    "Principal",
    "Proof",
    "Scheme",
    "SessionIssuer",
    "SessionTokens",
    "api_key_and_jwt",
    "exchange_api_key",
    "mtls_and_api_key",
    "mtls_and_jwt",
]

_MAX_LIFETIME = 3600
"""The longest life of a JWT obtained for an API key, seconds."""


class _Base:
    """Configuration shared by the sync and async authenticators."""

    def __init__(
        self,
        schemes: Sequence[Scheme],
        *,
        all_of: bool = False,
        rule: Callable[[Sequence[Proof]], None] | None = None,
    ) -> None:
        given: object = schemes
        items = list(schemes) if isinstance(given, Iterable) else []
        if not items or not all(hasattr(s, "check") and hasattr(s, "present") for s in items):
            raise ConfigurationError("schemes must be a non-empty list of authcore.authn schemes")
        if all_of and len(items) < 2:  # noqa: PLR2004 - a pairing
            raise ConfigurationError("a pairing needs two schemes or more")
        if rule is not None and not callable(rule):
            raise ConfigurationError("rule must be callable (it receives the proofs)")
        self.schemes: tuple[Scheme, ...] = tuple(items)
        self.all_of: bool = bool_option(all_of, "all_of")
        self.rule = rule

    def __repr__(self) -> str:
        kind = "all of" if self.all_of else "any of"
        return f"{type(self).__name__}({kind} {', '.join(s.name for s in self.schemes)})"


def _required(scopes: Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        raise ConfigurationError("scopes must be a list of scope names, not a string")
    return frozenset(strings_option(scopes, "scopes", empty=True))


class Authenticator(_Base):
    """Authenticate requests by any one scheme (or, built by a pairing, by all of them).

    Args:
        schemes: The schemes, in the order their credentials are looked for.

    Raises:
        ConfigurationError: On an empty or invalid scheme list.

    .. versionadded:: 0.1.0
    """

    def authenticate(
        self,
        request: Request,
        *,
        scopes: Iterable[str] = (),
        certificate: x509.Certificate | ClientIdentity | None = None,
    ) -> Principal:
        """Authenticate ``request``; every scope in ``scopes`` must be granted.

        Args:
            request: The request.
            scopes: Scopes this request needs.
            certificate: The client certificate the TLS layer verified (or received), for
                :class:`MutualTLS` and certificate-bound tokens.

        Raises:
            AuthenticationFailed: 401 (no or bad credentials, a broken pairing rule) or 403
                (a scope missing), with ``challenges``.
            RateLimited: An API key's rate limit refused (429).
            StoreError: A store failed (503; the request is not accepted).
        """
        needed = _required(scopes)
        chosen = choose(self.schemes, request, certificate, all_of=self.all_of)
        proofs = [
            guarded(self.schemes, lambda s=s: s.check(request, certificate))  # type: ignore[misc]
            for s in chosen
        ]
        return combine(proofs, self.rule, needed, self.schemes)


class AsyncAuthenticator(_Base):
    """The ``async`` twin of :class:`Authenticator` (same schemes, same decisions).

    An :class:`OAuthAccessToken` over an
    :class:`~authcore.oauth.resource.AsyncResourceServer` is awaited; API key checks run in
    a worker thread (a SQLite store blocks).

    .. versionadded:: 0.1.0
    """

    async def authenticate(
        self,
        request: Request,
        *,
        scopes: Iterable[str] = (),
        certificate: x509.Certificate | ClientIdentity | None = None,
    ) -> Principal:
        """Authenticate ``request`` (see :meth:`Authenticator.authenticate`)."""
        needed = _required(scopes)
        chosen = choose(self.schemes, request, certificate, all_of=self.all_of)
        proofs = [
            await aguarded(self.schemes, lambda s=s: acheck(s, request, certificate))  # type: ignore[misc]
            for s in chosen
        ]
        return combine(proofs, self.rule, needed, self.schemes)


# ----------------------------------------------------------------------------- pairings


def _owner_rule(claims_names: tuple[str, ...]) -> Rule:
    def rule(proofs: Sequence[Proof]) -> None:
        key = next(p for p in proofs if p.key is not None)
        token = next(p for p in proofs if p.key is None)
        named = next(
            (v for n in claims_names if isinstance(v := token.claims.get(n), str) and v), None
        )
        if named != key.application:
            claim = claims_names[0]
            raise InvalidClaim(
                f"the token's {'/'.join(claims_names)} is not the API key's owner", claim=claim
            )

    return rule


def _registered_for_certificate(metadata_name: str) -> Rule:
    def rule(proofs: Sequence[Proof]) -> None:
        identity = next(p.identity for p in proofs if p.identity is not None)
        key = next(p.key for p in proofs if p.key is not None)
        registered = key.metadata.get(metadata_name)
        names = {identity.subject_text}
        if identity.spiffe_id is not None:
            names.add(str(identity.spiffe_id))
        if registered is None or registered not in names:
            raise NameMismatch("the API key is not registered for this certificate's identity")

    return rule


@overload
def api_key_and_jwt(
    api_key: APIKey,
    jwt: BearerJWT,
    *,
    owner_claims: tuple[str, ...] | None = ...,
    asynchronous: Literal[False] = False,
) -> Authenticator: ...


@overload
def api_key_and_jwt(
    api_key: APIKey,
    jwt: BearerJWT,
    *,
    owner_claims: tuple[str, ...] | None = ...,
    asynchronous: Literal[True],
) -> AsyncAuthenticator: ...


def api_key_and_jwt(
    api_key: APIKey,
    jwt: BearerJWT,
    *,
    owner_claims: tuple[str, ...] | None = ("azp", "client_id"),
    asynchronous: bool = False,
) -> Authenticator | AsyncAuthenticator:
    """API key + JWT: the key names the application, the JWT the user; both are required.

    The JWT's first present ``owner_claims`` claim must equal the key's owner (``None``: no
    such rule).  The granted scopes are those both grant.

    .. versionadded:: 0.1.0
    """
    if api_key.header.lower() == "authorization":
        raise ConfigurationError("the API key needs its own header: Authorization carries the JWT")
    rule = _owner_rule(owner_claims) if owner_claims else None
    cls = AsyncAuthenticator if bool_option(asynchronous, "asynchronous") else Authenticator
    # In a pairing the Authorization header carries the JWT: the key comes from its header.
    header_only = APIKey(api_key.manager, header=api_key.header, bearer=False, realm=api_key.realm)
    return cls([header_only, jwt], all_of=True, rule=rule)


@overload
def mtls_and_jwt(
    mtls: MutualTLS, jwt: BearerJWT | OAuthAccessToken, *, asynchronous: Literal[False] = False
) -> Authenticator: ...


@overload
def mtls_and_jwt(
    mtls: MutualTLS, jwt: BearerJWT | OAuthAccessToken, *, asynchronous: Literal[True]
) -> AsyncAuthenticator: ...


def mtls_and_jwt(
    mtls: MutualTLS, jwt: BearerJWT | OAuthAccessToken, *, asynchronous: bool = False
) -> Authenticator | AsyncAuthenticator:
    """MTLS + JWT: the token must be bound to the presented certificate (``cnf.x5t#S256``).

    .. versionadded:: 0.1.0
    """
    cls = AsyncAuthenticator if bool_option(asynchronous, "asynchronous") else Authenticator
    return cls([mtls, jwt], all_of=True, rule=bound_to_certificate)


@overload
def mtls_and_api_key(
    mtls: MutualTLS,
    api_key: APIKey,
    *,
    metadata_name: str = ...,
    asynchronous: Literal[False] = False,
) -> Authenticator: ...


@overload
def mtls_and_api_key(
    mtls: MutualTLS,
    api_key: APIKey,
    *,
    metadata_name: str = ...,
    asynchronous: Literal[True],
) -> AsyncAuthenticator: ...


def mtls_and_api_key(
    mtls: MutualTLS,
    api_key: APIKey,
    *,
    metadata_name: str = "mtls_identity",
    asynchronous: bool = False,
) -> Authenticator | AsyncAuthenticator:
    """MTLS + API key: the key must be registered for the certificate's identity.

    Register a key for a workload by creating it with ``metadata={"mtls_identity":
    "spiffe://example.org/ns/prod/sa/api"}`` (or the certificate's RFC 4514 subject).

    .. versionadded:: 0.1.0
    """
    cls = AsyncAuthenticator if bool_option(asynchronous, "asynchronous") else Authenticator
    return cls([mtls, api_key], all_of=True, rule=_registered_for_certificate(metadata_name))


# ----------------------------------------------------------------------------- exchange


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangedToken:
    """A short-lived JWT obtained for an API key.

    Attributes:
        token: The JWT.
        expires_at: Its ``exp``, UNIX seconds.
        scopes: The scopes it carries.

    .. versionadded:: 0.1.0
    """

    token: str
    expires_at: int
    scopes: frozenset[str]


def exchange_api_key(
    manager: KeyManager,
    api_key: str,
    *,
    keys: KeyRing,
    issuer: str,
    audience: str,
    scopes: Iterable[str] | None = None,
    lifetime: int = 300,
    now: dt.datetime | float | None = None,
) -> ExchangedToken:
    """Trade a long-lived API key for a short-lived JWT (``typ: at+jwt``).

    The JWT names the key's owner as ``sub`` and ``azp``, carries ``key_id``, and grants the
    key's scopes narrowed to ``scopes`` (all of the key's when ``None``).

    Raises:
        InvalidCredentials, MalformedKey, Expired, Revoked, ...: The key is refused.
        InsufficientScope: ``scopes`` asks for a scope the key does not have.
        ConfigurationError: On a bad lifetime.

    .. versionadded:: 0.1.0
    """
    int_option(lifetime, "lifetime", high=_MAX_LIFETIME)
    if not isinstance(cast("object", keys), KeyRing):
        raise ConfigurationError("keys must be an authcore.jose.keyring.KeyRing")
    str_option(issuer, "issuer")
    str_option(audience, "audience")
    record = manager.verify(api_key)
    wanted = record.scopes if scopes is None else _required(scopes)
    missing = wanted - record.scopes
    if missing:
        raise InsufficientScope(missing=tuple(missing))
    t = as_unix(now)
    issued = int(t)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": record.owner,
        "azp": record.owner,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(16),
        "key_id": record.key_id,
    }
    if wanted:
        claims["scope"] = " ".join(sorted(wanted))
    token = keys.sign_jwt(claims, headers={"typ": "at+jwt"}, now=as_datetime(t))
    return ExchangedToken(token=token, expires_at=issued + lifetime, scopes=frozenset(wanted))
