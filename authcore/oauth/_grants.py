"""Pure grant decisions: (parsed request, loaded records, policy, now, randoms) -> Decision.

Nothing here reads a clock, draws random numbers or touches a store: the drivers in
``_server.py`` load, call these functions and apply the effects.  Every lifecycle step goes
through :func:`authcore.oauth.lifecycle.transition`.

RFC sections followed: RFC 6749 sections 3.1.2 (redirect URIs), 3.3 (scope), 4.1 (code
grant), 4.4 (client credentials), 5 (token responses and errors), 6 (refresh); RFC 7636
(PKCE); RFC 8252 section 7.3 (loopback redirects); RFC 8628 (device grant); RFC 8707
(resource indicators); RFC 9068 (JWT access tokens); RFC 9126 (PAR); RFC 9207 (``iss``);
RFC 9700 sections 2.1, 4.8.2 and 4.14.2.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, TypeAlias, cast

from authcore._encoding import b64url_encode
from authcore._options import (
    bool_option,
    bool_problem,
    int_option,
    int_problem,
    strings_option,
    strings_problem,
)
from authcore.clock import as_datetime
from authcore.errors import (
    AccessDenied,
    AuthorizationPending,
    ConfigurationError,
    DeviceCodeExpired,
    InvalidGrant,
    InvalidRedirectURI,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    SlowDown,
    UnauthorizedClient,
    UnknownClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UseDPoPNonce,
)
from authcore.http import Headers, Response, split_url
from authcore.oauth import dpop, pkce
from authcore.oauth import lifecycle as lc
from authcore.oauth._clients import ClientRecord, is_loopback
from authcore.oauth._model import (
    AccessToken,
    Artefact,
    AuthorizationCode,
    Decision,
    DeviceCode,
    Effect,
    Family,
    Insert,
    RefreshToken,
    RevokeFamily,
    SaveFamily,
    TokenFormat,
    Update,
    digest,
)

if TYPE_CHECKING:
    from authcore.jose.keyring import KeyRing

__all__ = [
    "DEVICE_GRANT",
    "MAX_CODE_LIFETIME",
    "IntrospectionRule",
    "PendingAuthorization",
    "Policy",
    "Randoms",
    "RefreshFamilies",
    "RefreshOutcome",
    "may_introspect",
    "resource_servers",
]

DEVICE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
MAX_CODE_LIFETIME: Final = 600
"""RFC 6749 section 4.1.2: "A maximum authorization code lifetime of 10 minutes"."""
MAX_PARAMETER_LENGTH: Final = 2048
"""Every request parameter is bounded before any other check (CVE-2022-36087 class)."""
USER_CODE_ALPHABET: Final = "BCDFGHJKLMNPQRSTVWXZ"
"""RFC 8628 section 6.1: 20 consonants, no vowels, no look-alikes."""

_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_THUMBPRINT: Final = re.compile(r"[A-Za-z0-9_-]{43}")
"""An RFC 7638 SHA-256 thumbprint, base64url without padding (``dpop_jkt``, ``cnf.jkt``)."""

IntrospectionRule: TypeAlias = Callable[[ClientRecord, Mapping[str, object]], bool]
"""Who may learn about an active token, as ``rule(client, answer) -> bool``.

