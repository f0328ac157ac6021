"""Resource server: accept OAuth access tokens on your API (RFC 6750, 9068, 7662, 9449, 8705).

:class:`ResourceServer` (and :class:`AsyncResourceServer`) turns an
:class:`~authcore.http.Request` into an :class:`AccessTokenInfo` or raises an error that
carries the exact ``WWW-Authenticate`` challenges to answer with (:func:`error_response`
builds that answer).  What :meth:`ResourceServer.authenticate` checks, in order:

1. the ``Authorization`` header uses an enabled scheme: ``Bearer`` (RFC 6750 section 2.1)
   and/or ``DPoP`` (RFC 9449 section 7.1); the token is capped in size before any work;
2. the token: a JWT (three segments, when ``keys`` are configured) is an RFC 9068 access
   token checked by one :class:`~authcore.jose.JWTVerifier` built at construction: ``typ``
   ``at+jwt``, the ``alg`` allow-list, signature, ``iss``, ``aud`` containing ``resource``,
   ``exp`` and the other RFC 9068 section 2.2 claims (``sub``, ``client_id``, ``iat``,
   ``jti``); any other token is introspected (RFC 7662) through :class:`Introspector`, whose
   answer must be ``active`` with ``aud`` containing ``resource``, the expected ``iss`` when
   present, unexpired, and not a refresh token;
3. sender constraints: a token with ``cnf.jkt`` must come with the ``DPoP`` scheme and a
   proof verified by :func:`authcore.oauth.dpop.verify_proof` (``ath`` and ``cnf.jkt``
   included); a DPoP-bound token sent as ``Bearer`` is refused (RFC 9449 section 7.2); the
   ``DPoP`` scheme with an unbound token is refused; a token with ``cnf.x5t#S256`` needs the
   client certificate of the connection, checked by :func:`authcore.mtls.check_binding`
   (RFC 8705 section 3);
4. the required scopes are all granted (else 403 ``insufficient_scope``).

Challenges follow RFC 6750 section 3 and RFC 9449 section 7.1: one per enabled scheme
(``Bearer realm="..."`` and ``DPoP algs="..."``), the failing scheme's challenge carrying
``error``, ``error_description`` and, for ``insufficient_scope``, ``scope``.  A request
without credentials gets the challenges without an error (RFC 6750 section 3.1).  Error
descriptions are fixed texts; the precise cause is in the exception's ``reason``.

What it does **not** do: read tokens from the query string or a form body (RFC 6750
sections 2.2-2.3 are not supported), check token revocation for JWTs (introspect instead),
or decide anything about the subject beyond scopes.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import hashlib
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar, cast, final

from authcore._encoding import json_loads
from authcore._fork import lock as fork_safe_lock
from authcore._frozen import frozen_builder
from authcore._kinds import is_async, is_async_callable, store_answer
from authcore._options import (
    bool_option,
    int_option,
    mapping_option,
    seconds_option,
    str_option,
    strings_option,
)
from authcore.clock import Clock, as_datetime, as_unix
from authcore.errors import (
    ConfigurationError,
    DecodeError,
    ExpiredToken,
    FetchError,
    InsufficientTokenScope,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    MalformedHeader,
    OAuthError,
    UseDPoPNonce,
    VerificationError,
)
from authcore.http import Headers, Request, Response, split_url
from authcore.jose import JWK, JWTVerifier, KeyResolver, KeySet
from authcore.mtls import ClientIdentity, check_binding
from authcore.oauth import dpop
from authcore.onetime import AsyncOneTimeStore, OneTimeStore, check_store, check_store_or_async

if TYPE_CHECKING:
    from cryptography import x509

    from authcore.clock import Instant

__all__ = [
    "DEFAULT_MAX_TOKEN_SIZE",
    "AccessTokenInfo",
    "AsyncIntrospector",
    "AsyncResourceServer",
    "Introspector",
    "ResourceServer",
    "TokenSource",
    "error_response",
    "parse_introspection_response",
]

DEFAULT_MAX_TOKEN_SIZE: Final = 8192
"""Cap on an access token's length in characters, checked before any work."""

