"""The sync and async authorization-server drivers over one set of flows.

Each endpoint is written once, as a generator (a *flow*) that yields store operations and
receives their results, like httpx's ``auth_flow``.  :class:`AuthorizationServer` runs a flow
by calling the sync stores; :class:`AsyncAuthorizationServer` by awaiting the async ones.  The
decisions inside a flow are the pure functions of ``_grants``; a flow only parses, loads,
draws random values, decides, applies, and on a conflict reloads and decides once more.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Final, TypeVar, cast

from authcore._encoding import json_dumps
from authcore._kinds import check_kind, is_async, store_answer
from authcore._options import str_option
from authcore.clock import Clock, SystemClock, as_datetime, as_unix
from authcore.errors import (
    AccessDenied,
    AuthcoreError,
    AuthorizationTargetError,
    ConfigurationError,
    InvalidClient,
    InvalidDPoPProof,
    InvalidGrant,
    InvalidRequest,
    InvalidRequestURI,
    OAuthError,
    OAuthServerError,
    ProtocolMisuseError,
    RateLimited,
    StoreError,
    TemporarilyUnavailable,
    UnauthorizedClient,
    VerificationError,
)
from authcore.http import Headers, Request, Response, split_url
from authcore.jose import JWTVerifier
from authcore.jose.keyring import KeyRing
from authcore.oauth import _grants as g
from authcore.oauth import dpop
from authcore.oauth import lifecycle as lc
from authcore.oauth._clients import (
    AuthenticatedClient,
    ClientRecord,
    authenticate_client,
    parse_attempt,
)
from authcore.oauth._model import (
    AccessToken,
    Artefact,
    AsyncClientStore,
    AsyncGrantStore,
    ClientStore,
    DeviceCode,
    Effect,
    Family,
    GrantStore,
    Insert,
    PushedRequest,
    RefreshToken,
    RevokeFamily,
    TokenFormat,
    UserCode,
    digest,
)
from authcore.onetime import check_store, check_store_or_async
from authcore.ratelimit import GCRA, RateLimitStore, check_rate_store

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Awaitable

    from cryptography import x509

    from authcore.mtls import ClientIdentity
    from authcore.oauth.dpop import NonceSource, VerifiedProof
    from authcore.onetime import AsyncOneTimeStore, OneTimeStore
    from authcore.ratelimit import AsyncRateLimitStore

__all__ = ["AsyncAuthorizationServer", "AuthorizationServer", "Endpoints"]

_T = TypeVar("_T")
REQUEST_URI_PREFIX: Final = "urn:ietf:params:oauth:request_uri:"
_JTI_PREFIX: Final = "oauth-client-jti:"
_USER_CODE_BYTES: Final = 32
"""Random bytes drawn for a user code (rejection sampling needs more than 8)."""
_USER_CODE_LENGTH: Final = 8
_ATTEMPTS: Final = 3
"""Decisions per request: the first, and re-decisions after a conflict reloaded the records."""
_GRANT_METHODS: Final = ("get", "family", "apply")
"""What the drivers call on a grant store (checked, with its kind, when one is built)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoints:
    """The absolute URLs of the server's endpoints, published in the metadata.

    Build it with :meth:`under` for the conventional paths below the issuer.

    .. versionadded:: 0.1.0
    """

    authorization: str
    token: str
    revocation: str
    introspection: str
    device_authorization: str
    device_verification: str
    pushed_authorization: str
    jwks: str

    @classmethod
    def under(cls, issuer: str) -> Endpoints:
        """The conventional endpoint paths below ``issuer``.

        ``/authorize``, ``/token``, ``/revoke``, ``/introspect``, ``/device_authorization``,
        ``/device``, ``/par`` and ``/jwks``.
        """
        base = str_option(issuer, "issuer").rstrip("/")
        return cls(
            authorization=base + "/authorize",
            token=base + "/token",
            revocation=base + "/revoke",
            introspection=base + "/introspect",
            device_authorization=base + "/device_authorization",
            device_verification=base + "/device",
            pushed_authorization=base + "/par",
            jwks=base + "/jwks",
        )


# ----------------------------------------------------------------------------- operations


@dataclass(frozen=True, slots=True)
class _GetClient:
    client_id: str


@dataclass(frozen=True, slots=True)
class _Get:
    digest: str


@dataclass(frozen=True, slots=True)
class _Family:
    family_id: str


@dataclass(frozen=True, slots=True)
class _Apply:
    effects: tuple[Effect, ...]


@dataclass(frozen=True, slots=True)
class _RecordJti:
    key: str
    expires_at: float
    now: float


@dataclass(frozen=True, slots=True)
class _RateHit:
    key: str
    now: float


_Op = _GetClient | _Get | _Family | _Apply | _RecordJti | _RateHit
_Flow = Generator[_Op, object, _T]