``client`` is the authenticated, confidential client calling the introspection endpoint;
``answer`` is the RFC 7662 answer it would get (``token_type``, ``client_id``, ``aud``,
``scope``, ``sub``, ...), read-only down to its members (``aud`` is a tuple).  ``False``
turns the answer into ``{"active": false}``; anything but a ``bool`` is a
:class:`~authcore.errors.ConfigurationError`.
"""


def may_introspect(client: ClientRecord, answer: Mapping[str, object]) -> bool:
    """The default :data:`IntrospectionRule`: the token's own client, or its audience.

    RFC 7662 section 4 says the server "SHOULD require protected resources to be
    specifically authorized to call the introspection endpoint"; without that, any client,
    including one registered only to test stolen tokens, learns whether a token works and
    whose it is.  So a client may introspect the tokens issued to it, and an access token
    whose ``aud`` names its ``client_id``; a refresh token only its own client (a resource
    server never holds one).  A resource server that authenticates with a client of its
    own and is not in the tokens' audience is named with :func:`resource_servers`.

    .. versionadded:: 0.1.0
    """
    if answer.get("client_id") == client.client_id:
        return True
    audience = answer.get("aud")
    return (
        answer.get("token_type") != "refresh_token"
        and isinstance(audience, (list, tuple))
        and client.client_id in audience
    )


def resource_servers(*client_ids: str) -> IntrospectionRule:
    """A rule that also lets these clients introspect every access token (not refresh tokens).

    For resource servers that authenticate at the introspection endpoint with clients of
    their own (RFC 7662 section 2.1); everyone else gets :func:`may_introspect`::

        Policy(introspection_rule=resource_servers("payments-api", "photos-api"))

    Raises:
        ConfigurationError: Without a client id, or one that is not a non-empty string.

    .. versionadded:: 0.1.0
    """
    allowed = frozenset(strings_option(client_ids, "resource_servers client ids"))

    def rule(client: ClientRecord, answer: Mapping[str, object]) -> bool:
        if client.client_id in allowed and answer.get("token_type") != "refresh_token":
            return True
        return may_introspect(client, answer)

    return rule


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The server's rules; every default is the secure choice.

    Attributes:
        scopes: Scopes the server knows (empty: any scope the client registered).
        default_scope: Scope granted when a request names none.
        code_lifetime: Authorization code lifetime, seconds (default 60, at most 600).
        access_token_lifetime: Seconds.
        access_token_format: JWT (RFC 9068, needs a key ring) or opaque.
        refresh_token_lifetime: Absolute lifetime of a refresh family, seconds.
        refresh_idle_lifetime: Idle lifetime of a refresh token, seconds (``None``: none).
        rotate_refresh_tokens: Rotate on every use (always on for public clients).
        require_pkce: Require a PKCE challenge from every client.
        allow_plain_pkce: Accept ``plain`` (off: S256 only).
        require_pushed_authorization_requests: Refuse authorization requests without PAR.
        par_lifetime: Lifetime of a pushed request, seconds.
        device_code_lifetime: Seconds.
        device_interval: Initial polling interval, seconds (RFC 8628 default 5).
        resources: Resource indicators clients may request (RFC 8707).
        default_audience: ``aud`` of tokens issued without a resource (default: the issuer).
        max_body_size: Largest accepted request body, bytes.
        user_code_attempts: User-code entries allowed per minute and rate-limit key.
        require_dpop: Refuse token requests without a DPoP proof (RFC 9449); off, a proof
            is optional and binds the tokens when sent.
        dpop_algorithms: The DPoP proof algorithms accepted (asymmetric only).
        introspection_rule: Which authenticated client may see an active token at the
            introspection endpoint (:func:`may_introspect`: its own client or audience).

    .. versionadded:: 0.1.0
    """

    scopes: tuple[str, ...] = ()
    default_scope: tuple[str, ...] = ()
    code_lifetime: int = 60
    access_token_lifetime: int = 600
    access_token_format: TokenFormat = TokenFormat.JWT
    refresh_token_lifetime: int = 30 * 86400
    refresh_idle_lifetime: int | None = 7 * 86400
    rotate_refresh_tokens: bool = True
    require_pkce: bool = True
    allow_plain_pkce: bool = False
    require_pushed_authorization_requests: bool = False
    par_lifetime: int = 60
    device_code_lifetime: int = 600
    device_interval: int = 5
    resources: tuple[str, ...] = ()
    default_audience: tuple[str, ...] = ()
    max_body_size: int = 16384
    user_code_attempts: int = 5
    require_dpop: bool = False
    dpop_algorithms: tuple[str, ...] = dpop.DEFAULT_ALGORITHMS
    introspection_rule: IntrospectionRule = may_introspect

    def __post_init__(self) -> None:
        # RFC 6749 section 4.1.2: a code lives 10 minutes at most.
        checks = [int_problem(self.code_lifetime, "code_lifetime", high=MAX_CODE_LIFETIME)]
        checks.extend(
            int_problem(getattr(self, name), name)
            for name in (
                "access_token_lifetime",
                "refresh_token_lifetime",
                "par_lifetime",
                "device_code_lifetime",
                "device_interval",
                "max_body_size",
                "user_code_attempts",
            )
        )
        if self.refresh_idle_lifetime is not None:
            checks.append(int_problem(self.refresh_idle_lifetime, "refresh_idle_lifetime"))
        problems = [problem for problem in checks if problem is not None]
        problems.extend(
            problem
            for name in (
                "scopes",
                "default_scope",
                "resources",
                "default_audience",
                "dpop_algorithms",
            )
            if (problem := strings_problem(getattr(self, name), name)) is not None
        )
        problems.extend(
            problem
            for name in (
                "rotate_refresh_tokens",
                "require_pkce",
                "allow_plain_pkce",
                "require_pushed_authorization_requests",
                "require_dpop",
            )
            if (problem := bool_problem(getattr(self, name), name)) is not None
        )
        format_: object = self.access_token_format
        if not isinstance(format_, TokenFormat):
            problems.append("access_token_format must be a TokenFormat")
        problems.extend(self._dpop_problems())
        rule: object = self.introspection_rule
        if not callable(rule):
            problems.append("introspection_rule must be callable")
        if problems:
            raise ConfigurationError(errors=tuple(problems))

    def _dpop_problems(self) -> list[str]:
        problems: list[str] = []
        if strings_problem(self.dpop_algorithms, "dpop_algorithms") is None:  # else listed
            try:
                dpop._check_algorithms(self.dpop_algorithms)  # noqa: SLF001 - one validation
            except ConfigurationError as exc:
                problems.append(f"dpop_algorithms: {exc.detail}")
        return problems


