"""Schemes, the principal, and the decisions both authenticators share.

A *scheme* finds its credentials in a request (``present``) and verifies them (``check``),
returning a :class:`Proof`; an authenticator chooses which schemes must prove the request
(any one of them, or all of a named pairing), applies the pairing's consistency rule and the
required scopes, and returns a :class:`Principal` or raises
:class:`~authcore.errors.AuthenticationFailed` with the challenges to answer.  The choice, the
rules and the errors are pure functions here; only the checks differ between the sync and the
async authenticator.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from cryptography import x509

from authcore._options import bool_option
from authcore.errors import (
    AuthcoreError,
    AuthenticationFailed,
    BindingMismatch,
    ConfigurationError,
    InsufficientScope,
    InsufficientTokenScope,
    InvalidDPoPProof,
    InvalidToken,
    MalformedError,
    MalformedHeader,
    RateLimited,
    StoreError,
    UseDPoPNonce,
    VerificationError,
)
from authcore.http import Headers
from authcore.mtls import (
    ClientIdentity,
    TrustStore,
    chain_from_headers,
    check_binding,
    verify_client,
)

if TYPE_CHECKING:
    from authcore.apikeys import KeyManager, KeyRecord
    from authcore.http import Request
    from authcore.jose import JWTVerifier
    from authcore.oauth.resource import AsyncResourceServer, ResourceServer

__all__ = [
    "APIKey",
    "BearerJWT",
    "MutualTLS",
    "OAuthAccessToken",
    "Principal",
    "Proof",
    "Scheme",
]

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_PASSTHROUGH: Final = (RateLimited, StoreError)
"""Refusals that are not authentication failures: a 429 and a 503 keep their own type."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Proof:
    """What one scheme established about a request.

    Attributes:
        method: The scheme's name (``"api_key"``, ``"jwt"``, ``"oauth"``, ``"dpop"``,
            ``"mtls"``).
        application: The calling application (API key owner, ``azp``/``client_id``, or the
            certificate's SPIFFE ID or subject).
        subject: The user (``sub``), if the credential names one.
        scopes: The scopes the credential grants.
        claims: The token's claims (read-only), if any.
        identity: The verified client certificate identity, if any.
        key: The API key's record, if any.

    .. versionadded:: 0.1.0
    """

    method: str
    application: str | None = None
    subject: str | None = None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False)
    identity: ClientIdentity | None = field(default=None, repr=False)
    key: KeyRecord | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who made an authenticated request.

    Attributes:
        application: The calling application, if known.
        subject: The user, if a credential names one.
        scopes: The scopes granted (in a pairing, those every credential grants).
        methods: The schemes that proved it, in order.
        claims: The token's claims (read-only), if a token was presented.
        identity: The verified client certificate identity, if mTLS proved it.
        key: The API key's record, if a key proved it.

    .. versionadded:: 0.1.0
    """

    application: str | None
    subject: str | None
    scopes: frozenset[str]
    methods: tuple[str, ...]
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False)
    identity: ClientIdentity | None = field(default=None, repr=False)
    key: KeyRecord | None = field(default=None, repr=False)


class Scheme(Protocol):
    """One way a request proves who sent it.

    .. versionadded:: 0.1.0
    """

    name: str

    def present(self, request: Request, certificate: object) -> bool:
        """Whether the request carries this scheme's credentials (nothing verified yet)."""
        ...

    def check(self, request: Request, certificate: object) -> Proof:
        """Verify the credentials; raise a :class:`~authcore.errors.VerificationError`."""
        ...

    def challenge(self, error: str | None, description: str | None, scope: str | None) -> str:
        """The ``WWW-Authenticate`` value for a refusal (``error`` ``None``: no credentials)."""
        ...


def _quoted(value: str) -> str:
    # RFC 9110 quoted-string: no quote, backslash or control characters inside.
    cleaned = "".join(c for c in value[:200] if c.isprintable() and c not in '"\\')
    return f'"{cleaned}"'