class _Core:
    """Configuration and flows shared by the two drivers."""

    _awaits: ClassVar[bool] = False  # whether the driver awaits its stores

    def __init__(
        self,
        *,
        issuer: str,
        keys: KeyRing | None = None,
        policy: g.Policy | None = None,
        endpoints: Endpoints | None = None,
        one_time: OneTimeStore | AsyncOneTimeStore | None = None,
        rate_limits: RateLimitStore | AsyncRateLimitStore | None = None,
        dpop_nonces: NonceSource | None = None,
        clock: Clock | None = None,
    ) -> None:
        given: object = issuer  # untyped callers pass anything
        parts = split_url(issuer) if isinstance(given, str) else None
        if parts is None or parts.scheme not in {"https", "http"} or parts.query or parts.fragment:
            raise ConfigurationError("issuer must be an https URL without query or fragment")
        self.issuer: str = issuer
        if policy is not None and not isinstance(cast("object", policy), g.Policy):
            raise ConfigurationError("policy must be an authcore.oauth.Policy")
        self.policy: g.Policy = policy or g.Policy()
        if keys is not None and not isinstance(cast("object", keys), KeyRing):
            raise ConfigurationError("keys must be an authcore.jose.keyring.KeyRing")
        if self.policy.access_token_format is TokenFormat.JWT and keys is None:
            raise ConfigurationError("JWT access tokens need keys= (a KeyRing)")
        self.keys: KeyRing | None = keys
        if endpoints is not None and not isinstance(cast("object", endpoints), Endpoints):
            raise ConfigurationError("endpoints must be an authcore.oauth.Endpoints")
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigurationError("clock must have a now() method")
        self.endpoints: Endpoints = endpoints or Endpoints.under(issuer)
        # The async server awaits its stores; the sync one refuses async ones (an un-awaited
        # add() is truthy: every jti replay would pass).
        self.one_time: OneTimeStore | AsyncOneTimeStore | None = (
            check_store_or_async(one_time, "one_time")
            if self._awaits
            else check_store(one_time, "one_time")
        )
        self.rate_limits: RateLimitStore | AsyncRateLimitStore | None = check_rate_store(
            rate_limits, "rate_limits", awaited=self._awaits
        )
        dpop._check_nonces(dpop_nonces, "dpop_nonces")  # noqa: SLF001 - same package
        if one_time is None and (self.policy.require_dpop or dpop_nonces is not None):
            raise ConfigurationError("DPoP needs a one-time store for proof jti values (one_time=)")
        self.dpop_nonces: NonceSource | None = dpop_nonces
        self.clock: Clock = clock or SystemClock()
        self._user_code_limit = GCRA(
            self.policy.user_code_attempts, 60, self.policy.user_code_attempts
        )
        self._verifier = (
            JWTVerifier(
                keys,
                algorithms=[k.alg for k in keys.published() if k.alg],
                issuer=issuer,
                # Every audience this server issues to: the token's own aud is whatever it
                # was granted; introspection only needs to know the JWT is ours.
                audience=sorted({issuer, *self.policy.resources, *self.policy.default_audience}),
                typ="at+jwt",
                required=("exp", "jti"),
                leeway=0,
            )
            if keys is not None
            else None
        )

    # -------------------------------------------------------------- helpers

    def _now(self, now: object) -> float:
        return as_unix(self.clock.now() if now is None else now)

    def _randoms(self, *, user_code: bool = False) -> g.Randoms:
        # One read of the OS CSPRNG per decision, cut into the values it may need; the user
        # code (rejection sampling, the costliest) only for device authorizations.
        raw = os.urandom(g.RANDOM_BYTES + (_USER_CODE_BYTES if user_code else 0))
        return g.Randoms(
            raw[: g.RANDOM_BYTES],
            user_code=_user_code(raw[g.RANDOM_BYTES :]) if user_code else "",
        )

    def _issuer_ctx(self, now: float) -> g.Issuer:
        return g.Issuer(
            issuer=self.issuer,
            keys=self.keys,
            policy=self.policy,
            now=now,
            randoms=self._randoms(),
        )

    def _form(self, request: Request) -> dict[str, str]:
        if request.method != "POST":
            raise InvalidRequest("use POST")
        if len(request.body) > self.policy.max_body_size:
            raise InvalidRequest("request body too large")
        try:
            return g.bounded(request.form())
        except VerificationError as exc:
            raise g.duplicates_refused(exc) from None

    def _authenticate(
        self, request: Request, form: Mapping[str, str], now: float, certificate: object
    ) -> _Flow[AuthenticatedClient]:
        attempt = parse_attempt(request, form)
        client = cast("ClientRecord | None", (yield _GetClient(attempt.client_id)))
        authenticated = authenticate_client(
            client,
            attempt=attempt,
            # Configured URLs only: the request's own URL comes from a Host header the
            # peer controls, and would accept assertions made for another server.
            audiences=(self.endpoints.token, self.issuer),
            now=now,
            certificate=cast("x509.Certificate | ClientIdentity | None", certificate),
        )
        if authenticated.assertion_jti is not None:
            if self.one_time is None:
                raise InvalidClient("client assertions need a one-time store (one_time=)")
            jti, exp = authenticated.assertion_jti
            key = _JTI_PREFIX + digest(attempt.client_id + "\x00" + jti)
            if not (yield _RecordJti(key, exp, now)):
                raise InvalidClient("client assertion replayed")
        return authenticated

    def _dpop(
        self, request: Request, url: str, now: float, *, required: bool
    ) -> _Flow[VerifiedProof | None]:
        """Verify the request's DPoP proof for the endpoint at ``url`` (RFC 9449 section 5).

        ``htu`` is compared with the configured endpoint URL, never with one built from the
        request's Host header.  Returns ``None`` when no proof was sent and none is required.
        """
        if not request.headers.get_all("dpop"):
            if required:
                raise InvalidDPoPProof("a DPoP proof is required", description="DPoP required")
            return None
        if self.one_time is None:
            raise InvalidDPoPProof(
                "DPoP is not enabled (no one-time store)", description="DPoP is not supported"
            )
        proof, key, expires = dpop._check_proof(  # noqa: SLF001 - the replay check is ours
            request,
            method="POST",
            url=url,
            algorithms=self.policy.dpop_algorithms,
            nonces=self.dpop_nonces,
            now=now,
        )
        if not (yield _RecordJti(key, expires, now)):
            raise dpop._replayed()  # noqa: SLF001 - same package
        return proof

    def _load(self, key: str | None) -> _Flow[tuple[Artefact | None, Family | None]]:
        if key is None:
            return None, None
        record = cast("Artefact | None", (yield _Get(key)))
        if record is None:
            return None, None
        family = cast("Family | None", (yield _Family(record.family_id)))
        return record, family

    # -------------------------------------------------------------- token endpoint

    def _token_flow(self, request: Request, now_in: object, certificate: object) -> _Flow[Response]:
        now = self._now(now_in)
        try:
            form = self._form(request)
            authenticated = yield from self._authenticate(request, form, now, certificate)
            grant, key = g.token_lookup(form)
            client = authenticated.record
            proof = yield from self._dpop(
                request,
                self.endpoints.token,
                now,
                required=self.policy.require_dpop or client.dpop_bound_access_tokens,
            )
        except OAuthError as exc:
            return g.json_error(exc)
        decision = None
        for _ in range(_ATTEMPTS):
            record, family = yield from self._load(key)
            decision = g.decide_token(
                self._issuer_ctx(now),
                form,
                client,
                grant=grant,
                record=record,
                family=family,
                thumbprint=authenticated.certificate_thumbprint,
                jkt=proof.jkt if proof is not None else None,
            )
            if not decision.effects or (yield _Apply(decision.effects)):
                return _with_nonce(decision.response, proof)
        # Still conflicting: concurrent requests keep moving the record.  An error stays
        # true (the writers that beat us moved the record past the state it rests on, and
        # one of them applied the revocation); a success must never be answered unapplied.
        if decision is not None and decision.response.status >= 400:  # noqa: PLR2004
            return decision.response
        return g.json_error(TemporarilyUnavailable("concurrent update, retry"))

    # -------------------------------------------------------------- authorization

    def _begin_flow(
        self, request: Request, now_in: object
    ) -> _Flow[g.PendingAuthorization | Response]:
        now = self._now(now_in)
        try:
            if request.method == "GET":
                params = g.bounded(request.query())
            elif request.method == "POST":
                params = self._form(request)
            else:
                raise InvalidRequest("use GET or POST")
        except (VerificationError, OAuthError) as exc:
            # Parameters that cannot be parsed strictly cannot be trusted to name a client
            # or redirect URI: answer the user agent, never redirect.
            return g.json_error(InvalidRequest(f"malformed request: {getattr(exc, 'reason', '')}"))
        client_id = params.get("client_id", "")
        client = cast("ClientRecord | None", (yield _GetClient(client_id))) if client_id else None
        pushed = False
        if "request_uri" in params:
            try:
                params = yield from self._pushed(params, client, now)
            except OAuthError as exc:
                return g.json_error(exc)
            pushed = True
        try:
            target = g.validate_target(params, client)
        except AuthorizationTargetError as exc:
            return g.json_error(exc)
        assert client is not None  # noqa: S101 - validate_target refuses None
        try:
            return g.validate_authorization(params, client, self.policy, pushed=pushed)
        except OAuthError as exc:
            return g.redirect_error(target, exc, issuer=self.issuer)

    def _pushed(
        self, params: Mapping[str, str], client: ClientRecord | None, now: float
    ) -> _Flow[dict[str, str]]:
        uri = params["request_uri"]
        if client is None:
            raise InvalidRequestURI("request_uri needs a valid client_id")
        # RFC 9126 section 4 / RFC 9101 section 5: only the pushed parameters are used;
        # anything else sent beside request_uri is ignored, never merged.
        if not uri.startswith(REQUEST_URI_PREFIX):
            raise InvalidRequestURI("unknown request_uri")
        record = cast("Artefact | None", (yield _Get(digest(uri[len(REQUEST_URI_PREFIX) :]))))
        if (
            not isinstance(record, PushedRequest)
            or record.client_id != client.client_id
            or record.used
            or now >= record.expires_at
        ):
            raise InvalidRequestURI("request_uri is unknown, used, expired or another client's")
        if not (yield _Apply((g.advance(record, used=True),))):
            raise InvalidRequestURI("request_uri already used")
        return dict(record.parameters)

    def _complete_flow(
        self,
        pending: g.PendingAuthorization,
        subject: str,
        scopes: tuple[str, ...] | None,
        approved: bool,  # noqa: FBT001 - internal; the public method makes it keyword-only
        now_in: object,
    ) -> _Flow[Response]:
        now = self._now(now_in)
        target = g.ValidatedRedirect(pending.redirect_uri, pending.state)
        if not approved:
            return g.redirect_error(
                target, AccessDenied("the user denied the request"), issuer=self.issuer
            )
        granted = pending.scope if scopes is None else tuple(sorted(set(scopes)))
        if not set(granted) <= set(pending.scope):
            raise ConfigurationError("scopes must be a subset of the requested scopes")
        if not isinstance(cast("object", subject), str) or not subject:
            raise ConfigurationError("subject must be a non-empty string")
        for _ in range(2):
            ctx = self._issuer_ctx(now)
            record = g.new_code(ctx, pending, subject=subject, scope=granted)
            if (yield _Apply((Insert(record=record),))):
                return g.redirect(target, {"code": ctx.randoms.code}, issuer=self.issuer)
        return g.redirect_error(
            target, OAuthServerError("could not store the code"), issuer=self.issuer
        )

    # -------------------------------------------------------------- PAR

    def _par_flow(self, request: Request, certificate: object, now_in: object) -> _Flow[Response]:
        now = self._now(now_in)
        try:
            form = self._form(request)
            authenticated = yield from self._authenticate(request, form, now, certificate)
            if "request_uri" in form:
                raise InvalidRequest("request_uri is not allowed in a pushed request")
            client = authenticated.record
            params = {
                k: v
                for k, v in form.items()
                if k not in {"client_secret", "client_assertion", "client_assertion_type"}
            }
            params["client_id"] = client.client_id
            # RFC 9449 section 10.1: a proof sent with the pushed request binds the code
            # to its key, like dpop_jkt; when both are sent they must agree.
            proof = yield from self._dpop(
                request, self.endpoints.pushed_authorization, now, required=False
            )
            if proof is not None and params.setdefault("dpop_jkt", proof.jkt) != proof.jkt:
                raise InvalidDPoPProof("dpop_jkt does not match the DPoP proof key")
            g.validate_target(params, client)
            g.validate_authorization(params, client, self.policy, pushed=True)
        except OAuthError as exc:
            return g.json_error(exc)
        for _ in range(2):
            randoms = self._randoms()
            record = PushedRequest(
                digest=digest(randoms.request_ref),
                family_id=randoms.family_id,
                client_id=client.client_id,
                parameters=tuple(sorted(params.items())),
                issued_at=now,
                expires_at=now + self.policy.par_lifetime,
            )
            if (yield _Apply((Insert(record=record),))):
                return Response.json(
                    201,
                    {
                        "request_uri": REQUEST_URI_PREFIX + randoms.request_ref,
                        "expires_in": self.policy.par_lifetime,
                    },
                )
        return g.json_error(TemporarilyUnavailable("could not store the request"))

    # -------------------------------------------------------------- device flow

    def _device_flow(
        self, request: Request, certificate: object, now_in: object
    ) -> _Flow[Response]:
        now = self._now(now_in)
        try:
            form = self._form(request)
            authenticated = yield from self._authenticate(request, form, now, certificate)
            client = authenticated.record
            if g.DEVICE_GRANT not in client.grant_types:
                raise UnauthorizedClient("client may not use the device grant")
            scope = g.choose_scope(g.parse_scope(form.get("scope")), client, self.policy)
            resource = g.parse_resource(form.get("resource"), self.policy)
        except OAuthError as exc:
            return g.json_error(exc)
        for _ in range(2):
            randoms = self._randoms(user_code=True)
            user_digest = digest(g.normalize_user_code(randoms.user_code))
            expires = now + self.policy.device_code_lifetime
            device = DeviceCode(
                digest=digest(randoms.device),
                user_code_digest=user_digest,
                family_id=randoms.family_id,
                client_id=client.client_id,
                scope=scope,
                resource=resource,
                issued_at=now,
                expires_at=expires,
                interval=self.policy.device_interval,
                next_poll_at=now,
            )
            index = UserCode(
                digest=user_digest,
                device_digest=device.digest,
                family_id=randoms.family_id,
                expires_at=expires,
            )
            if (yield _Apply((Insert(record=device), Insert(record=index)))):
                verification = self.endpoints.device_verification
                return Response.json(
                    200,
                    {
                        "device_code": randoms.device,
                        "user_code": randoms.user_code,
                        "verification_uri": verification,
                        "verification_uri_complete": verification
                        + "?"
                        + urllib.parse.urlencode({"user_code": randoms.user_code}),
                        "expires_in": self.policy.device_code_lifetime,
                        "interval": self.policy.device_interval,
                    },
                )
        return g.json_error(TemporarilyUnavailable("could not store the device code"))

    def _complete_device_flow(  # noqa: PLR0917 - internal; the public one is keyword-only
        self,
        user_code: str,
        subject: str,
        scopes: tuple[str, ...] | None,
        approved: bool,  # noqa: FBT001
        rate_limit_key: str,
        now_in: object,
    ) -> _Flow[DeviceCode]:
        now = self._now(now_in)
        if self.rate_limits is None:
            raise ConfigurationError(
                "user-code entry is rate-limited: pass rate_limits= (for example "
                "authcore.stores.memory.MemoryRateLimitStore())"
            )
        if not (yield _RateHit("oauth-user-code:" + rate_limit_key, now)):
            raise RateLimited("too many user code attempts", retry_after=60.0)
        typed: object = user_code  # untyped callers pass anything
        normalized = g.normalize_user_code(user_code if isinstance(typed, str) else "")
        for _ in range(2):
            index = (
                cast("Artefact | None", (yield _Get(digest(normalized)))) if normalized else None
            )
            record = (
                cast("Artefact | None", (yield _Get(index.device_digest)))
                if isinstance(index, UserCode)
                else None
            )
            if not isinstance(record, DeviceCode) or now >= record.expires_at:
                raise InvalidGrant("unknown or expired user code")
            if record.state not in {lc.DeviceState.PENDING, lc.DeviceState.SLOW_DOWN}:
                raise InvalidGrant("user code already used")
            granted = record.scope if scopes is None else tuple(sorted(set(scopes)))
            if not set(granted) <= set(record.scope):
                raise ConfigurationError("scopes must be a subset of the requested scopes")
            event: lc.Event = lc.Approve() if approved else lc.Deny()
            try:
                state = lc.transition(lc.DEVICE_TRANSITIONS, record.state, event)
            except ProtocolMisuseError:  # pragma: no cover - states checked above
                raise InvalidGrant("user code already used") from None
            update = g.advance(
                record, state=state, subject=subject if approved else None, scope=granted
            )
            if (yield _Apply((update,))):
                return cast("DeviceCode", update.record)
        raise InvalidGrant("user code changed concurrently")

    # -------------------------------------------------------------- revocation, introspection

    def _token_key(self, token: str, now: float) -> str:
        if token.count(".") == 2 and self._verifier is not None:  # noqa: PLR2004
            try:
                claims = self._verifier.verify(token, now=as_datetime(now))
            except VerificationError:
                return digest(token)
            jti = claims.get("jti")
            return digest("jti:" + jti) if isinstance(jti, str) else digest(token)
        return digest(token)

    def _revocation_flow(
        self, request: Request, certificate: object, now_in: object
    ) -> _Flow[Response]:
        now = self._now(now_in)
        try:
            form = self._form(request)
            authenticated = yield from self._authenticate(request, form, now, certificate)
            token = form.get("token")
            if token is None:
                raise InvalidRequest("token is missing")
        except OAuthError as exc:
            return g.json_error(exc)
        client_id = authenticated.record.client_id
        ok = Response(status=200, headers=Headers([("Cache-Control", "no-store")]))
        for _ in range(2):
            record, _family = yield from self._load(self._token_key(token, now))
            if isinstance(record, (AccessToken, RefreshToken)) and record.client_id != client_id:
                # RFC 7009 section 2.1: "the request is refused and the client is informed";
                # a silent 200 would let it believe a token it does not own is revoked.
                return g.json_error(InvalidGrant("the token was issued to another client"))
            effects = _revocation_effects(record, client_id, now)
            if not effects or (yield _Apply(effects)):
                return ok
        return ok

    def _introspection_flow(
        self, request: Request, certificate: object, now_in: object
    ) -> _Flow[Response]:
        now = self._now(now_in)
        try:
            form = self._form(request)
            authenticated = yield from self._authenticate(request, form, now, certificate)
            if authenticated.record.is_public:
                # RFC 7662 section 4: a client_id alone proves nothing, and an open
                # introspection endpoint tells token thieves which tokens still work.
                raise InvalidClient("public clients cannot use introspection")
            token = form.get("token")
            if token is None:
                raise InvalidRequest("token is missing")
        except OAuthError as exc:
            return g.json_error(exc)
        record, family = yield from self._load(self._token_key(token, now))
        answer = _introspect(record, family, now, self.issuer)
        if answer["active"] and not self._may_introspect(authenticated.record, answer):
            answer = {"active": False}  # RFC 7662 section 2.2: not allowed to know about it
        return Response.json(200, answer)

    def _may_introspect(self, client: ClientRecord, answer: dict[str, object]) -> bool:
        # Read-only all the way down: the rule must not edit the answer it is shown.
        view = {
            name: tuple(value)
            if isinstance(value, list)
            else MappingProxyType(dict(value))
            if isinstance(value, dict)
            else value
            for name, value in answer.items()
        }
        allowed: object = self.policy.introspection_rule(client, MappingProxyType(view))
        if not isinstance(allowed, bool):  # a truthy "no" must not reveal the token
            raise ConfigurationError("introspection_rule must return a bool")
        return allowed

    # -------------------------------------------------------------- documents

    def metadata_document(self) -> dict[str, object]:
        """The RFC 8414 metadata as a dict (what :meth:`metadata` serves)."""
        e = self.endpoints
        methods = [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "client_secret_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth",
            "none",
        ]
        return {
            "issuer": self.issuer,
            "authorization_endpoint": e.authorization,
            "token_endpoint": e.token,
            "revocation_endpoint": e.revocation,
            "introspection_endpoint": e.introspection,
            "device_authorization_endpoint": e.device_authorization,
            "pushed_authorization_request_endpoint": e.pushed_authorization,
            "jwks_uri": e.jwks,
            "scopes_supported": list(self.policy.scopes),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                g.DEVICE_GRANT,
            ],
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": [
                "RS256",
                "PS256",
                "ES256",
                "EdDSA",
                "HS256",
            ],
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": (
                ["S256", "plain"] if self.policy.allow_plain_pkce else ["S256"]
            ),
            "authorization_response_iss_parameter_supported": True,
            "require_pushed_authorization_requests": (
                self.policy.require_pushed_authorization_requests
            ),
            "tls_client_certificate_bound_access_tokens": True,
            **(
                {"dpop_signing_alg_values_supported": list(self.policy.dpop_algorithms)}
                if self.one_time is not None
                else {}
            ),
        }

    def jwks_document(self) -> dict[str, object]:
        """The public JWK Set as a dict (what :meth:`jwks` serves)."""
        if self.keys is None:
            return {"keys": []}
        return dict(self.keys.jwks(now=as_datetime(self._now(None))))