class Randoms:
    """Random values drawn by the driver before a decision (decisions draw none).

    Built from one read of the OS CSPRNG (:data:`RANDOM_BYTES`), which is cut into 128-bit
    ids and 256-bit secrets, base64url-encoded when a decision reads them: most decisions
    use two or three of the seven.

    Args:
        raw: :data:`RANDOM_BYTES` random bytes.
        user_code: A device-flow user code drawn from the same source (empty when the
            decision issues none).
    """

    def __init__(self, raw: bytes, *, user_code: str = "") -> None:
        if len(raw) != RANDOM_BYTES:
            raise ConfigurationError(f"Randoms needs {RANDOM_BYTES} random bytes")
        self._raw = raw
        self.user_code = user_code

    def __repr__(self) -> str:
        return "Randoms(<redacted>)"

    @property
    def family_id(self) -> str:
        """A 128-bit grant-family id."""
        return b64url_encode(self._raw[0:16])

    @property
    def jti(self) -> str:
        """A 128-bit JWT id."""
        return b64url_encode(self._raw[16:32])

    @property
    def code(self) -> str:
        """A 256-bit authorization code."""
        return b64url_encode(self._raw[32:64])

    @property
    def access(self) -> str:
        """A 256-bit opaque access token."""
        return b64url_encode(self._raw[64:96])

    @property
    def refresh(self) -> str:
        """A 256-bit refresh token."""
        return b64url_encode(self._raw[96:128])

    @property
    def device(self) -> str:
        """A 256-bit device code."""
        return b64url_encode(self._raw[128:160])

    @property
    def request_ref(self) -> str:
        """A 256-bit pushed-request reference."""
        return b64url_encode(self._raw[160:192])


