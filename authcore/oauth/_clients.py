"""Client registration records (RFC 7591 names) and client authentication (RFC 6749 2.3).

Methods (RFC 8414 ``token_endpoint_auth_methods_supported`` names):

* ``client_secret_basic`` (RFC 6749 section 2.3.1): Basic credentials, form-urlencoded
  before base64, so both parts are URL-decoded (Appendix B).  A failure answers 401 with
  ``WWW-Authenticate: Basic`` (section 5.2).
* ``client_secret_post``: ``client_id`` and ``client_secret`` in the form body.
* ``client_secret_jwt`` and ``private_key_jwt`` (RFC 7523 sections 2.2 and 3): ``iss`` =
  ``sub`` = ``client_id``, ``aud`` names the token endpoint or the issuer, ``exp`` in the
  future and at most :data:`MAX_ASSERTION_LIFETIME` away, a ``jti`` that is recorded until
  ``exp`` and refused when seen again, and an algorithm allow-list (HMAC only for
  ``client_secret_jwt``, never for ``private_key_jwt``).
* ``tls_client_auth`` and ``self_signed_tls_client_auth`` (RFC 8705 section 2): the
  certificate the TLS layer saw, matched against the registered name or JWKS.
* ``none``: public clients, which send only ``client_id``.

A request may use exactly one method (section 2.3), and only the one its client registered.
Secrets are stored as digests and compared in constant time; the one exception is the
``client_secret_jwt`` key, which the server needs as an HMAC key (RFC 7523 section 2.2).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, cast

from cryptography.hazmat.primitives import serialization

from authcore._ct import bytes_eq
from authcore._options import bool_problem, is_choice, strings_problem
from authcore.clock import as_datetime
from authcore.errors import (
    AuthcoreError,
    ConfigurationError,
    InvalidClient,
    InvalidRequest,
    MalformedError,
    VerificationError,
)
from authcore.http import parse_basic, split_url
from authcore.jose import JWK, PRIVATE_MEMBERS, KeySet, jwt
from authcore.mtls import ClientIdentity, TlsClientAuth, thumbprint
from authcore.oauth._model import digest

if TYPE_CHECKING:
    from cryptography import x509

    from authcore.http import Request

__all__ = [
    "ASSERTION_TYPE",
    "AUTH_METHODS",
    "MAX_ASSERTION_LIFETIME",
    "MIN_SECRET_LENGTH",
    "AuthenticatedClient",
    "ClientRecord",
    "authenticate_client",
    "generate_client_secret",
]

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHODS: Final = (
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
    "none",
)
MIN_SECRET_LENGTH: Final = 32
"""The shortest client secret accepted: it is stored as an unsalted SHA-256 digest, which is
safe only for high-entropy values (:func:`generate_client_secret` gives 43 characters)."""
MAX_ASSERTION_LIFETIME: Final = 3600
"""The furthest in the future a client assertion's ``exp`` may be, in seconds.