def _user_code(raw: bytes) -> str:
    """``XXXX-XXXX`` over the 20-letter alphabet, by rejection sampling (no modulo bias).

    Bytes of 240 and above are skipped (240 is the largest multiple of 20 below 256); 32
    bytes leave fewer than 8 usable with probability far below 2**-100, and then fresh
    bytes are read.
    """
    alphabet = g.USER_CODE_ALPHABET
    size = len(alphabet)
    limit = 256 - 256 % size
    letters = [alphabet[b % size] for b in raw if b < limit]
    while len(letters) < _USER_CODE_LENGTH:  # pragma: no cover - probability below 2**-100
        letters += [alphabet[b % size] for b in os.urandom(8) if b < limit]
    return "".join(letters[:4]) + "-" + "".join(letters[4:_USER_CODE_LENGTH])


def _revocation_effects(record: Artefact | None, client_id: str, now: float) -> tuple[Effect, ...]:
    """RFC 7009 section 2.1: revoke a token of this client; a refresh token takes its family."""
    if record is None or getattr(record, "client_id", None) != client_id:
        return ()  # codes and device codes are not revocable; other clients' are refused
    if isinstance(record, RefreshToken):
        effects: list[Effect] = [
            RevokeFamily(family_id=record.family_id, client_id=client_id, at=now)
        ]
        if (record.state, lc.Revoke) in lc.REFRESH_TRANSITIONS:
            state = lc.transition(lc.REFRESH_TRANSITIONS, record.state, lc.Revoke())
            effects.insert(
                0,
                g.advance(record, state=state),
            )
        return tuple(effects)
    if isinstance(record, AccessToken) and not record.revoked:
        return (g.advance(record, revoked=True),)
    return ()