def _challenge(scheme: str, realm: str | None, **params: str | None) -> str:
    parts = [f"realm={_quoted(realm)}"] if realm else []
    parts += [f"{k}={_quoted(v)}" for k, v in params.items() if v]
    return scheme + (" " + ", ".join(parts) if parts else "")


def _bearer_token(request: Request) -> str | None:
    try:
        authorization = request.authorization()
    except MalformedError:
        return None
    if authorization is None or authorization.scheme != "bearer":
        return None
    return authorization.credentials or None


def _scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return frozenset()


def _text(claims: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


# ----------------------------------------------------------------------------- schemes


class APIKey:
    """API keys: the ``X-API-Key`` header, or a Bearer token that starts with the key prefix.

    A Bearer value is taken as an API key only when it starts with the manager's prefix
    (``sk_live_...``), so an API key never reaches a JWT verifier and a JWT never reaches
    the key store.

    Args:
        manager: The :class:`~authcore.apikeys.KeyManager` that verifies keys.
        header: The header carrying the key.
        bearer: Also accept ``Authorization: Bearer <key>``.
        realm: The realm named in challenges.

    .. versionadded:: 0.1.0
    """

    name = "api_key"

    def __init__(
        self,
        manager: KeyManager,
        *,
        header: str = "X-API-Key",
        bearer: bool = True,
        realm: str | None = None,
    ) -> None:
        if not hasattr(manager, "verify") or not hasattr(manager, "prefix"):
            raise ConfigurationError("manager must be an authcore.apikeys.KeyManager")
        try:
            Headers([(header, "")])  # the one field-name rule (an RFC 9110 token)
        except MalformedHeader:
            raise ConfigurationError(
                "header must be an HTTP header name (such as X-API-Key)"
            ) from None
        self.manager = manager
        self.header = header
        self.bearer: bool = bool_option(bearer, "bearer")
        self.realm = realm
        self._bearer_prefix = manager.prefix + "_"

    def _token(self, request: Request) -> str | None:
        values = request.headers.get_all(self.header)
        if values:
            return values[0] if len(values) == 1 else ""
        if self.bearer:
            token = _bearer_token(request)
            if token is not None and token.startswith(self._bearer_prefix):
                return token
        return None

    def present(self, request: Request, certificate: object) -> bool:
        """Whether the header (or a prefixed Bearer token) is there."""
        del certificate
        return self._token(request) is not None

    def check(self, request: Request, certificate: object) -> Proof:
        """Verify the key with the manager."""
        del certificate
        token = self._token(request)
        if not token:
            raise AuthenticationFailed(f"{self.header} repeated or empty", error="invalid_token")
        record = self.manager.verify(token)
        return Proof(method=self.name, application=record.owner, scopes=record.scopes, key=record)

    def challenge(self, error: str | None, description: str | None, scope: str | None) -> str:
        """``APIKey header="X-API-Key"`` (a scheme of this library; no RFC names one)."""
        return _challenge(
            "APIKey",
            self.realm,
            header=self.header,
            error=error,
            error_description=description,
            scope=scope,
        )


class BearerJWT:
    """A JWT in ``Authorization: Bearer``, verified by a :class:`~authcore.jose.JWTVerifier`.

    Only compact JWS values (two dots) are taken, so opaque tokens and API keys are left to
    the schemes they belong to.  Scopes come from ``scope`` (space-separated) or ``scp`` (a
    list); the application from ``azp`` or ``client_id``.

    Args:
        verifier: The configured verifier (algorithms, issuer, audience, ...).
        realm: The realm named in challenges.

    .. versionadded:: 0.1.0
    """

    name = "jwt"

    def __init__(self, verifier: JWTVerifier, *, realm: str | None = None) -> None:
        if not hasattr(verifier, "verify"):
            raise ConfigurationError("verifier must be an authcore.jose.JWTVerifier")
        self.verifier = verifier
        self.realm = realm

    def present(self, request: Request, certificate: object) -> bool:
        """Whether a Bearer value shaped like a JWT is there."""
        del certificate
        token = _bearer_token(request)
        return token is not None and token.count(".") == 2  # noqa: PLR2004 - compact JWS

    def check(self, request: Request, certificate: object) -> Proof:
        """Verify the token."""
        del certificate
        return self._proof(self.verifier.verify(_bearer_token(request) or ""))

    async def acheck(self, request: Request, certificate: object) -> Proof:
        """Verify the token from async code (the verifier's denylist may be async)."""
        del certificate
        token = _bearer_token(request) or ""
        averify = getattr(self.verifier, "averify", None)  # a JWTVerifier has it
        return self._proof(await averify(token) if averify else self.verifier.verify(token))

    def _proof(self, claims: Mapping[str, Any]) -> Proof:
        return Proof(
            method=self.name,
            application=_text(claims, "azp", "client_id"),
            subject=_text(claims, "sub"),
            scopes=_scopes_of(claims),
            claims=MappingProxyType(dict(claims)),
        )

    def challenge(self, error: str | None, description: str | None, scope: str | None) -> str:
        """An RFC 6750 section 3 ``Bearer`` challenge."""
        return _challenge(
            "Bearer", self.realm, error=error, error_description=description, scope=scope
        )


class OAuthAccessToken:
    """OAuth access tokens (Bearer and DPoP) through a resource server.

    The :class:`~authcore.oauth.resource.ResourceServer` (or its async twin) verifies JWT or
    introspected tokens, DPoP proofs and certificate binding, and supplies the exact RFC 6750
    and RFC 9449 challenges.

    .. versionadded:: 0.1.0
    """

    name = "oauth"

    def __init__(self, resource_server: ResourceServer | AsyncResourceServer) -> None:
        if not hasattr(resource_server, "authenticate"):
            raise ConfigurationError("resource_server must be an authcore ResourceServer")
        self.resource_server = resource_server

    def present(self, request: Request, certificate: object) -> bool:
        """Whether ``Authorization`` names Bearer or DPoP."""
        del certificate
        try:
            authorization = request.authorization()
        except MalformedError:
            return True  # let the resource server explain the malformed header
        return authorization is not None and authorization.scheme in {"bearer", "dpop"}

    def _proof(self, info: Any) -> Proof:  # noqa: ANN401 - AccessTokenInfo
        return Proof(
            method="dpop" if info.scheme == "DPoP" else self.name,
            application=info.client_id,
            subject=info.subject,
            scopes=frozenset(info.scope),
            claims=info.claims,
        )

    def check(self, request: Request, certificate: object) -> Proof:
        """Authenticate through the resource server."""
        result = self.resource_server.authenticate(request, certificate=_certificate(certificate))
        if inspect.isawaitable(result):
            cast("Any", result).close()
            raise ConfigurationError("an AsyncResourceServer needs the AsyncAuthenticator")
        return self._proof(result)

    async def acheck(self, request: Request, certificate: object) -> Proof:
        """Authenticate through the resource server (awaited when it is async)."""
        result = self.resource_server.authenticate(request, certificate=_certificate(certificate))
        if inspect.isawaitable(result):
            result = await cast("Awaitable[Any]", result)
        return self._proof(result)

    def challenge(self, error: str | None, description: str | None, scope: str | None) -> str:
        """A ``Bearer`` challenge (the resource server's own are used when it refuses)."""
        return _challenge("Bearer", None, error=error, error_description=description, scope=scope)


def _certificate(value: object) -> x509.Certificate | ClientIdentity | None:
    if value is None or isinstance(value, (x509.Certificate, ClientIdentity)):
        return value
    raise ConfigurationError("certificate must be an x509.Certificate or a ClientIdentity")


class MutualTLS:
    """A client certificate: from the TLS layer, or from a trusted proxy's header.

    Pass the certificate your TLS layer verified as ``certificate=`` to ``authenticate`` (a
    :class:`~authcore.mtls.ClientIdentity` is used as is; an ``x509.Certificate`` is verified
    against ``trust``).  Behind a TLS-terminating proxy, name its header in ``proxy_header``
    (Envoy's ``X-Forwarded-Client-Cert`` or nginx's escaped PEM): only do so when the proxy
    removes that header from client requests, or any client can claim any certificate.

    The application is the SPIFFE ID when the certificate carries one, else the subject.

    Args:
        trust: Trust anchors for certificates that are not already verified identities.
        proxy_header: The trusted proxy's header (``None``: certificates come only from the
            TLS layer).
        revocation: A CRL or OCSP checker for :func:`~authcore.mtls.verify_client`.

    .. versionadded:: 0.1.0
    """

    name = "mtls"

    def __init__(
        self,
        *,
        trust: TrustStore | None = None,
        proxy_header: str | None = None,
        revocation: Any = None,  # noqa: ANN401 - a RevocationChecker
    ) -> None:
        if trust is not None and not isinstance(trust, TrustStore):
            raise ConfigurationError("trust must be an authcore.mtls.TrustStore")
        if proxy_header is not None and trust is None:
            raise ConfigurationError("proxy_header needs trust= to verify what the proxy sends")
        self.trust = trust
        self.proxy_header = proxy_header
        self.revocation = revocation

    def present(self, request: Request, certificate: object) -> bool:
        """Whether a certificate was given or the trusted proxy header is there."""
        if certificate is not None:
            return True
        return self.proxy_header is not None and bool(request.headers.get_all(self.proxy_header))

    def check(self, request: Request, certificate: object) -> Proof:
        """Verify the chain (unless the TLS layer passed a verified identity)."""
        given = _certificate(certificate)
        if isinstance(given, ClientIdentity):
            identity = given
        else:
            if self.trust is None:
                raise ConfigurationError("an unverified certificate needs MutualTLS(trust=...)")
            if given is not None:
                chain: Any = given
            else:
                chain = chain_from_headers(
                    request.headers, trust_forwarded=True, header=str(self.proxy_header)
                )
            identity = verify_client(chain, trust=self.trust, revocation=self.revocation)
        application = str(identity.spiffe_id) if identity.spiffe_id else identity.subject_text
        return Proof(method=self.name, application=application, identity=identity)

    def challenge(self, error: str | None, description: str | None, scope: str | None) -> str:
        """``mTLS`` (informative: a certificate is asked for in the TLS handshake)."""
        return _challenge("mTLS", None, error=error, error_description=description, scope=scope)


# ----------------------------------------------------------------------------- decisions


Rule = Callable[[Sequence[Proof]], None]
"""A pairing's consistency rule: raise a :class:`~authcore.errors.VerificationError`."""


def failure(
    schemes: Sequence[Scheme], exc: AuthcoreError, *, scope: str | None = None
) -> AuthenticationFailed:
    """The refusal for ``exc``, with the challenges the refused schemes ask for."""
    if isinstance(exc, AuthenticationFailed):
        return exc
    own = getattr(exc, "challenges", ())
    if isinstance(exc, (InsufficientScope, InsufficientTokenScope)):
        missing = exc.missing
        needed = scope or " ".join(missing)
        challenges = own or tuple(
            s.challenge("insufficient_scope", "a required scope is missing", needed)
            for s in schemes
        )
        return AuthenticationFailed(
            exc.reason,
            status=403,
            challenges=tuple(challenges),
            error="insufficient_scope",
            missing=missing,
        )
    reason = exc.reason if isinstance(exc, VerificationError) else str(exc)
    if isinstance(exc, (InvalidToken, InvalidDPoPProof, UseDPoPNonce)) and own:
        return AuthenticationFailed(reason, challenges=tuple(own), error="invalid_token")
    description = f"{exc.message}" if isinstance(exc, VerificationError) else "refused"
    challenges = tuple(s.challenge("invalid_token", description, scope) for s in schemes)
    return AuthenticationFailed(reason, challenges=challenges, error="invalid_token")


def missing_credentials(
    schemes: Sequence[Scheme], needed: Sequence[Scheme]
) -> AuthenticationFailed:
    """The refusal of a request without (all) the credentials: every scheme's bare challenge."""
    names = ", ".join(s.name for s in needed)
    return AuthenticationFailed(
        f"no credentials for: {names}",
        challenges=tuple(s.challenge(None, None, None) for s in schemes),
    )


def choose(
    schemes: Sequence[Scheme], request: Request, certificate: object, *, all_of: bool
) -> list[Scheme]:
    """The schemes that must check this request (the first present one, or all of them).

    Raises:
        AuthenticationFailed: No credentials (any-of), or one missing (all-of).
    """
    present = [s for s in schemes if s.present(request, certificate)]
    if all_of:
        absent = [s for s in schemes if s not in present]
        if absent:
            raise missing_credentials(schemes, absent)
        return list(schemes)
    if not present:
        raise missing_credentials(schemes, schemes)
    return present[:1]


def combine(
    proofs: Sequence[Proof], rule: Rule | None, scopes: frozenset[str], schemes: Sequence[Scheme]
) -> Principal:
    """Apply the pairing's rule and the required scopes; build the principal.

    In a pairing the granted scopes are those every credential grants (a credential without
    scopes, such as a certificate, does not narrow them).

    Raises:
        AuthenticationFailed: The rule refused (401) or a scope is missing (403).
    """
    if rule is not None:
        try:
            rule(proofs)
        except VerificationError as exc:
            raise failure(schemes, exc) from exc
    scoped = [p.scopes for p in proofs if p.method != "mtls"]
    granted = frozenset.intersection(*scoped) if scoped else frozenset()
    missing = scopes - granted
    if missing:
        lacking = InsufficientScope(missing=tuple(missing))
        raise failure(schemes, lacking, scope=" ".join(sorted(scopes))) from lacking
    claims = next((p.claims for p in proofs if p.claims), _EMPTY)
    # The application: an API key's owner, else the certificate's identity, else the token's.
    ranked = sorted(proofs, key=lambda p: 0 if p.key else 1 if p.method == "mtls" else 2)
    return Principal(
        application=next((p.application for p in ranked if p.application), None),
        subject=next((p.subject for p in proofs if p.subject), None),
        scopes=granted,
        methods=tuple(p.method for p in proofs),
        claims=claims,
        identity=next((p.identity for p in proofs if p.identity), None),
        key=next((p.key for p in proofs if p.key), None),
    )


def guarded(schemes: Sequence[Scheme], check: Callable[[], Proof]) -> Proof:
    """Run one check, turning its refusal into :class:`AuthenticationFailed` (429/503 pass)."""
    try:
        return check()
    except _PASSTHROUGH:
        raise
    except (VerificationError, BindingMismatch) as exc:
        raise failure(schemes, exc) from exc


async def aguarded(schemes: Sequence[Scheme], check: Callable[[], Awaitable[Proof]]) -> Proof:
    """:func:`guarded` for an awaited check."""
    try:
        return await check()
    except _PASSTHROUGH:
        raise
    except (VerificationError, BindingMismatch) as exc:
        raise failure(schemes, exc) from exc


async def acheck(scheme: Scheme, request: Request, certificate: object) -> Proof:
    """Check with ``scheme`` from async code: its own ``acheck``, or the sync check.

    An API key check may read a SQLite store, so it runs in a worker thread; the others are
    CPU work that would not gain from one.
    """
    own = getattr(scheme, "acheck", None)
    if own is not None:
        return cast("Proof", await own(request, certificate))
    if isinstance(scheme, APIKey):
        return await asyncio.to_thread(scheme.check, request, certificate)
    return scheme.check(request, certificate)


def bound_to_certificate(proofs: Sequence[Proof]) -> None:
    """MTLS + JWT: the token's ``cnf.x5t#S256`` names the presented certificate (RFC 8705)."""
    identity = next(p.identity for p in proofs if p.identity is not None)
    token = next(p for p in proofs if p.method != "mtls")
    check_binding(cast("Mapping[str, object]", token.claims.get("cnf", {})), identity)