An hour, as Okta allows and as Authlib's ``PrivateKeyJWT`` and ``ClientSecretJWT`` send by
default; the ``jti`` is remembered that long (a shorter bound refused the most common
Python client)."""

_PRIVATE_KEY_ALGS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_SECRET_ALGS: Final = frozenset({"HS256", "HS384", "HS512"})
_GRANT_TYPES: Final = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    }
)


def generate_client_secret() -> str:
    """Return a new client secret: 256 random bits, base64url (43 characters)."""
    return secrets.token_urlsafe(32)


def check_redirect_uri(uri: str, *, native: bool) -> str:
    """Check a registered redirect URI (RFC 6749 section 3.1.2, RFC 8252 section 7).

    Raises:
        ConfigurationError: On a relative URI, a fragment, user info, or plain ``http`` to a
            host other than a loopback address.
    """
    try:
        parts = split_url(uri)
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"redirect URI {uri[:80]!r} is malformed") from None
    del port
    if not parts.scheme or ("#" in uri) or "@" in parts.netloc:
        raise ConfigurationError(f"redirect URI {uri[:80]!r}: absolute, no fragment, no userinfo")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(f"redirect URI {uri[:80]!r}: http only for loopback")
    if parts.scheme not in {"http", "https"} and not native:
        raise ConfigurationError(f"redirect URI {uri[:80]!r}: custom schemes are for native apps")
    return uri


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is an IP loopback literal (RFC 8252 section 7.3; not ``localhost``)."""
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientRecord:
    """A registered client, with RFC 7591 metadata names.

    Build one with :meth:`from_metadata`, which hashes ``client_secret``.

    Attributes:
        client_id: The client identifier.
        client_secret_digest: The stored digest of the secret (``None`` without one).
        redirect_uris: Registered redirect URIs, compared exactly.
        grant_types: Grant types the client may use.
        response_types: Response types the client may use (only ``code`` exists).
        scope: Scopes the client may request.
        token_endpoint_auth_method: Its one authentication method (:data:`AUTH_METHODS`).
        token_endpoint_auth_signing_alg: The assertion algorithm it must use, if pinned.
        jwks: Its public keys (``private_key_jwt``, ``self_signed_tls_client_auth``).
        jwks_uri: Where its keys are published (kept; not fetched by the server).
        tls_client_auth: The certificate name expected for ``tls_client_auth``.
        application_type: ``"web"`` or ``"native"`` (native: loopback ports may vary).
        client_secret_jwt_key: The HMAC key for ``client_secret_jwt`` (kept, not hashed).
        dpop_bound_access_tokens: Every token request must carry a DPoP proof (RFC 9449
            section 5.2).

    .. versionadded:: 0.1.0
    """

    client_id: str
    client_secret_digest: str | None = field(default=None, repr=False)
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code",)
    response_types: tuple[str, ...] = ("code",)
    scope: tuple[str, ...] = ()
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 - a method name
    token_endpoint_auth_signing_alg: str | None = None
    jwks: KeySet | None = None
    jwks_uri: str | None = None
    tls_client_auth: TlsClientAuth | None = None
    application_type: str = "web"
    client_secret_jwt_key: JWK | None = field(default=None, repr=False)
    dpop_bound_access_tokens: bool = False

    def __post_init__(self) -> None:
        problems = [
            problem
            for problem in (
                bool_problem(self.dpop_bound_access_tokens, "dpop_bound_access_tokens"),
                *(
                    strings_problem(getattr(self, name), name)
                    for name in ("redirect_uris", "grant_types", "response_types", "scope")
                ),
            )
            if problem is not None
        ]
        typed: tuple[tuple[str, type], ...] = (
            ("client_secret_digest", str),
            ("token_endpoint_auth_signing_alg", str),
            ("jwks", KeySet),
            ("jwks_uri", str),
            ("tls_client_auth", TlsClientAuth),
            ("client_secret_jwt_key", JWK),
        )
        problems.extend(
            f"{name} must be a {kind.__name__} or None"
            for name, kind in typed
            if not isinstance(getattr(self, name), (kind, type(None)))
        )
        if problems:  # the checks below iterate these tuples
            raise ConfigurationError(errors=tuple(problems))
        if not isinstance(cast("object", self.client_id), str) or not self.client_id:
            problems.append("client_id must be a non-empty string")
        if not is_choice(self.token_endpoint_auth_method, AUTH_METHODS):
            problems.append("unknown token_endpoint_auth_method")
        if not is_choice(self.application_type, ("web", "native")):
            problems.append("application_type must be web or native")
        if self.response_types not in {(), ("code",)}:
            problems.append("only the code response type exists")
        problems.extend(
            f"unknown grant type {g!r}" for g in self.grant_types if g not in _GRANT_TYPES
        )
        for uri in self.redirect_uris:
            try:
                check_redirect_uri(uri, native=self.application_type == "native")
            except ConfigurationError as exc:  # noqa: PERF203 - aggregate every problem
                problems.append(str(exc.detail))
        problems.extend(self._credential_problems())
        if problems:
            raise ConfigurationError(errors=tuple(problems))

    def _credential_problems(self) -> list[str]:
        problems: list[str] = []
        method = self.token_endpoint_auth_method
        needs = {
            "client_secret_basic": self.client_secret_digest,
            "client_secret_post": self.client_secret_digest,
            "client_secret_jwt": self.client_secret_jwt_key,
            "private_key_jwt": self.jwks,
            "self_signed_tls_client_auth": self.jwks,
            "tls_client_auth": self.tls_client_auth,
        }
        if is_choice(method, needs) and needs[method] is None:
            problems.append(f"{method} needs its credential registered")
        if self.jwks is not None and any(key.is_private for key in self.jwks):
            # A client's keys are published metadata; a private or secret key among them
            # is a leaked credential (from_metadata refuses its members before parsing).
            problems.append("jwks must hold public keys only")
        return problems

    @property
    def is_public(self) -> bool:
        """Whether the client cannot keep a secret (``token_endpoint_auth_method`` ``none``)."""
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - a method name

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, object]) -> ClientRecord:
        """Build a record from RFC 7591 client metadata (``client_secret`` is hashed).

        Understood names: ``client_id``, ``client_secret``, ``redirect_uris``,
        ``grant_types``, ``response_types``, ``scope`` (space-separated),
        ``token_endpoint_auth_method``, ``token_endpoint_auth_signing_alg``, ``jwks``,
        ``jwks_uri``, ``application_type``, ``dpop_bound_access_tokens`` and the
        ``tls_client_auth_*`` names.

        Raises:
            ConfigurationError: Listing every problem (unknown names included).
        """
        known = {
            "client_id",
            "client_secret",
            "redirect_uris",
            "grant_types",
            "response_types",
            "scope",
            "token_endpoint_auth_method",
            "token_endpoint_auth_signing_alg",
            "jwks",
            "jwks_uri",
            "application_type",
            "client_name",
            "dpop_bound_access_tokens",
            *(n for n in _TLS_NAMES),
        }
        unknown = sorted(str(k) for k in metadata if k not in known)
        if unknown:
            raise ConfigurationError(
                errors=tuple(f"unknown client metadata {n!r}" for n in unknown)
            )
        try:
            return _from_metadata(metadata)
        except ConfigurationError:
            raise
        except (AuthcoreError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"invalid client metadata: {exc}") from None