_JWT_REQUIRED: Final = ("exp", "iss", "aud", "sub", "client_id", "iat", "jti")
_MAX_INTROSPECTION_BYTES: Final = 64 * 1024
# RFC 6750 section 3: error_description and scope values use %x20-21 / %x23-5B / %x5D-7E.
_UNQUOTABLE_RE: Final = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_SCOPE_TOKEN_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_DESCRIPTIONS: Final = {
    "missing": "",
    "invalid": "The access token is invalid",
    "expired": "The access token expired",
    "binding": "The access token is bound to another key or certificate",
    "bearer_bound": "A DPoP-bound access token must use the DPoP scheme",
    "unbound": "The access token is not DPoP-bound",
    "proof": "Invalid DPoP proof",
    "nonce": "Resource server requires nonce in DPoP proof",
    "scope": "The access token lacks a required scope",
}


class TokenSource(enum.Enum):
    """Where the token's information came from."""

    JWT = "jwt"
    """A locally verified RFC 9068 JWT access token."""
    INTROSPECTION = "introspection"
    """The authorization server's introspection endpoint (RFC 7662)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessTokenInfo:
    """An accepted access token.

    Attributes:
        scheme: The scheme it was presented with: ``"Bearer"`` or ``"DPoP"``.
        source: How it was verified.
        subject: ``sub``, if any.
        client_id: The client it was issued to, if known.
        scope: The granted scopes.
        audience: ``aud`` values.
        issuer: ``iss``, if any.
        expires_at: ``exp`` (UNIX seconds), if any.
        jti: The token id, if any.
        jkt: The DPoP key thumbprint it is bound to (checked against the proof), if any.
        x5t_s256: The certificate thumbprint it is bound to (checked), if any.
        dpop_nonce: A fresh nonce to send in a ``DPoP-Nonce`` header, if the proof's nonce
            is about to rotate out.
        claims: Every claim (JWT) or introspection member, read-only.

    .. versionadded:: 0.1.0
    """

    scheme: str
    source: TokenSource
    subject: str | None
    client_id: str | None
    scope: frozenset[str]
    audience: tuple[str, ...]
    issuer: str | None
    expires_at: float | None
    jti: str | None = None
    jkt: str | None = None
    x5t_s256: str | None = None
    dpop_nonce: str | None = None
    claims: Mapping[str, Any] = field(repr=False, default_factory=lambda: MappingProxyType({}))


# AccessTokenInfo(...) cost 2.8 us, without its frozen __init__ 0.7 (authcore._frozen).
_new_access_token_info: Final = frozen_builder(AccessTokenInfo)


# ----------------------------------------------------------------------------- introspection


def parse_introspection_response(response: Response) -> dict[str, Any]:
    """Parse an RFC 7662 section 2.2 response into its members (``active`` is a bool).

    Raises:
        FetchError: If the status is not 200, the body is not a JSON object, or ``active``
            is not a boolean (the server failed, not the peer).

    .. versionadded:: 0.1.0
    """
    if not isinstance(response, Response):
        raise ConfigurationError("the introspection send callable must return a Response")
    if response.status != 200:  # noqa: PLR2004 - HTTP OK
        raise FetchError(f"introspection answered HTTP {response.status}")
    if len(response.body) > _MAX_INTROSPECTION_BYTES:
        raise FetchError("introspection response is too large")
    try:
        data = json_loads(response.body, what="introspection response")
    except DecodeError as exc:
        raise FetchError(exc.reason) from None
    if not isinstance(data, dict) or not isinstance(data.get("active"), bool):
        raise FetchError("introspection response has no boolean 'active'")
    return data


_SendT = TypeVar("_SendT")


class _IntrospectorCore(Generic[_SendT]):
    """The sans-IO half: request building, response checks, and the bounded TTL cache."""

    __slots__ = ("_cache", "_endpoint", "_headers", "_lock", "_max_entries", "_send", "_ttl")
    _awaits: ClassVar[bool] = False  # whether send() is awaited

    def __init__(
        self,
        endpoint: str,
        send: _SendT,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        headers: Mapping[str, str] | None = None,
        cache_ttl: float = 60.0,
        max_entries: int = 1024,
    ) -> None:
        parts = split_url(endpoint) if isinstance(cast("object", endpoint), str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigurationError("endpoint must be an absolute http(s) URL")
        if not callable(send):
            raise ConfigurationError("send must be a callable taking a Request")
        if not self._awaits and is_async_callable(send):
            raise ConfigurationError("send is async: use AsyncIntrospector, or a synchronous send")
        extra = mapping_option(headers, "headers")
        if client_id is not None:
            if client_secret is None:
                raise ConfigurationError("client_id needs client_secret (or pass headers=)")
            extra["Authorization"] = "Basic " + _basic(
                str_option(client_id, "client_id"), str_option(client_secret, "client_secret")
            )
        cache_ttl = seconds_option(cache_ttl, "cache_ttl", positive=False)
        int_option(max_entries, "max_entries")
        self._endpoint = endpoint
        self._send = send
        self._headers = Headers(
            [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
                *extra.items(),
            ]
        )
        self._ttl = float(cache_ttl)
        self._max_entries = max_entries
        self._cache: dict[bytes, tuple[dict[str, Any], float]] = {}
        self._lock = fork_safe_lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._endpoint!r})"

    def request(self, token: str) -> Request:
        """Build the RFC 7662 section 2.1 introspection request for ``token`` (sans-IO)."""
        body = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"})
        return Request(method="POST", url=self._endpoint, headers=self._headers, body=body.encode())

    def _cached(self, token: str, now: float) -> tuple[bytes, dict[str, Any] | None]:
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and now >= entry[1]:
                del self._cache[key]
                entry = None
        return key, None if entry is None else entry[0]

    def _remember(self, key: bytes, response: Response, now: float) -> dict[str, Any]:
        claims = parse_introspection_response(response)
        if claims["active"] is True:
            self._store(key, claims, now)
        return claims

    def _store(self, key: bytes, claims: dict[str, Any], now: float) -> None:
        until = now + self._ttl
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            until = min(until, float(exp))  # never outlives the token
        if until <= now:
            return
        with self._lock:
            cache = self._cache
            if len(cache) >= self._max_entries:
                for stale in [k for k, (_, t) in cache.items() if t <= now]:
                    del cache[stale]
                while len(cache) >= self._max_entries:
                    del cache[next(iter(cache))]  # the oldest insertion
            cache[key] = (claims, until)


def _basic(client_id: str, client_secret: str) -> str:
    import base64  # noqa: PLC0415 - only used at construction

    # RFC 6749 section 2.3.1: form-encode both parts before base64.
    pair = urllib.parse.quote_plus(client_id) + ":" + urllib.parse.quote_plus(client_secret)
    return base64.b64encode(pair.encode()).decode("ascii")


@final
class Introspector(_IntrospectorCore[Callable[[Request], Response]]):
    """Introspect opaque access tokens (RFC 7662) with a bounded, exp-respecting cache.

    The I/O is ``send``: any function that sends an :class:`~authcore.http.Request` and
    returns the :class:`~authcore.http.Response` (httpx, urllib, a test double); its own
    exceptions propagate.  Active answers are cached for ``cache_ttl`` seconds, never past
    the token's ``exp``; inactive answers are not cached.

    Args:
        endpoint: The introspection endpoint URL.
        send: Sends a request, returns the response.
        client_id: The resource server's client id (HTTP Basic authentication).
        client_secret: Its secret.
        headers: Other headers to send (for example another ``Authorization``).
        cache_ttl: Seconds an active answer is reused (0 disables the cache).
        max_entries: The most answers cached.

    Raises:
        ConfigurationError: On an invalid option.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def introspect(self, token: str, *, now: float) -> dict[str, Any]:
        """Return the token's introspection members (a cached active answer, or asked now).

        Raises:
            FetchError: If the answer is not a valid introspection response.
        """
        key, cached = self._cached(token, now)
        if cached is not None:
            return cached
        return self._remember(key, self._send(self.request(token)), now)


