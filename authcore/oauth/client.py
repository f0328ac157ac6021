"""The OAuth 2.x client role, sans-IO: requests out as values, responses in as values.

Nothing here opens a socket.  Every ``*_request`` method returns an
:class:`authcore.http.Request` for you to send with any HTTP library; every ``parse_*`` /
``validate_*`` function takes the :class:`authcore.http.Response` you got back and returns a
checked value or raises a typed error.  Modelled on oauth4webapi, the strictest client there is.

* :class:`ServerMetadata`: RFC 8414 metadata, parsed by :func:`authcore.jose.jwks.parse_metadata`
  (exact ``issuer`` equality, section 3.3), endpoints checked to be https URLs.
* :class:`OAuthClient`: ``client_id`` plus a client authentication value
  (:class:`ClientSecretBasic`, :class:`ClientSecretPost`, :class:`ClientSecretJwt`,
  :class:`PrivateKeyJwt`, :class:`NoneAuth`, :class:`TlsClientAuth`), building refresh
  (RFC 6749 section 6), client credentials (section 4.4), revocation (RFC 7009), introspection
  (RFC 7662) and device flow (RFC 8628) requests.
* :class:`AuthorizationCodeFlow`: one login; authorization URL with ``state`` and PKCE S256
  (RFC 7636), ``resource`` (RFC 8707), ``dpop_jkt`` (RFC 9449 section 10), PAR (RFC 9126);
  callback validation: ``iss`` (RFC 9207 section 2.4, the mix-up defence), ``state``
  compared in constant time, error responses raised as typed
  :class:`~authcore.errors.OAuthError` subclasses, implicit, hybrid and JARM responses
  refused; the token request; the token response as a frozen :class:`TokenSet`.
* :func:`device_polling`: the RFC 8628 section 3.5 polling schedule as a generator of waits,
  shared by sync and async callers.

Not checked here: an ``id_token`` is returned as received (this is not an OpenID Connect
relying party: verify it yourself with :func:`authcore.jose.jwt.decode`), and access tokens
are opaque to the client.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
import urllib.parse
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, cast

from authcore import _fetch, errors
from authcore._ct import bytes_eq
from authcore._encoding import json_loads
from authcore._options import bool_option, int_option, mapping_option, str_option, strings_option
from authcore.clock import Clock, SystemClock, as_unix
from authcore.errors import (
    ConfigurationError,
    DecodeError,
    DeviceCodeExpired,
    FetchError,
    InvalidClaim,
    InvalidIssuer,
    MalformedError,
    MalformedRequest,
    OAuthError,
    OAuthServerError,
    UseDPoPNonce,
)
from authcore.http import Request, Response, parse_form, split_url
from authcore.jose.jwks import ProviderMetadata, metadata_urls, parse_metadata
from authcore.oauth._client_auth import (
    ASSERTION_LIFETIME,
    ASSERTION_TYPE,
    AssertionAudience,
    ClientAuth,
    ClientSecretBasic,
    ClientSecretJwt,
    ClientSecretPost,
    NoneAuth,
    Parts,
    PrivateKeyJwt,
    TlsClientAuth,
    assertion_audience,
)
from authcore.oauth.pkce import S256, PKCEPair, create_pair

__all__ = [
    "ASSERTION_LIFETIME",
    "ASSERTION_TYPE",
    "DEFAULT_INTERVAL",
    "DEVICE_GRANT",
    "MAX_RESPONSE_BYTES",
    "AssertionAudience",
    "AuthorizationCodeFlow",
    "ClientAuth",
    "ClientSecretBasic",
    "ClientSecretJwt",
    "ClientSecretPost",
    "DeviceAuthorization",
    "Introspection",
    "NoneAuth",
    "OAuthClient",
    "Parts",
    "PrivateKeyJwt",
    "ServerMetadata",
    "TlsClientAuth",
    "TokenSet",
    "device_polling",
    "dpop_nonce_error",
    "oauth_error",
    "parse_device_authorization_response",
    "parse_introspection_response",
    "parse_revocation_response",
    "parse_token_response",
]

DEVICE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
"""The RFC 8628 section 3.4 ``grant_type``."""

DEFAULT_INTERVAL: Final = 5
"""Seconds between device polls when the server gives no ``interval`` (RFC 8628 section 3.2)."""

SLOW_DOWN_STEP: Final = 5
"""Seconds added to the polling interval on each ``slow_down`` (RFC 8628 section 3.5)."""

MAX_RESPONSE_BYTES: Final = 256 * 1024
"""Largest response body (or metadata document) parsed."""

MAX_TOKEN_CHARS: Final = 64 * 1024
"""Longest token (access, refresh, ID, device code) accepted from a server."""

MAX_TEXT_CHARS: Final = 2048
"""Longest other string member (``token_type``, ``scope``, URIs, ``user_code``...)."""

MAX_LIFETIME: Final = 10 * 366 * 86_400
"""Largest ``expires_in`` or ``interval`` accepted, in seconds (ten years)."""

_FORM: Final = "application/x-www-form-urlencoded"
_TOKEN_TYPES: Final = MappingProxyType({"bearer": "Bearer", "dpop": "DPoP"})
_IMPLICIT_MEMBERS: Final = ("access_token", "id_token", "token_type", "expires_in")
_DESCRIPTION_MAX: Final = 512
_ENDPOINTS: Final = (
    "authorization_endpoint",
    "token_endpoint",
    "pushed_authorization_request_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "device_authorization_endpoint",
)
_ERRORS: Final[Mapping[str, type[OAuthError]]] = MappingProxyType(
    {
        cls.error: cls
        for cls in (
            errors.InvalidRequest,
            errors.InvalidClient,
            errors.InvalidGrant,
            errors.UnauthorizedClient,
            errors.UnsupportedGrantType,
            errors.UnsupportedResponseType,
            errors.InvalidScope,
            errors.AccessDenied,
            errors.InvalidTarget,
            errors.InvalidRequestURI,
            errors.UnsupportedTokenType,
            errors.AuthorizationPending,
            errors.SlowDown,
            errors.DeviceCodeExpired,
            errors.OAuthServerError,
            errors.TemporarilyUnavailable,
            errors.InvalidDPoPProof,
        )
    }
)
_NONCE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")
"""RFC 9449 section 8.1: a ``DPoP-Nonce`` value is 1*NQCHAR (bounded here)."""


# ----------------------------------------------------------------------------- helpers


def _now(now: object) -> float:
    return as_unix(now)


def _instant(seconds: float) -> dt.datetime:
    """A time the server sent (directly or as ``now + expires_in``) as a UTC datetime.

    Raises:
        MalformedError: Beyond what a datetime holds (after the year 9999).
    """
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise MalformedError("a time in the response is beyond the year 9999") from None


def _text(value: object, what: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """A non-empty string member of at most ``limit`` characters, or :class:`MalformedError`."""
    if not isinstance(value, str) or not value:
        raise MalformedError(f"{what} is missing or not a non-empty string")
    if len(value) > limit:
        raise MalformedError(f"{what} is longer than {limit} characters")
    return value


def _optional_text(
    document: Mapping[str, Any], name: str, *, limit: int = MAX_TEXT_CHARS
) -> str | None:
    value = document.get(name)
    return None if value is None else _text(value, name, limit=limit)


def _seconds(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIFETIME:
        raise MalformedError(f"{what} is not an integer number of seconds in range")
    return value


def _scope(value: object, default: frozenset[str]) -> frozenset[str]:
    if value is None:
        return default
    if value == "":
        # RFC 6749 section 3.3 has no empty scope, but servers (authcore's included) send
        # "" for "no scope granted"; reading it as the empty set loses nothing.
        return frozenset()
    text = _text(value, "scope")
    tokens = text.split(" ")
    if any(
        not t or not all(c == "\x21" or "\x23" <= c <= "\x5b" or "\x5d" <= c <= "\x7e" for c in t)
        for t in tokens
    ):
        raise MalformedError("scope is not a space-separated list of scope tokens")
    return frozenset(tokens)


def _cnf(value: object) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 8:  # noqa: PLR2004 - a handful of methods
        raise MalformedError("cnf is not a small JSON object")
    members = cast("dict[str, object]", value)
    return MappingProxyType({k: _text(v, f"cnf.{k}") for k, v in members.items()})


def _status(response: object, max_bytes: object) -> int:
    """The response's status, once the caller's ``response`` and ``max_bytes`` are checked."""
    if not isinstance(response, Response):
        raise ConfigurationError("response must be an authcore.http.Response")
    int_option(max_bytes, "max_bytes")
    return response.status


def _json_body(response: Response, what: str, *, max_bytes: int) -> dict[str, Any]:
    _status(response, max_bytes)
    if len(response.body) > max_bytes:
        raise MalformedError(f"{what} body is larger than {max_bytes} bytes")
    ctype = (response.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise MalformedError(f"{what} is not application/json")
    value = json_loads(response.body, what=what)
    if not isinstance(value, dict):
        raise DecodeError(f"{what}: not a JSON object")
    return cast("dict[str, Any]", value)


def _description(value: object) -> str:
    # RFC 6749 section 4.1.2.1: error_description is %x20-21 / %x23-5B / %x5D-7E; anything
    # else is dropped so a hostile server cannot put control characters in our logs.
    if not isinstance(value, str):
        return ""
    kept = "".join(c for c in value[: _DESCRIPTION_MAX * 2] if " " <= c <= "~" and c not in '"\\')
    return kept[:_DESCRIPTION_MAX]


def oauth_error(error: object, description: object = None) -> OAuthError:
    """The typed error for an ``error`` code a server sent (RFC 6749 sections 4.1.2.1, 5.2).

    Args:
        error: The ``error`` member or parameter.
        description: The ``error_description``, kept only as printable ASCII, 512 characters
            at most.

    Returns:
        An instance of the :class:`~authcore.errors.OAuthError` subclass whose ``error`` is
        the code; a code authcore has no class for (``login_required``, ...) becomes
        :class:`~authcore.errors.OAuthServerError` with the code in its reason.

    Raises:
        MalformedError: If ``error`` is not a valid error code.

    .. versionadded:: 0.1.0
    """
    code = _text(error, "error", limit=128)
    if not all("\x20" <= c <= "\x7e" and c not in '"\\' for c in code):
        raise MalformedError("error is not a valid OAuth error code")
    text = _description(description)
    cls = _ERRORS.get(code)
    if cls is None:
        return OAuthServerError(f"server answered error {code!r}: {text}", description=text)
    return cls(f"server answered {code}" + (f": {text}" if text else ""), description=text)


def _raise_error_response(response: Response, what: str, *, max_bytes: int) -> None:
    """Raise the typed error a non-2xx JSON error response carries."""
    try:
        document = _json_body(response, what, max_bytes=max_bytes)
    except MalformedError:
        raise MalformedError(
            f"{what}: HTTP {response.status} without an OAuth error body"
        ) from None
    error = oauth_error(document.get("error"), document.get("error_description"))
    if isinstance(error, OAuthServerError) and document.get("error") == "use_dpop_nonce":
        raise dpop_nonce_error(response, error.description)
    raise error


def dpop_nonce_error(response: Response, description: str | None = None) -> UseDPoPNonce:
    """The :class:`~authcore.errors.UseDPoPNonce` of a ``use_dpop_nonce`` answer.

    Its ``nonce`` is the response's ``DPoP-Nonce`` header: make the proof of the retried
    request with ``nonce=`` set to it (RFC 9449 section 8).

    Raises:
        MalformedError: If the response has no single, well-formed ``DPoP-Nonce`` header.

    .. versionadded:: 0.1.0
    """
    values = response.headers.get_all("dpop-nonce")
    if len(values) != 1 or not _NONCE.fullmatch(values[0]):
        raise MalformedError("use_dpop_nonce without one well-formed DPoP-Nonce header")
    return UseDPoPNonce("server answered use_dpop_nonce", nonce=values[0], description=description)


def _check_endpoint(url: object, what: str, *, allow_http_loopback: bool) -> str:
    try:
        _fetch.check_url(url, allow_http_loopback=allow_http_loopback, what=what)
    except ConfigurationError as exc:
        raise FetchError(f"metadata refused: {exc.detail}") from None
    return cast("str", url)


def _str_set(document: Mapping[str, Any], name: str) -> frozenset[str]:
    value = document.get(name)
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(
        isinstance(v, str) for v in cast("list[object]", value)
    ):
        raise FetchError(f"metadata refused: {name} is not an array of strings")
    return frozenset(cast("list[str]", value))


def _flag(document: Mapping[str, Any], name: str) -> bool:
    value = document.get(name, False)
    if not isinstance(value, bool):
        raise FetchError(f"metadata refused: {name} is not a boolean")
    return value


# ----------------------------------------------------------------------------- metadata


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerMetadata:
    """Authorization server metadata (RFC 8414), issuer-checked.

    Build it with :meth:`parse` (the JSON you fetched), :meth:`from_provider` (what
    :func:`authcore.jose.jwks.discover` returned) or directly (the endpoints you were given).
    :meth:`request` builds the GET for the RFC 8414 well-known URL.

    Attributes:
        issuer: The issuer identifier; the ``iss`` every authorization response must carry.
        authorization_endpoint: RFC 6749 section 3.1.
        token_endpoint: RFC 6749 section 3.2.
        pushed_authorization_request_endpoint: RFC 9126 section 5.
        revocation_endpoint: RFC 7009.
        introspection_endpoint: RFC 7662.
        device_authorization_endpoint: RFC 8628 section 4.
        jwks_uri: The server's signing keys.
        authorization_response_iss_parameter_supported: RFC 9207 section 3: when ``True``,
            a callback without ``iss`` is refused.
        require_pushed_authorization_requests: RFC 9126 section 5.
        code_challenge_methods_supported: RFC 8414 section 2 (empty: not advertised).
        dpop_signing_alg_values_supported: RFC 9449 section 5.1 (empty: not advertised).
        document: Every member of the document (read-only).

    .. versionadded:: 0.1.0
    """

    issuer: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    pushed_authorization_request_endpoint: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    jwks_uri: str | None = None
    authorization_response_iss_parameter_supported: bool = False
    require_pushed_authorization_requests: bool = False
    code_challenge_methods_supported: frozenset[str] = frozenset()
    dpop_signing_alg_values_supported: frozenset[str] = frozenset()
    document: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def __post_init__(self) -> None:
        str_option(self.issuer, "issuer")
        for name in (*_ENDPOINTS, "jwks_uri"):
            if getattr(self, name) is not None:
                str_option(getattr(self, name), name)
        bool_option(
            self.authorization_response_iss_parameter_supported,
            "authorization_response_iss_parameter_supported",
        )
        bool_option(
            self.require_pushed_authorization_requests, "require_pushed_authorization_requests"
        )
        for name in ("code_challenge_methods_supported", "dpop_signing_alg_values_supported"):
            names: object = getattr(self, name)
            if not isinstance(names, frozenset) or not all(isinstance(n, str) for n in names):
                raise ConfigurationError(f"{name} must be a frozenset of strings")
        if not isinstance(cast("object", self.document), Mapping):
            raise ConfigurationError("document must be a mapping")

    @staticmethod
    def request(issuer: str, *, allow_http_loopback: bool = False) -> Request:
        """The GET of the RFC 8414 section 3.1 well-known URL for ``issuer``.

        Raises:
            ConfigurationError: If the issuer is not an https URL without query or fragment.
        """
        url = metadata_urls(issuer, allow_http_loopback=allow_http_loopback)[0]
        return Request(method="GET", url=url, headers={"Accept": "application/json"})

    @classmethod
    def parse(
        cls,
        data: bytes | str | Response,
        *,
        issuer: str,
        allow_http_loopback: bool = False,
    ) -> ServerMetadata:
        """Parse and check a metadata document (or the response that carried it).

        The document's ``issuer`` must equal ``issuer`` character for character (RFC 8414
        section 3.3); every endpoint must be an https URL (``http`` on loopback with
        ``allow_http_loopback``).

        Raises:
            FetchError: If the response is not a 200, the document is larger than
                :data:`MAX_RESPONSE_BYTES`, not a strict JSON object, for another issuer,
                or has a malformed member.  The shared parser
                (:func:`authcore.jose.jwks.parse_metadata`) also requires ``jwks_uri``; for
                a server without one, build :class:`ServerMetadata` directly.
        """
        if isinstance(data, Response):
            if data.status != 200:  # noqa: PLR2004
                raise FetchError(f"metadata refused: HTTP {data.status}")
            data = data.body
        if not isinstance(cast("object", data), (bytes, str)):
            raise ConfigurationError("metadata must be bytes, str or a Response")
        if len(data) > MAX_RESPONSE_BYTES:
            raise FetchError(f"metadata refused: larger than {MAX_RESPONSE_BYTES} bytes")
        provider = parse_metadata(data, issuer=issuer, allow_http_loopback=allow_http_loopback)
        return cls.from_provider(provider, allow_http_loopback=allow_http_loopback)

    @classmethod
    def from_provider(
        cls, provider: ProviderMetadata, *, allow_http_loopback: bool = False
    ) -> ServerMetadata:
        """Build from :func:`authcore.jose.jwks.parse_metadata` or ``discover`` output.

        Raises:
            FetchError: If an endpoint or a typed member is malformed.
        """
        document = provider.document
        endpoints = {
            name: _check_endpoint(document[name], name, allow_http_loopback=allow_http_loopback)
            for name in _ENDPOINTS
            if document.get(name) is not None
        }
        return cls(
            issuer=provider.issuer,
            jwks_uri=provider.jwks_uri,
            authorization_response_iss_parameter_supported=_flag(
                document, "authorization_response_iss_parameter_supported"
            ),
            require_pushed_authorization_requests=_flag(
                document, "require_pushed_authorization_requests"
            ),
            code_challenge_methods_supported=_str_set(document, "code_challenge_methods_supported"),
            dpop_signing_alg_values_supported=_str_set(
                document, "dpop_signing_alg_values_supported"
            ),
            document=document,
            **endpoints,
        )

    def endpoint(self, name: str) -> str:
        """Return the endpoint ``name`` (``"token_endpoint"``, ...).

        Raises:
            ConfigurationError: If the server did not publish it.
        """
        value = getattr(self, name, None)
        if not isinstance(value, str) or name not in _ENDPOINTS:
            raise ConfigurationError(f"the server metadata has no {name}")
        return value


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSet:
    """A checked token response (RFC 6749 section 5.1).

    Attributes:
        access_token: The access token (never shown by ``repr``).
        token_type: ``"Bearer"`` or ``"DPoP"`` (canonical case; RFC 6749 section 7.1 makes
            the member case-insensitive).
        expires_at: When the access token expires (``now`` + ``expires_in``), or ``None``
            when the server did not say.
        scope: The granted scope; the requested scope when the response omitted it
            (RFC 6749 section 5.1).
        refresh_token: The refresh token, if any (never shown by ``repr``).
        id_token: The OpenID Connect ID token as received, **not verified** (never shown).
        cnf: The confirmation members (``jkt``, ``x5t#S256``) when the server sent them.
        extra: Every other member (read-only).

    .. versionadded:: 0.1.0
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_at: dt.datetime | None = None
    scope: frozenset[str] = frozenset()
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    cnf: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def expired(self, *, now: dt.datetime | float | None = None, leeway: float = 0) -> bool:
        """Whether the access token has expired at ``now`` (``leeway`` seconds early).

        ``False`` when the expiry is unknown.
        """
        if self.expires_at is None:
            return False
        return _now(now) + leeway >= self.expires_at.timestamp()


@dataclass(frozen=True, slots=True, kw_only=True)
class Introspection:
    """A checked introspection response (RFC 7662 section 2.2).

    An inactive token carries ``active=False`` and nothing else, whatever the server sent.

    Attributes:
        active: Whether the token is active.
        scope: The token's scope.
        client_id: The client the token was issued to.
        username: A human-readable identifier of the resource owner.
        token_type: The token's type.
        expires_at: ``exp``.
        issued_at: ``iat``.
        not_before: ``nbf``.
        subject: ``sub``.
        audience: ``aud`` (a string becomes a one-element tuple).
        issuer: ``iss``.
        jti: ``jti``.
        cnf: The confirmation members, if any.
        extra: Every other member (read-only).

    .. versionadded:: 0.1.0
    """

    active: bool
    scope: frozenset[str] = frozenset()
    client_id: str | None = None
    username: str | None = None
    token_type: str | None = None
    expires_at: dt.datetime | None = None
    issued_at: dt.datetime | None = None
    not_before: dt.datetime | None = None
    subject: str | None = None
    audience: tuple[str, ...] = ()
    issuer: str | None = None
    jti: str | None = None
    cnf: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceAuthorization:
    """A checked device authorization response (RFC 8628 section 3.2).

    Attributes:
        device_code: The device verification code (never shown by ``repr``).
        user_code: What the user types.
        verification_uri: Where the user goes.
        verification_uri_complete: The same with the user code included, if sent.
        expires_at: When the codes expire.
        interval: Seconds between polls (5 when the server did not say).

    .. versionadded:: 0.1.0
    """

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: dt.datetime
    interval: int = DEFAULT_INTERVAL

    def __post_init__(self) -> None:
        # Built by parse_device_authorization_response, or by hand from a stored response:
        # device_polling sleeps for interval and stops at expires_at.
        int_option(self.interval, "interval", high=MAX_LIFETIME)
        expires: object = self.expires_at
        if not isinstance(expires, dt.datetime) or expires.utcoffset() is None:
            raise ConfigurationError("expires_at must be an aware datetime")


# ----------------------------------------------------------------------------- parsers


def parse_token_response(
    response: Response,
    *,
    now: dt.datetime | float | None = None,
    scope: frozenset[str] = frozenset(),
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> TokenSet:
    """Check a token endpoint response (RFC 6749 sections 5.1 and 5.2).

    Args:
        response: The HTTP response.
        now: When the response was received (``expires_at`` = ``now`` + ``expires_in``).
        scope: The requested scope, used when the response omits ``scope``.
        max_bytes: The largest body parsed.

    Returns:
        The tokens.

    Raises:
        OAuthError: The typed error of an error response (``InvalidGrant``,
            ``AuthorizationPending``, ...; see :func:`oauth_error`).
        MalformedError: A body that is too large, not ``application/json``, or a member that
            is missing, of the wrong type, too long, or out of range (``DecodeError`` for bad
            JSON); a ``token_type`` other than Bearer or DPoP.

    .. versionadded:: 0.1.0
    """
    received = _now(now)
    if _status(response, max_bytes) != 200:  # noqa: PLR2004
        _raise_error_response(response, "token response", max_bytes=max_bytes)
    document = _json_body(response, "token response", max_bytes=max_bytes)
    access = _text(document.get("access_token"), "access_token", limit=MAX_TOKEN_CHARS)
    kind = _TOKEN_TYPES.get(_text(document.get("token_type"), "token_type").lower())
    if kind is None:
        raise MalformedError("token_type is neither Bearer nor DPoP")
    expires_in = document.get("expires_in")
    expires_at = (
        None if expires_in is None else _instant(received + _seconds(expires_in, "expires_in"))
    )
    known = {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "id_token",
        "cnf",
    }
    return TokenSet(
        access_token=access,
        token_type=kind,
        expires_at=expires_at,
        scope=_scope(document.get("scope"), frozenset(strings_option(scope, "scope", empty=True))),
        refresh_token=_optional_text(document, "refresh_token", limit=MAX_TOKEN_CHARS),
        id_token=_optional_text(document, "id_token", limit=MAX_TOKEN_CHARS),
        cnf=_cnf(document.get("cnf")),
        extra=MappingProxyType({k: v for k, v in document.items() if k not in known}),
    )


def parse_revocation_response(response: Response, *, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
    """Check a revocation response (RFC 7009 section 2.2): 200 means done.

    Raises:
        OAuthError: The typed error of an error response (``UnsupportedTokenType``, ...).
        MalformedError: A non-200 response without an OAuth error body.

    .. versionadded:: 0.1.0
    """
    if _status(response, max_bytes) != 200:  # noqa: PLR2004
        _raise_error_response(response, "revocation response", max_bytes=max_bytes)


def _timestamp(document: Mapping[str, Any], name: str) -> dt.datetime | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 2**40:
        raise MalformedError(f"{name} is not a NumericDate")
    return _instant(float(value))


def parse_introspection_response(
    response: Response, *, max_bytes: int = MAX_RESPONSE_BYTES
) -> Introspection:
    """Check an introspection response (RFC 7662 section 2.2).

    Raises:
        OAuthError: The typed error of an error response (``InvalidClient``, ...).
        MalformedError: A body that is not a JSON object with a boolean ``active``, or a
            member of the wrong type.

    .. versionadded:: 0.1.0
    """
    if _status(response, max_bytes) != 200:  # noqa: PLR2004
        _raise_error_response(response, "introspection response", max_bytes=max_bytes)
    document = _json_body(response, "introspection response", max_bytes=max_bytes)
    active = document.get("active")
    if not isinstance(active, bool):
        raise MalformedError("active is missing or not a boolean")
    if not active:
        return Introspection(active=False)
    aud = document.get("aud")
    if isinstance(aud, str):
        audience: tuple[str, ...] = (aud,)
    elif aud is None:
        audience = ()
    elif isinstance(aud, list):
        audience = tuple(_text(a, "aud") for a in cast("list[object]", aud))
    else:
        raise MalformedError("aud is neither a string nor an array of strings")
    known = {
        "active", "scope", "client_id", "username", "token_type", "exp", "iat", "nbf",
        "sub", "aud", "iss", "jti", "cnf",
    }  # fmt: skip
    return Introspection(
        active=True,
        scope=_scope(document.get("scope"), frozenset()),
        client_id=_optional_text(document, "client_id"),
        username=_optional_text(document, "username"),
        token_type=_optional_text(document, "token_type"),
        expires_at=_timestamp(document, "exp"),
        issued_at=_timestamp(document, "iat"),
        not_before=_timestamp(document, "nbf"),
        subject=_optional_text(document, "sub"),
        audience=audience,
        issuer=_optional_text(document, "iss"),
        jti=_optional_text(document, "jti"),
        cnf=_cnf(document.get("cnf")),
        extra=MappingProxyType({k: v for k, v in document.items() if k not in known}),
    )


def parse_device_authorization_response(
    response: Response,
    *,
    now: dt.datetime | float | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> DeviceAuthorization:
    """Check a device authorization response (RFC 8628 section 3.2).

    Args:
        response: The HTTP response.
        now: When it was received (``expires_at`` = ``now`` + ``expires_in``).
        max_bytes: The largest body parsed.

    Raises:
        OAuthError: The typed error of an error response.
        MalformedError: A required member missing or malformed, or an ``interval`` or
            ``expires_in`` out of range.

    .. versionadded:: 0.1.0
    """
    received = _now(now)
    if _status(response, max_bytes) != 200:  # noqa: PLR2004
        _raise_error_response(response, "device authorization response", max_bytes=max_bytes)
    document = _json_body(response, "device authorization response", max_bytes=max_bytes)
    interval = document.get("interval")
    return DeviceAuthorization(
        device_code=_text(document.get("device_code"), "device_code", limit=MAX_TOKEN_CHARS),
        user_code=_text(document.get("user_code"), "user_code"),
        verification_uri=_text(document.get("verification_uri"), "verification_uri"),
        verification_uri_complete=_optional_text(document, "verification_uri_complete"),
        expires_at=_instant(received + _seconds(document.get("expires_in"), "expires_in")),
        interval=DEFAULT_INTERVAL if interval is None else max(1, _seconds(interval, "interval")),
    )


# ----------------------------------------------------------------------------- client


@dataclass(frozen=True, slots=True, kw_only=True)
class OAuthClient:
    """A registered client of one authorization server: builds its token-endpoint requests.

    Attributes:
        metadata: The server (issuer and endpoints).
        client_id: The client identifier.
        auth: How the client authenticates (:class:`ClientSecretBasic`, ...).

    Raises:
        ConfigurationError: If ``client_id`` is empty or ``auth`` is not a client
            authentication value.

    .. versionadded:: 0.1.0
    """

    metadata: ServerMetadata
    client_id: str
    auth: ClientAuth

    def __post_init__(self) -> None:
        if not isinstance(cast("object", self.metadata), ServerMetadata):
            raise ConfigurationError("metadata must be a ServerMetadata (ServerMetadata.parse)")
        if not isinstance(cast("object", self.client_id), str) or not self.client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        given: object = self.auth
        if not isinstance(
            given,
            (
                ClientSecretBasic,
                ClientSecretPost,
                ClientSecretJwt,
                PrivateKeyJwt,
                NoneAuth,
                TlsClientAuth,
            ),
        ):
            raise ConfigurationError("auth must be a client authentication value")

    def post(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]],
        *,
        now: dt.datetime | float | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request:
        """An authenticated form POST to the metadata endpoint ``endpoint``.

        Args:
            endpoint: The metadata name (``"token_endpoint"``, ``"revocation_endpoint"``...).
            params: The form parameters (``None``-free; repeated names allowed).
            now: The time for JWT assertions.
            headers: Extra header fields (a ``DPoP`` proof, say).

        Raises:
            ConfigurationError: If the server has no such endpoint.
        """
        url = self.metadata.endpoint(endpoint)
        audience = assertion_audience(self.auth, issuer=self.metadata.issuer, endpoint=url)
        auth_headers, auth_params = self.auth.parts(
            self.client_id, audience=audience, now=_now(now)
        )
        body = urllib.parse.urlencode([*auth_params, *params]).encode("ascii")
        return Request(
            method="POST",
            url=url,
            headers=[
                ("Content-Type", _FORM),
                ("Accept", "application/json"),
                *auth_headers,
                *headers,
            ],
            body=body,
        )

    def refresh_request(
        self,
        refresh_token: str,
        *,
        scope: Sequence[str] = (),
        resource: Sequence[str] = (),
        now: dt.datetime | float | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request:
        """A refresh token request (RFC 6749 section 6); parse with :meth:`parse_refresh`.

        ``headers`` adds fields such as a ``DPoP`` proof (a public client's DPoP-bound
        refresh token needs one of the same key, RFC 9449 section 5).
        """
        params = [("grant_type", "refresh_token"), ("refresh_token", _given(refresh_token))]
        params += _scope_params(scope) + [("resource", r) for r in _sequence(resource, "resource")]
        return self.post("token_endpoint", params, now=now, headers=headers)

    @staticmethod
    def parse_refresh(
        response: Response, *, previous: TokenSet, now: dt.datetime | float | None = None
    ) -> TokenSet:
        """Check a refresh response; keep ``previous``'s refresh token if none was issued.

        Raises:
            OAuthError: As :func:`parse_token_response` (``InvalidGrant`` when the refresh
                token was reused, revoked or expired).
        """
        tokens = parse_token_response(response, now=now, scope=previous.scope)
        if tokens.refresh_token is None and previous.refresh_token is not None:
            return dataclasses.replace(tokens, refresh_token=previous.refresh_token)
        return tokens

    def client_credentials_request(
        self,
        *,
        scope: Sequence[str] = (),
        resource: Sequence[str] = (),
        now: dt.datetime | float | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request:
        """A client credentials request (RFC 6749 section 4.4).

        ``headers`` adds fields such as a ``DPoP`` proof.  Parse the response with
        :func:`parse_token_response`.
        """
        params = [("grant_type", "client_credentials"), *_scope_params(scope)]
        params += [("resource", r) for r in _sequence(resource, "resource")]
        return self.post("token_endpoint", params, now=now, headers=headers)

    def revocation_request(
        self,
        token: str,
        *,
        token_type_hint: str | None = None,
        now: dt.datetime | float | None = None,
    ) -> Request:
        """A revocation request (RFC 7009 section 2.1).

        Parse the response with :func:`parse_revocation_response`.
        """
        return self.post("revocation_endpoint", _token_params(token, token_type_hint), now=now)

    def introspection_request(
        self,
        token: str,
        *,
        token_type_hint: str | None = None,
        now: dt.datetime | float | None = None,
    ) -> Request:
        """An introspection request (RFC 7662 section 2.1).

        Parse the response with :func:`parse_introspection_response`.
        """
        return self.post("introspection_endpoint", _token_params(token, token_type_hint), now=now)

    def device_authorization_request(
        self,
        *,
        scope: Sequence[str] = (),
        resource: Sequence[str] = (),
        now: dt.datetime | float | None = None,
    ) -> Request:
        """A device authorization request (RFC 8628 section 3.1).

        Parse the response with :func:`parse_device_authorization_response`.
        """
        params = _scope_params(scope) + [("resource", r) for r in _sequence(resource, "resource")]
        return self.post("device_authorization_endpoint", params, now=now)

    def device_token_request(
        self,
        device: DeviceAuthorization,
        *,
        now: dt.datetime | float | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request:
        """A device access token request (RFC 8628 section 3.4), one per poll.

        ``headers`` adds fields such as a ``DPoP`` proof (a fresh one for every poll).
        """
        params = [("grant_type", DEVICE_GRANT), ("device_code", device.device_code)]
        return self.post("token_endpoint", params, now=now, headers=headers)

    def start(
        self,
        *,
        redirect_uri: str,
        scope: Sequence[str] = (),
        resource: Sequence[str] = (),
        dpop_jkt: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> AuthorizationCodeFlow:
        """Begin a login: a fresh ``state`` and PKCE pair (see :class:`AuthorizationCodeFlow`)."""
        return AuthorizationCodeFlow(
            client=self,
            redirect_uri=redirect_uri,
            scope=_sequence(scope, "scope"),
            resource=_sequence(resource, "resource"),
            dpop_jkt=dpop_jkt,
            extra=MappingProxyType(mapping_option(extra, "extra")),
        )


def _given(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError("token must be a non-empty string")
    return value


def _sequence(values: Sequence[str], what: str) -> tuple[str, ...]:
    given: object = values  # untyped callers pass anything
    if not isinstance(given, (list, tuple)) or not all(
        isinstance(v, str) and v for v in cast("Sequence[object]", given)
    ):
        raise ConfigurationError(f"{what} must be a sequence of non-empty strings")
    return tuple(values)


def _token_params(token: str, hint: str | None) -> list[tuple[str, str]]:
    """RFC 7009 section 2.1 and RFC 7662 section 2.1 share ``token`` and ``token_type_hint``."""
    params = [("token", _given(token))]
    if hint is not None:
        params.append(("token_type_hint", hint))
    return params


def _scope_params(scope: Sequence[str]) -> list[tuple[str, str]]:
    return [("scope", " ".join(_sequence(scope, "scope")))] if scope else []


# ----------------------------------------------------------------------------- code flow

_RESERVED: Final = frozenset(
    {
        "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
        "code_challenge_method", "resource", "dpop_jkt", "request_uri", "client_secret",
        "client_assertion", "client_assertion_type",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationCodeFlow:
    """One authorization code login with PKCE S256 (RFC 6749 section 4.1, RFC 7636).

    Build it with :meth:`OAuthClient.start`, keep it in the user's session (bound to the
    user agent: ``state`` is the CSRF defence, RFC 9700 section 2.1), send the user to
    :meth:`authorization_url` (or push with :meth:`par_request` first), check the callback
    with :meth:`validate_callback`, then redeem the code with :meth:`token_request`.

    Attributes:
        client: The client.
        redirect_uri: The registered redirect URI.
        scope: The requested scope tokens.
        resource: RFC 8707 resource indicators.
        dpop_jkt: The RFC 9449 section 10 key thumbprint binding the code, if any.
        extra: Other authorization request parameters (``prompt``, ...).
        state: The ``state`` value (generated: 256 random bits).
        pkce: The PKCE pair (generated).

    Raises:
        ConfigurationError: On an empty ``redirect_uri``, a reserved name in ``extra``, or a
            server whose metadata lists ``code_challenge_methods_supported`` without S256.

    .. versionadded:: 0.1.0
    """

    client: OAuthClient
    redirect_uri: str
    scope: tuple[str, ...] = ()
    resource: tuple[str, ...] = ()
    dpop_jkt: str | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    pkce: PKCEPair = field(default_factory=create_pair, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(cast("object", self.redirect_uri), str) or not self.redirect_uri:
            raise ConfigurationError("redirect_uri must be a non-empty string")
        if not self.state:
            raise ConfigurationError("state must be a non-empty string")
        extra = mapping_option(self.extra, "extra")
        if not all(
            isinstance(cast("object", k), str) and isinstance(v, str) for k, v in extra.items()
        ):
            raise ConfigurationError("extra must map parameter names to strings")
        reserved = sorted(set(extra) & _RESERVED)
        if reserved:
            raise ConfigurationError(f"extra must not set {', '.join(reserved)}")
        methods = self.client.metadata.code_challenge_methods_supported
        if methods and S256 not in methods:
            raise ConfigurationError("the server does not support PKCE S256")
        _scope_params(self.scope)

    def _params(self) -> list[tuple[str, str]]:
        params = [
            ("response_type", "code"),
            ("client_id", self.client.client_id),
            ("redirect_uri", self.redirect_uri),
            *_scope_params(self.scope),
            ("state", self.state),
            ("code_challenge", self.pkce.challenge),
            ("code_challenge_method", S256),
            *(("resource", r) for r in _sequence(self.resource, "resource")),
        ]
        if self.dpop_jkt is not None:
            params.append(("dpop_jkt", self.dpop_jkt))
        params += sorted(self.extra.items())
        return params

    def authorization_url(self) -> str:
        """The URL to send the user agent to (RFC 6749 section 4.1.1).

        Raises:
            ConfigurationError: If the server has no authorization endpoint.
        """
        return _with_query(self.client.metadata.endpoint("authorization_endpoint"), self._params())

    def par_request(self, *, now: dt.datetime | float | None = None) -> Request:
        """The pushed authorization request (RFC 9126 section 2.1), client-authenticated.

        Raises:
            ConfigurationError: If the server has no PAR endpoint.
        """
        params = [p for p in self._params() if p[0] != "client_id"]
        return self.client.post("pushed_authorization_request_endpoint", params, now=now)

    def authorization_url_from_par(
        self, response: Response, *, max_bytes: int = MAX_RESPONSE_BYTES
    ) -> str:
        """Check the PAR response (201, ``request_uri``, ``expires_in``) and return the URL.

        Raises:
            OAuthError: The typed error of an error response.
            MalformedError: A response that is not 201 JSON with a ``request_uri`` and an
                ``expires_in``.
        """
        if _status(response, max_bytes) != 201:  # noqa: PLR2004
            _raise_error_response(response, "PAR response", max_bytes=max_bytes)
        document = _json_body(response, "PAR response", max_bytes=max_bytes)
        request_uri = _text(document.get("request_uri"), "request_uri")
        _seconds(document.get("expires_in"), "expires_in")
        params = [("client_id", self.client.client_id), ("request_uri", request_uri)]
        return _with_query(self.client.metadata.endpoint("authorization_endpoint"), params)

    def validate_callback(self, callback: str | Request | Mapping[str, str]) -> str:
        """Check the authorization response and return the code (RFC 6749 section 4.1.2).

        In order, before anything else is read (oauth4webapi's ``validateAuthResponse``):

        1. the parameters parse, none repeated; a JARM ``response`` is refused;
        2. ``iss`` (RFC 9207 section 2.4): required when the metadata sets
           ``authorization_response_iss_parameter_supported``, and when present it must
           equal the issuer exactly: the mix-up defence, checked before any code is redeemed;
        3. ``state`` equals :attr:`state` byte for byte (constant time);
        4. an ``error`` is raised as its typed :class:`~authcore.errors.OAuthError`;
        5. an implicit or hybrid response (``access_token``, ``id_token``, ...) is refused;
        6. ``code`` is present.

        Args:
            callback: The redirect URL the user agent arrived at, the request itself, or its
                query parameters (prefer the first two: a mapping cannot show that a
                parameter was repeated, which is refused otherwise).

        Returns:
            The authorization code (for :meth:`token_request`).

        Raises:
            MalformedRequest: Unparseable or repeated parameters, a JARM, implicit or hybrid
                response, or no ``code``.
            InvalidIssuer: ``iss`` missing when required, or not the issuer.
            InvalidClaim: ``state`` missing or different (``claim == "state"``).
            OAuthError: The server's error (``AccessDenied``, ``InvalidScope``, ...).

        Not checked: that this callback belongs to this user agent's session; keep the flow
        in that session and look it up from there.
        """
        params = _callback_params(callback)
        if "response" in params:
            raise MalformedRequest("JARM responses are not supported")
        issuer = self.client.metadata.issuer
        iss = params.get("iss")
        if iss is None:
            if self.client.metadata.authorization_response_iss_parameter_supported:
                raise InvalidIssuer("iss is missing from the authorization response", claim="iss")
        elif iss != issuer:
            raise InvalidIssuer("iss is not the expected issuer (mix-up)", claim="iss")
        state = params.get("state")
        if state is None or not bytes_eq(state.encode(), self.state.encode()):
            raise InvalidClaim("state is missing or does not match", claim="state")
        if "error" in params:
            raise oauth_error(params["error"] or None, params.get("error_description"))
        if any(name in params for name in _IMPLICIT_MEMBERS):
            raise MalformedRequest("implicit and hybrid responses are refused")
        code = params.get("code")
        if not code:
            raise MalformedRequest("the authorization response has no code")
        if len(code) > MAX_TOKEN_CHARS:
            raise MalformedRequest("code is too long")
        return code

    def token_request(
        self,
        code: str,
        *,
        now: dt.datetime | float | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request:
        """The token request redeeming ``code`` (RFC 6749 section 4.1.3, RFC 7636 4.5).

        Args:
            code: What :meth:`validate_callback` returned.
            now: The time for JWT assertions.
            headers: Extra header fields (a ``DPoP`` proof, say).
        """
        params = [
            ("grant_type", "authorization_code"),
            ("code", _given(code)),
            ("redirect_uri", self.redirect_uri),
            ("code_verifier", self.pkce.verifier),
        ]
        return self.client.post("token_endpoint", params, now=now, headers=headers)

    def parse_token_response(
        self, response: Response, *, now: dt.datetime | float | None = None
    ) -> TokenSet:
        """:func:`parse_token_response` with this flow's scope as the default scope."""
        return parse_token_response(response, now=now, scope=frozenset(self.scope))


def _with_query(url: str, params: Sequence[tuple[str, str]]) -> str:
    joiner = "&" if split_url(url).query else "?"
    return url + joiner + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def _callback_params(callback: object) -> dict[str, str]:
    if isinstance(callback, Request):
        return callback.query()
    if isinstance(callback, str):
        if len(callback) > MAX_RESPONSE_BYTES:
            raise MalformedRequest("callback URL is too long")
        try:
            parts = split_url(callback)
        except ValueError:
            raise MalformedRequest("callback URL cannot be parsed") from None
        if parts.fragment:
            raise MalformedRequest("implicit and hybrid responses are refused (fragment)")
        return parse_form(parts.query)
    if isinstance(callback, Mapping):
        items = cast("Mapping[object, object]", callback)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
            raise MalformedRequest("callback parameters must be strings")
        return dict(cast("Mapping[str, str]", callback))
    raise ConfigurationError("callback must be a URL, a Request or a mapping of parameters")


# ----------------------------------------------------------------------------- device polling


def device_polling(
    device: DeviceAuthorization,
    *,
    clock: Clock | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Generator[float, Response, TokenSet]:
    """The RFC 8628 section 3.5 polling schedule, as a generator of waits.

    Each value yielded is how many seconds to wait before the next token request (first
    ``device.interval``).  After waiting, send :meth:`OAuthClient.device_token_request` and
    pass the response in with ``send``.  ``authorization_pending`` yields the same wait again,
    ``slow_down`` the wait plus 5 s, for this and every later poll.  The generator returns
    the :class:`TokenSet` on success (``StopIteration.value``); the same code drives
    ``time.sleep`` and ``asyncio.sleep``.

    Args:
        device: The device authorization response.
        clock: The time source for the expiry check and ``expires_at`` (default: system).
        max_bytes: The largest body parsed.

    Raises:
        AccessDenied: The user denied.
        DeviceCodeExpired: The server said ``expired_token``, or the device code expires
            before the next poll could happen (no request is made then).
        OAuthError: Any other error response (``InvalidGrant``, ``InvalidClient``, ...).
        MalformedError: A malformed response.

    .. versionadded:: 0.1.0
    """
    if clock is not None and not isinstance(clock, Clock):
        raise ConfigurationError("clock must have a now() method")
    if not isinstance(cast("object", device), DeviceAuthorization):
        raise ConfigurationError("device must be a DeviceAuthorization")
    int_option(max_bytes, "max_bytes")
    # The checks above run at the call; the schedule itself runs on the first next().
    return _polling(device, clock if clock is not None else SystemClock(), max_bytes)


def _polling(
    device: DeviceAuthorization, source: Clock, max_bytes: int
) -> Generator[float, Response, TokenSet]:
    interval = float(device.interval)
    while True:
        if source.now().timestamp() + interval >= device.expires_at.timestamp():
            raise DeviceCodeExpired("the device code expires before the next poll")
        response = yield interval
        try:
            return parse_token_response(response, now=source.now(), max_bytes=max_bytes)
        except errors.AuthorizationPending:
            continue
        except errors.SlowDown:
            interval += SLOW_DOWN_STEP