_TLS_NAMES: Final = (
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
)


def _strings(
    metadata: Mapping[str, object], name: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    value = metadata.get(name)
    if value is None:
        return default
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{name} must be a list of strings")
    return tuple(cast("list[str]", list(value)))


def _opt_str(metadata: Mapping[str, object], name: str) -> str | None:
    value = metadata.get(name)
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string")
    return value


def _from_metadata(metadata: Mapping[str, object]) -> ClientRecord:
    method = _opt_str(metadata, "token_endpoint_auth_method") or "client_secret_basic"
    secret = _opt_str(metadata, "client_secret")
    scope = _opt_str(metadata, "scope") or ""
    jwks_value = metadata.get("jwks")
    jwks = None
    if jwks_value is not None:
        if not isinstance(jwks_value, Mapping):
            raise ConfigurationError("jwks must be a JWK Set object")
        keys = cast("Mapping[str, object]", jwks_value).get("keys")
        if isinstance(keys, list) and any(
            isinstance(k, Mapping) and not PRIVATE_MEMBERS.isdisjoint(k) for k in keys
        ):
            # A client publishes public keys; refused before any key is parsed (an RSA
            # private JWK with 'd' alone costs seconds to import).
            raise ConfigurationError("jwks must hold public keys only (no private members)")
        jwks = KeySet.from_dict(cast("Mapping[str, object]", jwks_value))
    signing_alg = _opt_str(metadata, "token_endpoint_auth_signing_alg")
    tls = None
    if method == "tls_client_auth":
        tls = TlsClientAuth.from_metadata(metadata)
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"client_secret must have at least {MIN_SECRET_LENGTH} characters "
            "(use generate_client_secret())"
        )
    hmac_key = None
    if method == "client_secret_jwt" and secret is not None:
        hmac_key = JWK.from_secret(secret.encode(), alg=signing_alg or "HS256")
    return ClientRecord(
        client_id=_opt_str(metadata, "client_id") or "",
        client_secret_digest=digest(secret) if secret is not None else None,
        redirect_uris=_strings(metadata, "redirect_uris", ()),
        grant_types=_strings(metadata, "grant_types", ("authorization_code",)),
        response_types=_strings(metadata, "response_types", ("code",)),
        scope=tuple(scope.split()),
        token_endpoint_auth_method=method,
        token_endpoint_auth_signing_alg=signing_alg,
        jwks=jwks,
        jwks_uri=_opt_str(metadata, "jwks_uri"),
        tls_client_auth=tls,
        application_type=_opt_str(metadata, "application_type") or "web",
        client_secret_jwt_key=hmac_key,
        dpop_bound_access_tokens=_flag(metadata, "dpop_bound_access_tokens"),
    )