@final
class AsyncIntrospector(_IntrospectorCore[Callable[[Request], Awaitable[Response]]]):
    """:class:`Introspector` with an ``async`` ``send`` (same options and cache).

    .. versionadded:: 0.1.0
    """

    __slots__ = ()
    _awaits = True

    async def introspect(self, token: str, *, now: float) -> dict[str, Any]:
        """Return the token's introspection members (a cached active answer, or asked now).

        Raises:
            FetchError: If the answer is not a valid introspection response.
        """
        key, cached = self._cached(token, now)
        if cached is not None:
            return cached
        return self._remember(key, await self._send(self.request(token)), now)


# ----------------------------------------------------------------------------- challenges


def _quoted(value: str) -> str:
    return '"' + _UNQUOTABLE_RE.sub("", value) + '"'


def _challenge(scheme: str, params: Sequence[tuple[str, str]]) -> str:
    shown = [f"{name}={_quoted(value)}" for name, value in params if value]
    return scheme + (" " + ", ".join(shown) if shown else "")


def error_response(error: OAuthError) -> Response:
    """The HTTP answer to a resource server error: status, challenges, ``DPoP-Nonce``.

    ``401`` for :class:`~authcore.errors.InvalidToken` and for DPoP proof and nonce errors
    raised by a resource server (RFC 9449 sections 7.1 and 9), ``403`` for
    :class:`~authcore.errors.InsufficientTokenScope`, ``400`` for
    :class:`~authcore.errors.InvalidRequest`; one ``WWW-Authenticate`` field per challenge;
    an empty body.

    .. versionadded:: 0.1.0
    """
    if not isinstance(error, OAuthError):
        raise ConfigurationError("error_response takes an OAuthError")
    challenges: tuple[str, ...] = getattr(error, "challenges", ())
    status = error.status
    if challenges and isinstance(error, (InvalidDPoPProof, UseDPoPNonce)):
        status = 401
    headers: list[tuple[str, str]] = [("WWW-Authenticate", c) for c in challenges]
    if isinstance(error, UseDPoPNonce):
        headers.append(("DPoP-Nonce", error.nonce))
    headers.append(("Cache-Control", "no-store"))
    return Response(status=status, headers=headers)