def _introspect(  # noqa: C901 - RFC 7662 members, each optional
    record: Artefact | None, family: Family | None, now: float, issuer: str
) -> dict[str, object]:
    """RFC 7662 section 2.2: anything not currently valid is exactly ``{"active": false}``."""
    inactive: dict[str, object] = {"active": False}
    if family is None or family.revoked:
        return inactive
    if isinstance(record, AccessToken):
        if record.revoked or now >= record.expires_at:
            return inactive
        result: dict[str, object] = {
            "active": True,
            "token_type": "DPoP" if any(k == "jkt" for k, _ in record.cnf) else "Bearer",
            "client_id": record.client_id,
            "iat": int(record.issued_at),
            "exp": int(record.expires_at),
            "iss": issuer,
            "aud": list(record.audience),
        }
        if record.scope:
            result["scope"] = " ".join(record.scope)
        if record.subject is not None:
            result["sub"] = record.subject
        if record.cnf:
            result["cnf"] = dict(record.cnf)
        return result
    if isinstance(record, RefreshToken):
        if record.state is not lc.RefreshState.ACTIVE or now >= min(
            record.expires_at, family.expires_at
        ):
            return inactive
        result = {
            "active": True,
            "token_type": "refresh_token",
            "client_id": record.client_id,
            "iat": int(record.issued_at),
            "exp": int(min(record.expires_at, family.expires_at)),
            "iss": issuer,
        }
        if record.scope:
            result["scope"] = " ".join(record.scope)
        if family.subject is not None:
            result["sub"] = family.subject
        return result
    return inactive