def _flag(metadata: Mapping[str, object], name: str) -> bool:
    value = metadata.get(name, False)
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be true or false")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientAttempt:
    """How a request tried to authenticate (parsed, not yet checked)."""

    method: str
    client_id: str
    secret: str | None = field(default=None, repr=False)
    assertion: str | None = field(default=None, repr=False)
    via_header: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticatedClient:
    """A client whose authentication succeeded.

    Attributes:
        record: The client's registration.
        method: The method it used.
        assertion_jti: ``(jti, exp)`` of a client assertion, which the caller must record
            (check-and-remember) before trusting the client.
        certificate_thumbprint: ``x5t#S256`` of the TLS client certificate, when one was given.

    .. versionadded:: 0.1.0
    """

    record: ClientRecord
    method: str
    assertion_jti: tuple[str, float] | None = None
    certificate_thumbprint: str | None = None


BASIC_CHALLENGE: Final = 'Basic realm="token", charset="UTF-8"'


def parse_attempt(request: Request, form: Mapping[str, str]) -> ClientAttempt:
    """Find the one authentication method a request uses (RFC 6749 section 2.3).

    Raises:
        InvalidRequest: On two methods at once, credentials in the query string, or a
            ``client_id`` that differs between header and body.
        InvalidClient: On an unusable Authorization header (401) or no client id at all.
    """
    query = split_url(request.url).query if "?" in request.url else ""
    if any(n in query for n in ("client_secret", "client_assertion")):
        raise InvalidRequest("client credentials in the query string")
    try:
        authorization = request.authorization()
    except MalformedError:
        raise InvalidClient("unusable Authorization header", challenge=BASIC_CHALLENGE) from None
    has_secret = "client_secret" in form
    has_assertion = "client_assertion" in form or "client_assertion_type" in form
    used = sum((authorization is not None, has_secret, has_assertion))
    if used > 1:
        raise InvalidRequest("more than one client authentication method")
    if authorization is not None:
        return _basic_attempt(authorization.scheme, authorization.credentials, form)
    if has_secret:
        return ClientAttempt(
            method="client_secret_post",
            client_id=form.get("client_id", ""),
            secret=form["client_secret"],
        )
    if has_assertion:
        return _assertion_attempt(form)
    client_id = form.get("client_id", "")
    if not client_id:
        raise InvalidClient("no client authentication")
    return ClientAttempt(method="none", client_id=client_id)


def _basic_attempt(scheme: str, credentials: str, form: Mapping[str, str]) -> ClientAttempt:
    if scheme != "basic":
        raise InvalidClient("unsupported Authorization scheme", challenge=BASIC_CHALLENGE)
    try:
        basic = parse_basic(credentials, form_urlencoded=True)
    except MalformedError:
        raise InvalidClient("malformed Basic credentials", challenge=BASIC_CHALLENGE) from None
    if "client_id" in form and form["client_id"] != basic.username:
        raise InvalidRequest("client_id in the body differs from the Basic credentials")
    if not basic.username:
        raise InvalidClient("empty client_id", challenge=BASIC_CHALLENGE)
    return ClientAttempt(
        method="client_secret_basic",
        client_id=basic.username,
        secret=basic.password,
        via_header=True,
    )


def _assertion_attempt(form: Mapping[str, str]) -> ClientAttempt:
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise InvalidClient("unsupported client_assertion_type")
    assertion = form.get("client_assertion", "")
    if not assertion:
        raise InvalidClient("empty client_assertion")
    try:
        unverified = jwt.decode_unverified(assertion)
    except VerificationError:
        raise InvalidClient("malformed client_assertion") from None
    alg = unverified.header.get("alg")
    sub = unverified.claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidClient("client_assertion has no sub")
    if "client_id" in form and form["client_id"] != sub:
        raise InvalidClient("client_id differs from the assertion's sub")
    # alg is the peer's (any JSON value): the assertion's verification refuses a bad one.
    method = "client_secret_jwt" if is_choice(alg, _SECRET_ALGS) else "private_key_jwt"
    return ClientAttempt(method=method, client_id=sub, assertion=assertion)