# ----------------------------------------------------------------------------- the server


@dataclass(frozen=True, slots=True)
class _Presented:
    scheme: str  # "Bearer" or "DPoP"
    token: str
    now: float
    # What the JWT verifier gets: the instant read once here (UNIX seconds; no datetime).
    when: float


_new_presented: Final = frozen_builder(_Presented)


def _str_or_none(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidToken(f"{name} is not a string")
    return value


def _scopes(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, str):
        raise InvalidToken("scope is not a string")
    return frozenset(value.split())


def _audiences(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidToken("aud is missing or not a string or array of strings")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidToken(f"{name} is not a number")
    return float(value)


def _introspection_problem(
    claims: Mapping[str, Any],
    *,
    now: float,
    leeway: float,
    issuers: frozenset[str],
    resource: str,
) -> tuple[str, str] | None:
    """Why an active introspection answer is not acceptable here: ``(reason, kind)``."""
    exp = _number(claims, "exp")
    nbf = _number(claims, "nbf")
    iss = _str_or_none(claims, "iss")
    token_type = _str_or_none(claims, "token_type")
    if exp is not None and now - leeway >= exp:
        return "introspection: exp is in the past", "expired"
    if nbf is not None and nbf > now + leeway:
        return "introspection: nbf is in the future", "invalid"
    if iss is not None and iss not in issuers:
        return "introspection: unexpected iss", "invalid"
    if resource not in _audiences(claims.get("aud")):
        return "introspection: aud does not contain this resource", "invalid"
    if token_type is not None and token_type.lower() not in ("bearer", "dpop"):
        return "introspection: not an access token", "invalid"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fields:
    """The claims an :class:`AccessTokenInfo` reports, type-checked."""

    cnf: Mapping[str, Any]
    jkt: str | None
    scope: frozenset[str]
    audience: tuple[str, ...]
    subject: str | None
    client_id: str | None
    issuer: str | None
    jti: str | None
    expires_at: float | None

    @staticmethod
    def of(claims: Mapping[str, Any]) -> _Fields:
        """Read them.

        Raises:
            InvalidToken: If one has the wrong type.
        """
        cnf = claims.get("cnf", {})
        if not isinstance(cnf, dict):
            raise InvalidToken("cnf is not an object")
        jkt = cnf.get("jkt")
        if jkt is not None and not isinstance(jkt, str):
            raise InvalidToken("cnf.jkt is not a string")
        return _new_fields(
            cnf=cnf,
            jkt=jkt,
            scope=_scopes(claims.get("scope")),
            audience=_audiences(claims["aud"]) if "aud" in claims else (),
            subject=_str_or_none(claims, "sub"),
            client_id=_str_or_none(claims, "client_id"),
            issuer=_str_or_none(claims, "iss"),
            jti=_str_or_none(claims, "jti"),
            expires_at=_number(claims, "exp"),
        )


_new_fields: Final = frozen_builder(_Fields)


_IntroT = TypeVar("_IntroT", Introspector, AsyncIntrospector)


class _Core(Generic[_IntroT]):
    """Configuration and every step except fetching introspection answers."""

    _introspector_type: type[_IntroT]
    _awaits: ClassVar[bool] = False  # whether authenticate() awaits (then so may the stores)

    def __init__(  # noqa: C901 - one check per option
        self,
        *,
        resource: str,
        issuer: str | Iterable[str],
        keys: JWK | KeySet | KeyResolver | Sequence[JWK] | None = None,
        algorithms: Collection[str] | None = None,
        introspection: _IntroT | None = None,
        scopes: Iterable[str] = (),
        realm: str | None = None,
        bearer: bool = True,
        dpop_replay: OneTimeStore | AsyncOneTimeStore | None = None,
        dpop_algorithms: Collection[str] = dpop.DEFAULT_ALGORITHMS,
        dpop_nonces: dpop.NonceSource | None = None,
        dpop_iat_window: float = dpop.DEFAULT_IAT_WINDOW,
        leeway: float = 0,
        max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(cast("object", resource), str) or not resource:
            raise ConfigurationError("resource must be the non-empty audience of the tokens")
        issuers = strings_option(issuer, "issuer")
        kind = self._introspector_type
        if introspection is not None and not isinstance(introspection, kind):
            raise ConfigurationError(f"introspection must be an {kind.__name__}")
        if keys is None and introspection is None:
            raise ConfigurationError("pass keys= (JWT access tokens), introspection=, or both")
        self._verifier: JWTVerifier | None = None
        if keys is not None:
            if algorithms is None:
                raise ConfigurationError("algorithms is required with keys (e.g. ['ES256'])")
            self._verifier = JWTVerifier(
                keys,
                algorithms=algorithms,
                issuer=issuers,
                audience=resource,
                typ="at+jwt",
                required=_JWT_REQUIRED,
                leeway=leeway,
                max_size=max_token_size,
                clock=clock,
            )
        # The same allow-list rules as verify_proof (one home: the dpop module).
        self._dpop_algorithms = dpop._check_algorithms(dpop_algorithms)  # noqa: SLF001
        self._replay = self._replay_store(dpop_replay, dpop_nonces, dpop_iat_window)
        self._replay_awaited = is_async(self._replay, "add")
        if not bool_option(bearer, "bearer") and self._replay is None:
            raise ConfigurationError(
                "bearer=False needs dpop_replay= (DPoP would be the only scheme)"
            )
        if realm is not None and (
            not isinstance(cast("object", realm), str) or _UNQUOTABLE_RE.search(realm)
        ):
            raise ConfigurationError("realm must be printable ASCII without '\"' or '\\'")
        required = strings_option(scopes, "scopes", empty=True)
        if not all(_SCOPE_TOKEN_RE.fullmatch(s) for s in required):
            raise ConfigurationError("scopes must be RFC 6749 scope tokens")
        int_option(max_token_size, "max_token_size")
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigurationError("clock must have a now() method")
        self.resource: str = resource
        self._issuers = frozenset(issuers)
        self._introspection: _IntroT | None = introspection
        self._scopes = frozenset(required)
        self._realm = realm
        self._bearer = bool(bearer)
        self._nonces = dpop_nonces
        self._window = dpop_iat_window
        self._leeway = float(leeway)
        self._max_size = max_token_size
        self._clock = clock
        algs = " ".join(sorted(self._dpop_algorithms))
        self._bare: dict[str, str] = {}
        if self._bearer:
            self._bare["Bearer"] = _challenge("Bearer", [("realm", realm or "")])
        if self._replay is not None:
            self._bare["DPoP"] = _challenge("DPoP", [("realm", realm or ""), ("algs", algs)])
        self._algs = algs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(resource={self.resource!r})"

    def _replay_store(
        self, store: object, nonces: object, iat_window: object
    ) -> OneTimeStore | AsyncOneTimeStore | None:
        """The DPoP options, checked; the replay store if DPoP is on.

        The async server awaits an async store; the sync one refuses it (an un-awaited
        ``add`` is truthy: every replayed proof would pass).
        """
        replay = (
            check_store_or_async(store, "dpop_replay")
            if self._awaits
            else check_store(store, "dpop_replay")
        )
        if replay is not None:
            dpop._check_tuning(nonces, iat_window)  # noqa: SLF001
        elif nonces is not None:
            raise ConfigurationError("dpop_nonces needs dpop_replay= (DPoP is off without it)")
        return replay

    # -------------------------------------------------------------- challenges

    def _challenges(
        self, scheme: str | None, error: str, description: str, scope: str = ""
    ) -> tuple[str, ...]:
        """The bare challenge of every enabled scheme, the failing one with the error."""
        out: list[str] = []
        for name, bare in self._bare.items():
            if name != scheme:
                out.append(bare)
                continue
            params = [
                ("realm", self._realm or ""),
                ("error", error),
                ("error_description", description),
                ("scope", scope),
            ]
            if name == "DPoP":
                params.append(("algs", self._algs))
            out.append(_challenge(name, params))
        return tuple(out)

    def _invalid(self, scheme: str | None, reason: str, kind: str = "invalid") -> InvalidToken:
        exc = InvalidToken(reason, description=_DESCRIPTIONS[kind])
        exc.challenges = (
            tuple(self._bare.values())
            if kind == "missing"
            else self._challenges(scheme, "invalid_token", _DESCRIPTIONS[kind])
        )
        return exc

    # -------------------------------------------------------------- steps

    def _present(self, request: Request, now: Instant | None) -> _Presented:
        if not isinstance(request, Request):
            raise ConfigurationError("authenticate takes an authcore.http.Request")
        t = as_unix(now if now is not None else self._clock.now() if self._clock else None)
        try:
            auth = request.authorization()
        except MalformedHeader as exc:
            raise InvalidRequest(exc.reason, description="Malformed Authorization header") from None
        if auth is None:
            raise self._invalid(None, "no Authorization header", "missing")
        scheme = {"bearer": "Bearer", "dpop": "DPoP"}.get(auth.scheme)
        if scheme is None or scheme not in self._bare:
            raise self._invalid(None, "unsupported authentication scheme", "missing")
        if not auth.credentials:
            raise self._invalid(scheme, "empty credentials")
        if len(auth.credentials) > self._max_size:
            raise self._invalid(scheme, "access token is too large")
        return _new_presented(scheme=scheme, token=auth.credentials, now=t, when=t)

    def _jwt_claims(self, p: _Presented) -> dict[str, Any] | None:
        if self._verifier is None or p.token.count(".") != 2:  # noqa: PLR2004 - JWS segments
            return None
        try:
            return self._verifier.verify(p.token, now=p.when)
        except ExpiredToken as exc:
            raise self._invalid(p.scheme, f"jwt: {exc.reason}", "expired") from None
        except VerificationError as exc:
            raise self._invalid(p.scheme, f"jwt: {exc.reason}") from None

    def _begin(
        self, request: Request, now: Instant | None
    ) -> tuple[_Presented, dict[str, Any] | None, _IntroT | None]:
        """Steps 1 and 2 up to introspection: the JWT claims, or the introspector to ask."""
        p = self._present(request, now)
        claims = self._jwt_claims(p)
        if claims is not None:
            return p, claims, None
        if self._introspection is None:
            raise self._invalid(p.scheme, "not a JWT and no introspection configured")
        return p, None, self._introspection

    def _check_introspected(self, p: _Presented, claims: dict[str, Any]) -> dict[str, Any]:
        if claims.get("active") is not True:
            raise self._invalid(p.scheme, "introspection: token is not active")
        try:
            problem = _introspection_problem(
                claims,
                now=p.now,
                leeway=self._leeway,
                issuers=self._issuers,
                resource=self.resource,
            )
        except InvalidToken as exc:
            problem = (exc.reason, "invalid")
        if problem is not None:
            raise self._invalid(p.scheme, *problem)
        return claims

    def _finish(
        self,
        request: Request,
        p: _Presented,
        claims: dict[str, Any] | None,
        *,
        introspected: bool,
        scopes: frozenset[str],
        certificate: x509.Certificate | ClientIdentity | None,
        pending: list[tuple[str, float]] | None = None,
    ) -> AccessTokenInfo:
        """Every check after the token's own; ``pending`` collects DPoP replay keys to await."""
        if claims is None:  # pragma: no cover - _begin returns claims or an introspector
            raise self._invalid(p.scheme, "no token information")
        source = TokenSource.INTROSPECTION if introspected else TokenSource.JWT
        try:
            fields = _Fields.of(claims)
        except InvalidToken as exc:
            raise self._invalid(p.scheme, exc.reason) from None
        jkt = fields.jkt
        fresh = None
        if p.scheme == "Bearer" and jkt is not None:
            raise self._invalid("Bearer", "DPoP-bound token sent as Bearer", "bearer_bound")
        if p.scheme == "DPoP":
            if jkt is None:
                raise self._invalid("DPoP", "DPoP scheme with an unbound token", "unbound")
            fresh = self._proof(request, p, jkt, pending)
        x5t = self._certificate(p, fields.cnf, certificate) if "x5t#S256" in fields.cnf else None
        required = self._scopes | scopes
        missing = required - fields.scope
        if missing:
            denied = InsufficientTokenScope(
                missing=tuple(missing), description=_DESCRIPTIONS["scope"]
            )
            denied.challenges = self._challenges(
                p.scheme, "insufficient_scope", _DESCRIPTIONS["scope"], " ".join(sorted(required))
            )
            raise denied
        return _new_access_token_info(
            scheme=p.scheme,
            source=source,
            subject=fields.subject,
            client_id=fields.client_id,
            scope=fields.scope,
            audience=fields.audience,
            issuer=fields.issuer,
            expires_at=fields.expires_at,
            jti=fields.jti,
            jkt=jkt,
            x5t_s256=x5t,
            dpop_nonce=fresh,
            claims=MappingProxyType(claims),
        )

    def _certificate(
        self,
        p: _Presented,
        cnf: Mapping[str, Any],
        certificate: x509.Certificate | ClientIdentity | None,
    ) -> str:
        if certificate is None:
            raise self._invalid(
                p.scheme, "certificate-bound token without a certificate", "binding"
            )
        try:
            return check_binding(cnf, certificate)
        except VerificationError as exc:
            raise self._invalid(p.scheme, exc.reason, "binding") from None

    def _proof(
        self, request: Request, p: _Presented, jkt: str, pending: list[tuple[str, float]] | None
    ) -> str | None:
        """Check the proof; record its ``jti`` now (sync store) or add it to ``pending``."""
        replay = self._replay
        if replay is None:  # pragma: no cover - the DPoP scheme is refused without a store
            raise self._invalid("DPoP", "DPoP is not enabled")
        try:
            verified, key, expires = dpop._check_proof(  # noqa: SLF001 - same package
                request,
                algorithms=self._dpop_algorithms,
                access_token=p.token,
                jkt=jkt,
                nonces=self._nonces,
                iat_window=self._window,
                now=p.now,
            )
            if pending is not None:
                pending.append((key, expires))
            else:
                dpop._record(cast("OneTimeStore", replay), key, expires, p.now)  # noqa: SLF001
        except UseDPoPNonce as exc:
            exc.description = _DESCRIPTIONS["nonce"]
            exc.challenges = self._challenges("DPoP", "use_dpop_nonce", _DESCRIPTIONS["nonce"])
            raise
        except InvalidDPoPProof as exc:
            raise self._bad_proof(exc) from None
        return verified.fresh_nonce

    def _bad_proof(self, exc: InvalidDPoPProof) -> InvalidDPoPProof:
        exc.challenges = self._challenges("DPoP", "invalid_dpop_proof", _DESCRIPTIONS["proof"])
        return exc


_NO_SCOPES: Final[frozenset[str]] = frozenset()


def _required(scopes: Iterable[str]) -> frozenset[str]:
    if scopes == ():  # the default: nothing beyond the server's own scopes
        return _NO_SCOPES
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(strings_option(scopes, "scopes", empty=True))


@final
class ResourceServer(_Core[Introspector]):
    """Authenticate requests to a protected resource (see the module for every check).

    Build it once (it builds its JWT verifier once) and call :meth:`authenticate` per request.

    Args:
        resource: This resource's identifier: the ``aud`` tokens must carry.
        issuer: The accepted authorization server issuer(s).
        keys: The issuer's verification keys for JWT access tokens: a
            :class:`~authcore.jose.KeySet` or a :class:`~authcore.jose.jwks.JWKSCache`.
        algorithms: The accepted JWT ``alg`` values (required with ``keys``).
        introspection: An :class:`Introspector` for opaque tokens.
        scopes: Scopes every request needs.
        realm: The ``realm`` of the challenges.
        bearer: Accept the ``Bearer`` scheme (``False``: DPoP only).
        dpop_replay: The one-time store for DPoP proof ``jti`` values; the ``DPoP`` scheme is
            accepted only when it is given.
        dpop_algorithms: The accepted DPoP proof algorithms (sent as ``algs``).
        dpop_nonces: Require server nonces in DPoP proofs from this source.
        dpop_iat_window: Seconds a proof's ``iat`` may differ from now.
        leeway: Clock skew tolerated on ``exp``/``nbf``/``iat``.
        max_token_size: Cap on the access token's length.
        clock: The time source when ``authenticate`` gets no ``now``.

    Raises:
        ConfigurationError: On a missing or invalid option.

    .. versionadded:: 0.1.0
    """

    _introspector_type = Introspector

    def authenticate(
        self,
        request: Request,
        *,
        scopes: Iterable[str] = (),
        certificate: x509.Certificate | ClientIdentity | None = None,
        now: Instant | None = None,
    ) -> AccessTokenInfo:
        """Authenticate one request.

        Args:
            request: The request (its ``Authorization`` and ``DPoP`` headers, method, URL).
            scopes: Scopes this request needs, in addition to the server's.
            certificate: The TLS client certificate of the connection (for
                certificate-bound tokens).
            now: The current time (default: the clock).

        Returns:
            The accepted token's information.

        Raises:
            InvalidToken: No, or an unacceptable, access token (401, ``challenges``).
            InvalidDPoPProof, UseDPoPNonce: The DPoP proof failed (401, ``challenges``).
            InsufficientTokenScope: A required scope is missing (403, ``challenges``).
            InvalidRequest: The ``Authorization`` header is malformed or repeated (400).
            FetchError: Introspection failed (the authorization server's fault).
        """
        required = _required(scopes)  # the caller's option: checked before the request
        p, claims, introspector = self._begin(request, now)
        if introspector is not None:
            claims = self._check_introspected(p, introspector.introspect(p.token, now=p.now))
        return self._finish(
            request,
            p,
            claims,
            introspected=introspector is not None,
            scopes=required,
            certificate=certificate,
        )


@final
class AsyncResourceServer(_Core[AsyncIntrospector]):
    """:class:`ResourceServer` whose ``introspection`` is an :class:`AsyncIntrospector`.

    The same options and checks; only :meth:`authenticate` is ``async``.

    .. versionadded:: 0.1.0
    """

    _introspector_type = AsyncIntrospector
    _awaits = True

    async def authenticate(
        self,
        request: Request,
        *,
        scopes: Iterable[str] = (),
        certificate: x509.Certificate | ClientIdentity | None = None,
        now: Instant | None = None,
    ) -> AccessTokenInfo:
        """Authenticate one request (see :meth:`ResourceServer.authenticate`)."""
        required = _required(scopes)  # the caller's option: checked before the request
        p, claims, introspector = self._begin(request, now)
        if introspector is not None:
            answer = await introspector.introspect(p.token, now=p.now)
            claims = self._check_introspected(p, answer)
        pending: list[tuple[str, float]] | None = [] if self._replay_awaited else None
        info = self._finish(
            request,
            p,
            claims,
            introspected=introspector is not None,
            scopes=required,
            certificate=certificate,
            pending=pending,
        )
        for key, expires in pending or ():  # a DPoP proof's jti, to an async store
            store = cast("AsyncOneTimeStore", self._replay)
            added = await store.add(key, expires_at=as_datetime(expires), now=as_datetime(p.now))
            if not store_answer(added, store):
                raise self._bad_proof(dpop._replayed()) from None  # noqa: SLF001
        return info