RANDOM_BYTES: Final = 192
"""Two 128-bit ids and five 256-bit secrets."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingAuthorization:
    """A validated authorization request, waiting for the resource owner's decision.

    Hold it server-side (in the user's session) while showing the consent page, then pass it
    to ``complete_authorization``.

    Attributes:
        client_id: The client.
        redirect_uri: The validated redirect URI.
        redirect_uri_sent: Whether the request named it.
        scope: The requested scopes.
        state: The client's ``state``, echoed byte for byte.
        code_challenge: The PKCE challenge (``None`` when PKCE is not required and absent).
        code_challenge_method: Its method.
        resource: Requested resource indicators.
        dpop_jkt: The DPoP key thumbprint the code will be bound to (RFC 9449 section 10).

    .. versionadded:: 0.1.0
    """

    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    scope: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    resource: tuple[str, ...] = ()
    dpop_jkt: str | None = None


@dataclass(frozen=True, slots=True)
class ValidatedRedirect:
    """A redirect URI checked against the client's registration: the only redirect target."""

    uri: str
    state: str | None


# ----------------------------------------------------------------------------- responses


def json_error(exc: OAuthError) -> Response:
    """A JSON error response (RFC 6749 section 5.2), with the 401 challenge when set."""
    body: dict[str, str] = {"error": exc.error}
    if exc.description:
        body["error_description"] = _safe_description(exc.description)
    headers: list[tuple[str, str]] = []
    if isinstance(exc, UseDPoPNonce):
        headers.append(("DPoP-Nonce", exc.nonce))
    challenge = getattr(exc, "challenge", None)
    status = exc.status
    if isinstance(challenge, str):
        status = 401
        headers.append(("WWW-Authenticate", challenge))
    return Response.json(status, body, headers=headers)


def _safe_description(text: str) -> str:
    # RFC 6749 section 5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
    return "".join(c for c in text[:200] if c.isascii() and c.isprintable() and c not in '"\\')


def redirect(target: ValidatedRedirect, params: Mapping[str, str], *, issuer: str) -> Response:
    """A 302 to a validated redirect URI with ``params``, ``state`` and ``iss`` (RFC 9207)."""
    values = dict(params)
    if target.state is not None:
        values["state"] = target.state
    values["iss"] = issuer
    separator = "&" if split_url(target.uri).query else "?"
    location = target.uri + separator + urllib.parse.urlencode(values)
    return Response(
        status=302, headers=Headers([("Location", location), ("Cache-Control", "no-store")])
    )


def redirect_error(target: ValidatedRedirect, exc: OAuthError, *, issuer: str) -> Response:
    """Send a redirectable error to a validated URI; anything else becomes a JSON page."""
    if not exc.redirectable:
        return json_error(exc)
    params = {"error": exc.error}
    if exc.description:
        params["error_description"] = _safe_description(exc.description)
    return redirect(target, params, issuer=issuer)


def token_response(body: Mapping[str, object]) -> Response:
    """A 200 JSON token response with ``Cache-Control: no-store`` (RFC 6749 section 5.1)."""
    return Response.json(200, dict(body))


# ----------------------------------------------------------------------------- parameters


def bounded(params: Mapping[str, str]) -> dict[str, str]:
    """Refuse over-long parameters and treat empty values as absent (RFC 6749 section 3.1).

    Raises:
        InvalidRequest: If a value is longer than :data:`MAX_PARAMETER_LENGTH`.
    """
    for name, value in params.items():
        if len(name) > MAX_PARAMETER_LENGTH or len(value) > MAX_PARAMETER_LENGTH:
            raise InvalidRequest(f"parameter {name[:40]!r} is too long")
    return {k: v for k, v in params.items() if v != ""}


def parse_scope(value: str | None) -> tuple[str, ...] | None:
    """Split a ``scope`` parameter (RFC 6749 section 3.3); ``None`` when absent.

    Raises:
        InvalidScope: On characters outside the scope-token grammar.
    """
    if value is None:
        return None
    tokens = value.split(" ")
    if any(_SCOPE_TOKEN.fullmatch(t) is None for t in tokens):
        raise InvalidScope("scope is not a space-separated list of scope tokens")
    return tuple(sorted(set(tokens)))


def choose_scope(
    requested: tuple[str, ...] | None, client: ClientRecord, policy: Policy
) -> tuple[str, ...]:
    """The scopes to grant: requested ones, all known to the server and the client.

    Raises:
        InvalidScope: If a requested scope is not allowed.
    """
    scope = requested if requested is not None else policy.default_scope
    allowed_client = set(client.scope)
    allowed_server = set(policy.scopes)
    for item in scope:
        if (allowed_client and item not in allowed_client) or (
            allowed_server and item not in allowed_server
        ):
            raise InvalidScope("a requested scope is not allowed")
    if not allowed_client and not allowed_server and requested:
        raise InvalidScope("no scopes are configured")
    return tuple(sorted(set(scope)))


def parse_resource(value: str | None, policy: Policy) -> tuple[str, ...]:
    """Check a ``resource`` indicator (RFC 8707 section 2).

    Raises:
        InvalidTarget: Unless it is an absolute URI without fragment that the policy allows.
    """
    if value is None:
        return ()
    try:
        parts = split_url(value)
    except ValueError:
        raise InvalidTarget("resource is not a URI") from None
    if not parts.scheme or not parts.netloc or "#" in value:
        raise InvalidTarget("resource must be an absolute URI without a fragment")
    if value not in policy.resources:
        raise InvalidTarget("resource is not allowed")
    return (value,)


def match_redirect(client: ClientRecord, requested: str | None) -> tuple[str, bool]:
    """Resolve the redirect URI (RFC 6749 section 3.1.2.3, RFC 8252 section 7.3).

    Returns:
        ``(uri, sent)``: the URI to use, and whether the request named it.

    Raises:
        InvalidRedirectURI: If it is missing with several registered, or matches none.
    """
    if requested is None:
        if len(client.redirect_uris) == 1:
            return client.redirect_uris[0], False
        raise InvalidRedirectURI("redirect_uri is required")
    for registered in client.redirect_uris:
        if requested == registered:
            return requested, True
    if client.application_type == "native" and _loopback_match(client.redirect_uris, requested):
        return requested, True
    raise InvalidRedirectURI("redirect_uri is not registered")


def _loopback_match(registered: tuple[str, ...], requested: str) -> bool:
    try:
        want = split_url(requested)
        want_port = want.port
    except ValueError:
        return False
    # RFC 9700 section 4.1.3: exact matching but for the port; the scheme is not folded.
    if not requested.startswith("http://") or not is_loopback(want.hostname) or "#" in requested:
        return False
    del want_port
    for uri in registered:
        have = split_url(uri)
        if (
            have.scheme == "http"
            and have.hostname == want.hostname
            and have.path == want.path
            and have.query == want.query
            and "@" not in want.netloc
        ):
            return True
    return False


def validate_target(params: Mapping[str, str], client: ClientRecord | None) -> ValidatedRedirect:
    """Validate ``client_id`` and ``redirect_uri``: every error here is never redirected.

    Raises:
        UnknownClient: For a missing or unknown client.
        InvalidRedirectURI: For a missing, malformed or unregistered redirect URI.
    """
    if client is None or client.client_id != params.get("client_id"):
        raise UnknownClient("client_id is missing or unknown")
    uri, _ = match_redirect(client, params.get("redirect_uri"))
    return ValidatedRedirect(uri, params.get("state"))


def validate_authorization(
    params: Mapping[str, str], client: ClientRecord, policy: Policy, *, pushed: bool
) -> PendingAuthorization:
    """Validate the rest of an authorization request (after :func:`validate_target`).

    Raises:
        OAuthError: A redirectable error (unsupported response type, scope, PKCE, target).
    """
    uri, sent = match_redirect(client, params.get("redirect_uri"))
    if params.get("response_type") != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient("client may not use the authorization code grant")
    if policy.require_pushed_authorization_requests and not pushed:
        raise InvalidRequest("pushed authorization requests are required")
    scope = choose_scope(parse_scope(params.get("scope")), client, policy)
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        # RFC 9700 section 2.1.1: public clients always use PKCE, whatever the policy.
        if policy.require_pkce or client.is_public or method is not None:
            raise InvalidRequest("code_challenge is required (PKCE S256)")
    else:
        challenge, method = pkce.check_challenge(
            challenge, method, allow_plain=policy.allow_plain_pkce
        )
    resource = parse_resource(params.get("resource"), policy)
    dpop_jkt = params.get("dpop_jkt")
    if dpop_jkt is not None and not _THUMBPRINT.fullmatch(dpop_jkt):
        raise InvalidRequest("dpop_jkt is not a SHA-256 JWK thumbprint (RFC 9449 section 10)")
    return PendingAuthorization(
        client_id=client.client_id,
        redirect_uri=uri,
        redirect_uri_sent=sent,
        scope=scope,
        state=params.get("state"),
        code_challenge=challenge,
        code_challenge_method=method if challenge is not None else None,
        resource=resource,
        dpop_jkt=dpop_jkt,
    )


def duplicates_refused(exc: Exception) -> InvalidRequest:
    """The error for a request whose parameters could not be parsed strictly."""
    return InvalidRequest(f"malformed parameters: {getattr(exc, 'reason', '')}")


# ----------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class Issuer:
    """What token minting needs besides the grant: issuer id, keys, policy, now, randoms."""

    issuer: str
    keys: KeyRing | None
    policy: Policy
    now: float
    randoms: Randoms


def issue_tokens(
    ctx: Issuer,
    family: Family,
    *,
    scope: tuple[str, ...],
    refresh: RefreshToken | None,
    refresh_secret: str | None,
    jkt: str | None = None,
) -> tuple[dict[str, object], tuple[Effect, ...]]:
    """Mint an access token for ``family`` (and attach a refresh token already decided).

    ``jkt`` is the thumbprint of the request's verified DPoP proof key: the token is then
    bound to it (``cnf.jkt``, ``token_type: DPoP``, RFC 9449 section 5), besides any
    certificate binding of the family.

    Returns:
        The token response body and the effects recording the access token.
    """
    policy, now = ctx.policy, ctx.now
    expires_at = now + policy.access_token_lifetime
    audience = family.resource or policy.default_audience or (ctx.issuer,)
    cnf = dict(family.cnf)
    if jkt is not None:
        cnf["jkt"] = jkt
    if policy.access_token_format is TokenFormat.JWT:
        if ctx.keys is None:
            raise ConfigurationError("JWT access tokens need a KeyRing (keys=)")
        claims: dict[str, object] = {
            "iss": ctx.issuer,
            "sub": family.subject if family.subject is not None else family.client_id,
            "aud": audience[0] if len(audience) == 1 else list(audience),
            "client_id": family.client_id,
            "iat": int(now),
            "exp": int(expires_at),
            "jti": ctx.randoms.jti,
        }
        if scope:
            claims["scope"] = " ".join(scope)
        if cnf:
            claims["cnf"] = cnf
        token = ctx.keys.sign_jwt(claims, headers={"typ": "at+jwt"}, now=as_datetime(now))
        key = digest("jti:" + ctx.randoms.jti)
    else:
        token = ctx.randoms.access
        key = digest(token)
    record = AccessToken(
        digest=key,
        family_id=family.family_id,
        client_id=family.client_id,
        subject=family.subject,
        scope=scope,
        audience=tuple(audience),
        issued_at=now,
        expires_at=expires_at,
        cnf=tuple(sorted(cnf.items())),
    )
    body: dict[str, object] = {
        "access_token": token,
        "token_type": "DPoP" if "jkt" in cnf else "Bearer",
        "expires_in": policy.access_token_lifetime,
    }
    if scope:  # RFC 6749 section 5.1: omitted when there is none (never "")
        body["scope"] = " ".join(scope)
    effects: list[Effect] = [Insert(record=record)]
    if refresh is not None and refresh_secret is not None:
        body["refresh_token"] = refresh_secret
    return body, tuple(effects)


def advance(record: Artefact, **changes: object) -> Update:
    """Compare-and-set ``record`` to a copy with ``changes`` and the next version."""
    return Update(
        record=replace(record, **changes, version=record.version + 1),  # type: ignore[arg-type]
        expected_version=record.version,
    )


# ----------------------------------------------------------------------------- refresh families


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshOutcome:
    """The result of presenting a refresh token.

    Attributes:
        error: The error to answer (``None`` on success).
        effects: What to apply (also on error: reuse revokes the family).
        family: The family (on success).
        scope: The scopes of the new access token (on success).
        successor: The new refresh token record (rotation) or the touched one.
        secret: The refresh token to hand out (the new one, or the presented one).

    .. versionadded:: 0.1.0
    """

    error: OAuthError | None
    effects: tuple[Effect, ...] = ()
    family: Family | None = None
    scope: tuple[str, ...] = ()
    successor: RefreshToken | None = None
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshFamilies:
    """Refresh-token families as a pure component (RFC 9700 section 4.14.2).

    Starting a family and presenting a token return effects for any
    :class:`~authcore.oauth.GrantStore`; reuse of a rotated token revokes the whole family,
    newest token included.  A first-party session issuer can use this without the rest of
    the OAuth server.

    Attributes:
        absolute_lifetime: Seconds from the family's creation to its end.
        idle_lifetime: Seconds a refresh token may sit unused (``None``: no idle limit).
        rotate: Issue a new refresh token at every use.

    .. versionadded:: 0.1.0
    """

    absolute_lifetime: int
    idle_lifetime: int | None = None
    rotate: bool = True

    def __post_init__(self) -> None:
        int_option(self.absolute_lifetime, "absolute_lifetime")
        if self.idle_lifetime is not None:
            int_option(self.idle_lifetime, "idle_lifetime")
        bool_option(self.rotate, "rotate")

    def _expiry(self, family: Family, now: float) -> float:
        if self.idle_lifetime is None:
            return family.expires_at
        return min(family.expires_at, now + self.idle_lifetime)

    def start(
        self,
        *,
        family_id: str,
        client_id: str,
        subject: str | None,
        scope: tuple[str, ...],
        resource: tuple[str, ...] = (),
        cnf: tuple[tuple[str, str], ...] = (),
        secret: str,
        now: float,
    ) -> tuple[Family, RefreshToken, tuple[Effect, ...]]:
        """Create a family and its first refresh token (``secret`` is the token to hand out)."""
        family = Family(
            family_id=family_id,
            client_id=client_id,
            subject=subject,
            scope=scope,
            resource=resource,
            created_at=now,
            expires_at=now + self.absolute_lifetime,
            cnf=cnf,
        )
        token = RefreshToken(
            digest=digest(secret),
            family_id=family_id,
            client_id=client_id,
            scope=scope,
            issued_at=now,
            expires_at=self._expiry(family, now),
            last_used_at=now,
        )
        return (
            family,
            token,
            (SaveFamily(family=family, expected_version=None), Insert(record=token)),
        )

    def present(  # noqa: PLR0911 - one branch per lifecycle state
        self,
        *,
        record: Artefact | None,
        family: Family | None,
        client_id: str,
        scope: tuple[str, ...] | None,
        secret: str,
        new_secret: str,
        now: float,
        public_client: bool = False,
    ) -> RefreshOutcome:
        """Decide a refresh: rotate, refuse, or detect reuse and revoke the family.

        Args:
            record: What the store holds under the presented token's digest.
            family: Its family.
            client_id: The authenticated client.
            scope: Requested scopes (``None``: the family's).
            secret: The presented token.
            new_secret: The successor to hand out when rotating.
            now: UNIX seconds.
            public_client: Public clients are always rotated (RFC 9700 section 2.2.2).
        """
        if not isinstance(record, RefreshToken) or family is None:
            return RefreshOutcome(error=InvalidGrant("unknown refresh token"))
        if record.client_id != client_id or family.client_id != client_id:
            return RefreshOutcome(error=InvalidGrant("refresh token issued to another client"))
        if record.state in {lc.RefreshState.ROTATED, lc.RefreshState.REUSE_DETECTED}:
            new_state = lc.transition(lc.REFRESH_TRANSITIONS, record.state, lc.Reuse())
            return RefreshOutcome(
                error=InvalidGrant("refresh token reused: family revoked"),
                effects=(
                    advance(record, state=new_state),
                    RevokeFamily(family_id=family.family_id, client_id=client_id, at=now),
                ),
            )
        if family.revoked or record.state is not lc.RefreshState.ACTIVE:
            return RefreshOutcome(error=InvalidGrant("refresh token revoked or expired"))
        if now >= record.expires_at or now >= family.expires_at:
            expired = lc.transition(lc.REFRESH_TRANSITIONS, record.state, lc.Expire())
            return RefreshOutcome(
                error=InvalidGrant("refresh token expired"),
                effects=(advance(record, state=expired),),
            )
        granted = family.scope if scope is None else scope
        if not set(granted) <= set(family.scope):
            return RefreshOutcome(error=InvalidScope("scope exceeds the original grant"))
        if self.rotate or public_client:
            rotated = lc.transition(lc.REFRESH_TRANSITIONS, record.state, lc.Rotate())
            successor = RefreshToken(
                digest=digest(new_secret),
                family_id=family.family_id,
                client_id=client_id,
                scope=family.scope,
                issued_at=now,
                expires_at=self._expiry(family, now),
                last_used_at=now,
            )
            effects: tuple[Effect, ...] = (
                advance(record, state=rotated),
                Insert(record=successor),
            )
            return RefreshOutcome(
                error=None,
                effects=effects,
                family=family,
                scope=tuple(sorted(granted)),
                successor=successor,
                secret=new_secret,
            )
        touch = advance(record, last_used_at=now, expires_at=self._expiry(family, now))
        return RefreshOutcome(
            error=None,
            effects=(touch,),
            family=family,
            scope=tuple(sorted(granted)),
            successor=cast("RefreshToken", touch.record),
            secret=secret,
        )


def families(policy: Policy) -> RefreshFamilies:
    """The refresh-family rules of a policy."""
    return RefreshFamilies(
        absolute_lifetime=policy.refresh_token_lifetime,
        idle_lifetime=policy.refresh_idle_lifetime,
        rotate=policy.rotate_refresh_tokens,
    )


# ----------------------------------------------------------------------------- token grants


def _error(exc: OAuthError, effects: tuple[Effect, ...] = ()) -> Decision:
    return Decision(response=json_error(exc), effects=effects)


def _new_family(  # noqa: PLR0917 - private; one call per grant
    ctx: Issuer,
    client: ClientRecord,
    subject: str | None,
    scope: tuple[str, ...],
    resource: tuple[str, ...],
    cnf: tuple[tuple[str, str], ...],
    family_id: str,
    jkt: str | None = None,
) -> Decision:
    """Issue tokens into a new family (code, device code) or a one-off (client credentials).

    With a DPoP proof (``jkt``), a public client's refresh tokens are bound to its key
    (RFC 9449 section 5): the family records ``jkt`` and every refresh must prove it.
    """
    refresh_allowed = subject is not None and "refresh_token" in client.grant_types
    if jkt is not None and client.is_public:
        cnf = tuple(sorted({**dict(cnf), "jkt": jkt}.items()))
    effects: list[Effect] = []
    if refresh_allowed:
        family, token, started = families(ctx.policy).start(
            family_id=family_id,
            client_id=client.client_id,
            subject=subject,
            scope=scope,
            resource=resource,
            cnf=cnf,
            secret=ctx.randoms.refresh,
            now=ctx.now,
        )
        effects.extend(started)
    else:
        family = Family(
            family_id=family_id,
            client_id=client.client_id,
            subject=subject,
            scope=scope,
            resource=resource,
            created_at=ctx.now,
            expires_at=ctx.now + ctx.policy.access_token_lifetime,
            cnf=cnf,
        )
        token = None
        effects.append(SaveFamily(family=family, expected_version=None))
    body, access = issue_tokens(
        ctx, family, scope=scope, refresh=token, refresh_secret=ctx.randoms.refresh, jkt=jkt
    )
    return Decision(response=token_response(body), effects=(*effects, *access))


def _cnf(thumbprint: str | None) -> tuple[tuple[str, str], ...]:
    return (("x5t#S256", thumbprint),) if thumbprint is not None else ()


def decide_authorization_code(  # noqa: PLR0911 - the RFC's checks in order
    ctx: Issuer,
    form: Mapping[str, str],
    client: ClientRecord,
    record: Artefact | None,
    *,
    thumbprint: str | None = None,
    jkt: str | None = None,
) -> Decision:
    """Redeem an authorization code (RFC 6749 section 4.1.3, RFC 7636 section 4.6).

    Order (node-oidc-provider's, so an invalid replay cannot revoke): the code exists and
    belongs to this client, ``redirect_uri`` matches, PKCE verifies, the DPoP key matches
    the ``dpop_jkt`` of the authorization request (RFC 9449 section 10); only then is a
    used code a (valid) replay that revokes the grant.
    """
    if not isinstance(record, AuthorizationCode):
        return _error(InvalidGrant("unknown authorization code"))
    if record.client_id != client.client_id:
        return _error(InvalidGrant("code issued to another client"))
    sent = form.get("redirect_uri")
    if (record.redirect_uri_sent or sent is not None) and sent != record.redirect_uri:
        return _error(InvalidGrant("redirect_uri does not match the authorization request"))
    try:
        pkce.verify(form.get("code_verifier"), record.code_challenge, record.code_challenge_method)
    except InvalidGrant as exc:
        return _error(exc)
    if record.dpop_jkt is not None and jkt != record.dpop_jkt:
        return _error(InvalidGrant("the DPoP proof key does not match the code's dpop_jkt"))
    if record.state in {lc.CodeState.REDEEMED, lc.CodeState.REPLAYED}:
        replayed = lc.transition(lc.CODE_TRANSITIONS, record.state, lc.Replay())
        return _error(
            InvalidGrant("authorization code already used: grant revoked"),
            (
                advance(record, state=replayed),
                RevokeFamily(family_id=record.family_id, client_id=client.client_id, at=ctx.now),
            ),
        )
    if record.state is not lc.CodeState.ISSUED:
        return _error(InvalidGrant("authorization code expired"))
    if ctx.now >= record.expires_at:
        expired = lc.transition(lc.CODE_TRANSITIONS, record.state, lc.Expire())
        return _error(
            InvalidGrant("authorization code expired"),
            (advance(record, state=expired),),
        )
    redeemed = lc.transition(lc.CODE_TRANSITIONS, record.state, lc.Redeem())
    return _redeem(ctx, client, record, redeemed, thumbprint, jkt)


def _redeem(  # noqa: PLR0917 - private; two callers
    ctx: Issuer,
    client: ClientRecord,
    record: AuthorizationCode | DeviceCode,
    redeemed: lc.CodeState | lc.DeviceState,
    thumbprint: str | None,
    jkt: str | None,
) -> Decision:
    """Consume a code (compare-and-set) and issue tokens into its family, as one decision."""
    issued = _new_family(
        ctx,
        client,
        record.subject,
        record.scope,
        record.resource,
        _cnf(thumbprint),
        record.family_id,
        jkt,
    )
    consume = advance(record, state=redeemed)
    return Decision(response=issued.response, effects=(consume, *issued.effects))


def decide_client_credentials(
    ctx: Issuer,
    form: Mapping[str, str],
    client: ClientRecord,
    *,
    thumbprint: str | None = None,
    jkt: str | None = None,
) -> Decision:
    """Issue an access token to a confidential client for itself (RFC 6749 section 4.4)."""
    if client.is_public:
        return _error(UnauthorizedClient("public clients cannot use client_credentials"))
    try:
        scope = choose_scope(parse_scope(form.get("scope")), client, ctx.policy)
        resource = parse_resource(form.get("resource"), ctx.policy)
    except OAuthError as exc:
        return _error(exc)
    return _new_family(
        ctx, client, None, scope, resource, _cnf(thumbprint), ctx.randoms.family_id, jkt
    )


def decide_refresh(
    ctx: Issuer,
    form: Mapping[str, str],
    client: ClientRecord,
    record: Artefact | None,
    family: Family | None,
    *,
    jkt: str | None = None,
) -> Decision:
    """Refresh (RFC 6749 section 6) with rotation and reuse detection (RFC 9700 4.14.2).

    A family bound to a DPoP key (a public client's, RFC 9449 section 5) is refreshed only
    with a proof of that key; the check comes after the token is found to be this client's,
    so a wrong proof cannot be used to probe other families.
    """
    try:
        scope = parse_scope(form.get("scope"))
    except OAuthError as exc:
        return _error(exc)
    bound = dict(family.cnf).get("jkt") if family is not None else None
    if (
        bound is not None
        and isinstance(record, RefreshToken)
        and record.client_id == client.client_id
        and jkt != bound
    ):
        return _error(InvalidGrant("refresh token is bound to another DPoP key"))
    outcome = families(ctx.policy).present(
        record=record,
        family=family,
        client_id=client.client_id,
        scope=scope,
        secret=form.get("refresh_token", ""),
        new_secret=ctx.randoms.refresh,
        now=ctx.now,
        public_client=client.is_public,
    )
    if outcome.error is not None or outcome.family is None:
        return _error(outcome.error or InvalidGrant("refresh refused"), outcome.effects)
    body, access = issue_tokens(
        ctx,
        outcome.family,
        scope=outcome.scope,
        refresh=outcome.successor,
        refresh_secret=outcome.secret,
        jkt=jkt,
    )
    return Decision(response=token_response(body), effects=(*outcome.effects, *access))


def decide_device_poll(  # noqa: PLR0911 - RFC 8628 section 3.5 answers
    ctx: Issuer,
    client: ClientRecord,
    record: Artefact | None,
    *,
    thumbprint: str | None = None,
    jkt: str | None = None,
) -> Decision:
    """Answer a device-code poll (RFC 8628 section 3.4-3.5); expiry is checked first."""
    if not isinstance(record, DeviceCode) or record.client_id != client.client_id:
        return _error(InvalidGrant("unknown device code"))
    state = record.state
    if state is lc.DeviceState.REDEEMED:
        return _error(
            InvalidGrant("device code already used: grant revoked"),
            (RevokeFamily(family_id=record.family_id, client_id=client.client_id, at=ctx.now),),
        )
    if state is lc.DeviceState.EXPIRED:
        return _error(DeviceCodeExpired("device code expired"))
    if ctx.now >= record.expires_at:
        if (state, lc.Expire) in lc.DEVICE_TRANSITIONS:
            expired = lc.transition(lc.DEVICE_TRANSITIONS, state, lc.Expire())
            effects: tuple[Effect, ...] = (advance(record, state=expired),)
            return _error(DeviceCodeExpired("device code expired"), effects)
        return _error(DeviceCodeExpired("device code expired"))
    if state is lc.DeviceState.DENIED:
        return _error(AccessDenied("the user denied the request"))
    if state is lc.DeviceState.APPROVED:
        redeemed = lc.transition(lc.DEVICE_TRANSITIONS, state, lc.Redeem())
        return _redeem(ctx, client, record, redeemed, thumbprint, jkt)
    if ctx.now < record.next_poll_at:
        slow = lc.transition(lc.DEVICE_TRANSITIONS, state, lc.PollTooSoon())
        interval = record.interval + 5
        return _error(
            SlowDown("polling too fast: interval increased by 5 seconds"),
            (advance(record, state=slow, interval=interval, next_poll_at=ctx.now + interval),),
        )
    pending = lc.transition(lc.DEVICE_TRANSITIONS, state, lc.Poll())
    return _error(
        AuthorizationPending("the user has not decided yet"),
        (advance(record, state=pending, next_poll_at=ctx.now + record.interval),),
    )


def token_lookup(form: Mapping[str, str]) -> tuple[str, str | None]:
    """The grant type and the digest of the artefact its request names (``None``: none).

    Raises:
        InvalidRequest: If a required parameter is missing.
        UnsupportedGrantType: For any other grant (no implicit, no password).
    """
    grant = form.get("grant_type")
    if grant is None:
        raise InvalidRequest("grant_type is missing")
    param = {
        "authorization_code": "code",
        "refresh_token": "refresh_token",
        DEVICE_GRANT: "device_code",
        "client_credentials": None,
    }
    if grant not in param:
        raise UnsupportedGrantType("unsupported grant_type")
    name = param[grant]
    if name is None:
        return grant, None
    value = form.get(name)
    if value is None:
        raise InvalidRequest(f"{name} is missing")
    return grant, digest(value)


def decide_token(
    ctx: Issuer,
    form: Mapping[str, str],
    client: ClientRecord,
    *,
    grant: str,
    record: Artefact | None,
    family: Family | None,
    thumbprint: str | None = None,
    jkt: str | None = None,
) -> Decision:
    """Dispatch a token request to its grant's decision.

    ``thumbprint`` is the client certificate's (RFC 8705), ``jkt`` the verified DPoP proof
    key's (RFC 9449); either binds the issued access token.
    """
    if grant not in client.grant_types:
        return _error(UnauthorizedClient("client may not use this grant type"))
    if grant == "authorization_code":
        return decide_authorization_code(ctx, form, client, record, thumbprint=thumbprint, jkt=jkt)
    if grant == "refresh_token":
        return decide_refresh(ctx, form, client, record, family, jkt=jkt)
    if grant == DEVICE_GRANT:
        return decide_device_poll(ctx, client, record, thumbprint=thumbprint, jkt=jkt)
    return decide_client_credentials(ctx, form, client, thumbprint=thumbprint, jkt=jkt)


def new_code(
    ctx: Issuer, pending: PendingAuthorization, *, subject: str, scope: tuple[str, ...]
) -> AuthorizationCode:
    """The record of a code issued for an approved request."""
    return AuthorizationCode(
        digest=digest(ctx.randoms.code),
        family_id=ctx.randoms.family_id,
        client_id=pending.client_id,
        subject=subject,
        scope=scope,
        resource=pending.resource,
        redirect_uri=pending.redirect_uri,
        redirect_uri_sent=pending.redirect_uri_sent,
        code_challenge=pending.code_challenge,
        code_challenge_method=pending.code_challenge_method,
        dpop_jkt=pending.dpop_jkt,
        issued_at=ctx.now,
        expires_at=ctx.now + ctx.policy.code_lifetime,
    )


def normalize_user_code(text: str) -> str:
    """Upper-case and drop separators, so ``wdjb mjht`` and ``WDJB-MJHT`` are one code."""
    return "".join(c for c in text.upper() if c.isalnum())