def authenticate_client(
    client: ClientRecord | None,
    *,
    attempt: ClientAttempt,
    audiences: tuple[str, ...],
    now: float,
    certificate: x509.Certificate | ClientIdentity | None = None,
) -> AuthenticatedClient:
    """Check a client's credentials (pure: the caller records the assertion ``jti``).

    Args:
        client: The registration of ``attempt.client_id`` (``None`` if unknown).
        attempt: What :func:`parse_attempt` found.
        audiences: Accepted assertion audiences (token endpoint URL and issuer).
        now: The current time, UNIX seconds.
        certificate: The TLS client certificate, for the RFC 8705 methods.

    Raises:
        InvalidClient: For any failure (401 with a challenge when the header was used).
    """
    challenge = BASIC_CHALLENGE if attempt.via_header else None
    if client is None:
        raise InvalidClient("unknown client", challenge=challenge)
    method = attempt.method
    registered = client.token_endpoint_auth_method
    thumb = _thumbprint(certificate)
    if method == "none" and registered in {"tls_client_auth", "self_signed_tls_client_auth"}:
        method = registered
    if method != registered:
        raise InvalidClient(f"client must use {registered}", challenge=challenge)
    if method in {"client_secret_basic", "client_secret_post"}:
        stored = client.client_secret_digest
        given = digest(attempt.secret or "")
        if stored is None or not bytes_eq(given.encode(), stored.encode()):
            raise InvalidClient("wrong client secret", challenge=challenge)
        return AuthenticatedClient(record=client, method=method, certificate_thumbprint=thumb)
    if method in {"client_secret_jwt", "private_key_jwt"}:
        jti = _check_assertion(client, attempt.assertion or "", method, audiences, now)
        return AuthenticatedClient(
            record=client, method=method, assertion_jti=jti, certificate_thumbprint=thumb
        )
    if method == "tls_client_auth":
        _check_tls(client, certificate)
    elif method == "self_signed_tls_client_auth":
        _check_self_signed(client, certificate)
    return AuthenticatedClient(record=client, method=method, certificate_thumbprint=thumb)


def _thumbprint(certificate: x509.Certificate | ClientIdentity | None) -> str | None:
    if certificate is None:
        return None
    leaf = certificate.certificate if isinstance(certificate, ClientIdentity) else certificate
    return thumbprint(leaf)


def _check_assertion(
    client: ClientRecord, assertion: str, method: str, audiences: tuple[str, ...], now: float
) -> tuple[str, float]:
    if method == "client_secret_jwt":
        keys: JWK | KeySet | None = client.client_secret_jwt_key
        algs = _SECRET_ALGS
    else:
        keys = client.jwks
        algs = _PRIVATE_KEY_ALGS
    if client.token_endpoint_auth_signing_alg is not None:
        algs = algs & {client.token_endpoint_auth_signing_alg}
    if keys is None or not algs:
        raise InvalidClient("no usable key for the client assertion")
    try:
        claims = jwt.decode(
            assertion,
            keys,
            algorithms=algs,
            issuer=client.client_id,
            subject=client.client_id,
            audience=audiences,
            required=("exp", "jti"),
            now=as_datetime(now),
        )
    except VerificationError as exc:
        raise InvalidClient(f"client assertion refused: {exc.reason}") from None
    jti, exp = claims.get("jti"), claims.get("exp")
    if not isinstance(jti, str) or not jti or len(jti) > 256:  # noqa: PLR2004
        raise InvalidClient("client assertion jti must be a short string")
    if not isinstance(exp, (int, float)) or exp - now > MAX_ASSERTION_LIFETIME:
        raise InvalidClient("client assertion lives too long")
    return jti, float(exp)


def _check_tls(client: ClientRecord, certificate: x509.Certificate | ClientIdentity | None) -> None:
    if certificate is None or client.tls_client_auth is None:
        raise InvalidClient("tls_client_auth needs a client certificate")
    try:
        client.tls_client_auth.match(certificate)
    except VerificationError:
        raise InvalidClient("client certificate does not match the registration") from None


def _check_self_signed(
    client: ClientRecord, certificate: x509.Certificate | ClientIdentity | None
) -> None:
    if certificate is None or client.jwks is None:
        raise InvalidClient("self_signed_tls_client_auth needs a client certificate")
    leaf = certificate.certificate if isinstance(certificate, ClientIdentity) else certificate
    try:
        pem = leaf.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        presented = JWK.from_pem(pem).thumbprint().encode()
    except (AuthcoreError, ValueError, TypeError):
        raise InvalidClient("client certificate key is not usable") from None
    for key in client.jwks:
        if bytes_eq(key.thumbprint().encode(), presented):
            return
    raise InvalidClient("client certificate key is not registered")