def _with_nonce(response: Response, proof: VerifiedProof | None) -> Response:
    """Add the next DPoP nonce to a response when the presented one is rotating out."""
    if proof is None or proof.fresh_nonce is None:
        return response
    headers = Headers([*response.headers.items(), ("DPoP-Nonce", proof.fresh_nonce)])
    return Response(status=response.status, headers=headers, body=response.body)


def _server_error(exc: AuthcoreError) -> Response:
    del exc  # details belong in the host's logs, never in the response
    return g.json_error(OAuthServerError("the server could not complete the request"))


def _document(value: Mapping[str, object]) -> Response:
    return Response(
        status=200,
        headers=Headers([("Content-Type", "application/json")]),
        body=json_dumps(dict(value)),
    )


class AuthorizationServer(_Core):
    """An OAuth 2.x authorization server over sync stores (see the guide).

    Args:
        issuer: The issuer identifier (an ``https`` URL; ``http`` for local development).
        clients: Where clients are registered.
        store: Where codes, tokens, device codes and families live.
        keys: The signing key ring for JWT access tokens (required for JWT format).
        policy: The rules (secure defaults).
        endpoints: Endpoint URLs for metadata (default: conventional paths under the issuer).
        one_time: Store for client-assertion and DPoP proof ``jti`` replay checks (needed
            for ``private_key_jwt``, ``client_secret_jwt`` and DPoP; without it DPoP proofs
            are refused and DPoP is not advertised).
        rate_limits: Store for the user-code entry limit (required to complete device
            authorizations; e.g. ``authcore.stores.memory.MemoryRateLimitStore()``).
        dpop_nonces: A DPoP nonce source (e.g. :class:`~authcore.oauth.dpop.HMACNonces`):
            token and PAR requests must then carry a current nonce (RFC 9449 section 8).
        clock: Time source when an endpoint gets no ``now``.

    Raises:
        ConfigurationError: On an invalid option.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        issuer: str,
        clients: ClientStore,
        store: GrantStore,
        keys: KeyRing | None = None,
        policy: g.Policy | None = None,
        endpoints: Endpoints | None = None,
        one_time: OneTimeStore | None = None,
        rate_limits: RateLimitStore | None = None,
        dpop_nonces: NonceSource | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            issuer=issuer,
            keys=keys,
            policy=policy,
            endpoints=endpoints,
            one_time=one_time,
            rate_limits=rate_limits,
            dpop_nonces=dpop_nonces,
            clock=clock,
        )
        check_kind(
            clients, "clients", ("get",), awaited=False, expected="authcore.oauth.ClientStore"
        )
        check_kind(
            store, "store", _GRANT_METHODS, awaited=False, expected="authcore.oauth.GrantStore"
        )
        self.clients: ClientStore = clients
        self.store: GrantStore = store

    def _do(self, op: _Op) -> object:
        if isinstance(op, _GetClient):
            return self.clients.get(op.client_id)
        if isinstance(op, _Get):
            return self.store.get(op.digest)
        if isinstance(op, _Family):
            return self.store.family(op.family_id)
        if isinstance(op, _Apply):
            return store_answer(self.store.apply(op.effects), self.store)
        if isinstance(op, _RecordJti):
            store = cast("OneTimeStore", self.one_time)  # sync by __init__, set by the flow
            expires_at, now = as_datetime(op.expires_at), as_datetime(op.now)
            return store_answer(store.add(op.key, expires_at=expires_at, now=now), store)
        limits = cast("RateLimitStore", self.rate_limits)  # sync by __init__, set by the flow
        return self._user_code_limit.hit(limits, op.key, now=op.now).allowed

    def _run(self, flow: _Flow[_T]) -> _T:
        try:
            op = next(flow)
            while True:
                op = flow.send(self._do(op))
        except StopIteration as stop:
            return cast("_T", stop.value)

    def _respond(self, flow: _Flow[Response]) -> Response:
        try:
            return self._run(flow)
        except StoreError as exc:
            return _server_error(exc)

    def begin_authorization(
        self, request: Request, *, now: dt.datetime | float | None = None
    ) -> g.PendingAuthorization | Response:
        """Validate an authorization request (RFC 6749 section 4.1.1, RFC 9126 section 4).

        Args:
            request: The HTTP request (GET with a query, or a form POST).
            now: The current time (default: the server's clock).

        Returns:
            A :class:`PendingAuthorization` to show the consent page for, or the error
            ``Response``: a JSON page (never a redirect) when ``client_id`` or
            ``redirect_uri`` is invalid, otherwise a 302 to the validated redirect URI
            with ``error``, ``state`` and ``iss``.
        """
        try:
            return self._run(self._begin_flow(request, now))
        except StoreError as exc:
            return _server_error(exc)

    def complete_authorization(
        self,
        pending: g.PendingAuthorization,
        *,
        subject: str,
        scopes: tuple[str, ...] | None = None,
        approved: bool = True,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """Answer the resource owner's decision: a 302 with ``code`` (or ``access_denied``).

        Args:
            pending: What :meth:`begin_authorization` returned.
            subject: The authenticated resource owner.
            scopes: The scopes granted (a subset of the requested; default all).
            approved: ``False`` redirects ``access_denied``.
            now: The current time (default: the clock).

        Raises:
            ConfigurationError: If ``scopes`` exceed the request or ``subject`` is empty.
        """
        return self._respond(self._complete_flow(pending, subject, scopes, approved, now))

    def token_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """The token endpoint (RFC 6749 section 3.2).

        Grants: ``authorization_code``, ``refresh_token``, ``client_credentials`` and the
        RFC 8628 device code.

        Args:
            request: The HTTP request.
            client_certificate: The TLS client certificate (verified by the TLS layer for
                ``tls_client_auth``); tokens are then bound with ``cnf.x5t#S256``.
            now: The current time (default: the clock).
        """
        return self._respond(self._token_flow(request, now, client_certificate))

    def par_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """The pushed authorization request endpoint (RFC 9126 section 2).

        Answers 201 with a single-use, short-lived ``request_uri`` bound to the client.

        Args:
            request: The HTTP request.
            client_certificate: The TLS client certificate, for the RFC 8705 methods.
            now: The current time (default: the server's clock).
        """
        return self._respond(self._par_flow(request, client_certificate, now))

    def device_authorization_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """The device authorization endpoint (RFC 8628 sections 3.1-3.2).

        Args:
            request: The HTTP request.
            client_certificate: The TLS client certificate, for the RFC 8705 methods.
            now: The current time (default: the server's clock).
        """
        return self._respond(self._device_flow(request, client_certificate, now))

    def complete_device_authorization(
        self,
        user_code: str,
        *,
        subject: str,
        scopes: tuple[str, ...] | None = None,
        approved: bool = True,
        rate_limit_key: str = "global",
        now: dt.datetime | float | None = None,
    ) -> DeviceCode:
        """Record the user's decision on a device flow's user code (RFC 8628 section 3.3).

        Args:
            user_code: What the user typed (case and separators do not matter).
            subject: The authenticated user.
            scopes: The scopes granted (a subset of the requested; default all).
            approved: ``False`` denies.
            rate_limit_key: Whose attempts are counted (a session or client address);
                attempts are limited to ``policy.user_code_attempts`` per minute per key.
            now: The current time (default: the clock).

        Returns:
            The updated device code record.

        Raises:
            RateLimited: Too many attempts for ``rate_limit_key``.
            InvalidGrant: Unknown, expired or already decided user code.
        """
        return self._run(
            self._complete_device_flow(user_code, subject, scopes, approved, rate_limit_key, now)
        )

    def revocation_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """Token revocation (RFC 7009).

        Answers 200 for an unknown token and for the calling client's own tokens (expired
        or already revoked too); a token issued to another client is refused with
        ``invalid_grant`` and left alone (section 2.1).  A refresh token revokes its whole
        family.

        Args:
            request: The HTTP request.
            client_certificate: The TLS client certificate, for the RFC 8705 methods.
            now: The current time (default: the server's clock).
        """
        return self._respond(self._revocation_flow(request, client_certificate, now))

    def introspection_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """Token introspection (RFC 7662), for authenticated clients.

        Answers exactly ``{"active": false}`` for anything unknown, expired or revoked; JWT
        access tokens are looked up by their ``jti``.

        Args:
            request: The HTTP request.
            client_certificate: The TLS client certificate, for the RFC 8705 methods.
            now: The current time (default: the server's clock).
        """
        return self._respond(self._introspection_flow(request, client_certificate, now))

    def metadata(self) -> Response:
        """Authorization server metadata (RFC 8414 section 2)."""
        return _document(self.metadata_document())

    def jwks(self) -> Response:
        """The JWK Set of the signing key ring (public keys only)."""
        return _document(self.jwks_document())


class AsyncAuthorizationServer(_Core):
    """The ``async`` twin of :class:`AuthorizationServer`: same flows, awaited stores.

    ``one_time`` and ``rate_limits`` may be synchronous (the memory stores never block) or
    ``async`` (``AsyncRedisOneTimeStore``, ``AsyncPostgresRateLimitStore``, any
    :class:`~authcore.onetime.AsyncOneTimeStore` or
    :class:`~authcore.ratelimit.AsyncRateLimitStore`), which are awaited.

    .. versionadded:: 0.1.0
    """

    _awaits = True

    def __init__(
        self,
        *,
        issuer: str,
        clients: AsyncClientStore,
        store: AsyncGrantStore,
        keys: KeyRing | None = None,
        policy: g.Policy | None = None,
        endpoints: Endpoints | None = None,
        one_time: OneTimeStore | AsyncOneTimeStore | None = None,
        rate_limits: RateLimitStore | AsyncRateLimitStore | None = None,
        dpop_nonces: NonceSource | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            issuer=issuer,
            keys=keys,
            policy=policy,
            endpoints=endpoints,
            one_time=one_time,
            rate_limits=rate_limits,
            dpop_nonces=dpop_nonces,
            clock=clock,
        )
        check_kind(
            clients, "clients", ("get",), awaited=True, expected="authcore.oauth.AsyncClientStore"
        )
        check_kind(
            store, "store", _GRANT_METHODS, awaited=True, expected="authcore.oauth.AsyncGrantStore"
        )
        self.clients: AsyncClientStore = clients
        self.store: AsyncGrantStore = store

    async def _do(self, op: _Op) -> object:
        if isinstance(op, _GetClient):
            return await self.clients.get(op.client_id)
        if isinstance(op, _Get):
            return await self.store.get(op.digest)
        if isinstance(op, _Family):
            return await self.store.family(op.family_id)
        if isinstance(op, _Apply):
            return store_answer(await self.store.apply(op.effects), self.store)
        if isinstance(op, _RecordJti):
            store = self.one_time
            assert store is not None  # noqa: S101 - checked by the flow
            added: object = store.add(
                op.key, expires_at=as_datetime(op.expires_at), now=as_datetime(op.now)
            )
            if is_async(store, "add"):
                added = await cast("Awaitable[object]", added)
            return store_answer(added, store)
        limits = self.rate_limits
        assert limits is not None  # noqa: S101 - checked by the flow
        if is_async(limits, "hit"):
            limit = self._user_code_limit
            decision = await limit.ahit(cast("AsyncRateLimitStore", limits), op.key, now=op.now)
        else:
            decision = self._user_code_limit.hit(cast("RateLimitStore", limits), op.key, now=op.now)
        return decision.allowed

    async def _run(self, flow: _Flow[_T]) -> _T:
        try:
            op = next(flow)
            while True:
                op = flow.send(await self._do(op))
        except StopIteration as stop:
            return cast("_T", stop.value)

    async def _respond(self, flow: _Flow[Response]) -> Response:
        try:
            return await self._run(flow)
        except StoreError as exc:
            return _server_error(exc)

    async def begin_authorization(
        self, request: Request, *, now: dt.datetime | float | None = None
    ) -> g.PendingAuthorization | Response:
        """See :meth:`AuthorizationServer.begin_authorization`."""
        try:
            return await self._run(self._begin_flow(request, now))
        except StoreError as exc:
            return _server_error(exc)

    async def complete_authorization(
        self,
        pending: g.PendingAuthorization,
        *,
        subject: str,
        scopes: tuple[str, ...] | None = None,
        approved: bool = True,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """See :meth:`AuthorizationServer.complete_authorization`."""
        return await self._respond(self._complete_flow(pending, subject, scopes, approved, now))

    async def token_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """See :meth:`AuthorizationServer.token_endpoint`."""
        return await self._respond(self._token_flow(request, now, client_certificate))

    async def par_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """See :meth:`AuthorizationServer.par_endpoint`."""
        return await self._respond(self._par_flow(request, client_certificate, now))

    async def device_authorization_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """See :meth:`AuthorizationServer.device_authorization_endpoint`."""
        return await self._respond(self._device_flow(request, client_certificate, now))

    async def complete_device_authorization(
        self,
        user_code: str,
        *,
        subject: str,
        scopes: tuple[str, ...] | None = None,
        approved: bool = True,
        rate_limit_key: str = "global",
        now: dt.datetime | float | None = None,
    ) -> DeviceCode:
        """See :meth:`AuthorizationServer.complete_device_authorization`."""
        return await self._run(
            self._complete_device_flow(user_code, subject, scopes, approved, rate_limit_key, now)
        )

    async def revocation_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """See :meth:`AuthorizationServer.revocation_endpoint`."""
        return await self._respond(self._revocation_flow(request, client_certificate, now))

    async def introspection_endpoint(
        self,
        request: Request,
        *,
        client_certificate: x509.Certificate | ClientIdentity | None = None,
        now: dt.datetime | float | None = None,
    ) -> Response:
        """See :meth:`AuthorizationServer.introspection_endpoint`."""
        return await self._respond(self._introspection_flow(request, client_certificate, now))

    def metadata(self) -> Response:
        """Authorization server metadata (RFC 8414 section 2)."""
        return _document(self.metadata_document())

    def jwks(self) -> Response:
        """The JWK Set of the signing key ring (public keys only)."""
        return _document(self.jwks_document())
