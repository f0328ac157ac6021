"""First-party sessions: a short-lived access JWT and a rotating refresh token.

For an application that logs its own users in ("JWT with refresh tokens"):
:meth:`~SessionIssuer.login` starts a session, :meth:`~SessionIssuer.refresh` rotates its
refresh token (reuse of a rotated one revokes the whole session, newest token included),
:meth:`~SessionIssuer.logout` revokes it, and :meth:`~SessionIssuer.verify` checks an access
token, including the optional denylist that withdraws one at once
(:meth:`~SessionIssuer.revoke_access`).

Sessions are refresh-token *families* of the OAuth server's store protocol
(:class:`~authcore.oauth.GrantStore`) decided by the same component
(:class:`~authcore.oauth.RefreshFamilies`): any grant store works (memory, SQLite, and the
shared backends), and there is no second implementation of rotation or reuse detection.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

from authcore._kinds import check_kind, store_answer
from authcore._options import int_option, str_option
from authcore.clock import Clock, SystemClock, as_datetime, as_unix
from authcore.errors import (
    ConfigurationError,
    InvalidGrant,
    StoreError,
    TemporarilyUnavailable,
)
from authcore.jose import JWTVerifier
from authcore.jose.denylist import arevoke, revoke
from authcore.jose.keyring import KeyRing
from authcore.oauth import (
    AsyncGrantStore,
    Family,
    GrantStore,
    RefreshFamilies,
    RefreshToken,
    RevokeFamily,
    digest,
)
from authcore.onetime import AsyncOneTimeStore, OneTimeStore, check_store, check_store_or_async

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping, Sequence

    from authcore.oauth import Artefact, Effect, RefreshOutcome

__all__ = ["AsyncSessionIssuer", "SessionIssuer", "SessionTokens"]

_ATTEMPTS: Final = 3
"""Decisions per refresh: the first, and re-decisions after a concurrent update."""

_StoreT = TypeVar("_StoreT", GrantStore, AsyncGrantStore)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTokens:
    """The tokens of a session.

    Attributes:
        access_token: A JWT (``typ: at+jwt``) for the API.
        refresh_token: The opaque token to get the next access token (keep it secret; an
            httpOnly cookie in a browser).
        expires_in: Seconds the access token is valid.
        session_id: The session (refresh family) id, also the access token's ``sid``.

    .. versionadded:: 0.1.0
    """

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


class _SessionCore(Generic[_StoreT]):
    """Everything but the store calls, shared by :class:`SessionIssuer` and the async one."""

    def __init__(
        self,
        *,
        keys: KeyRing,
        store: _StoreT,
        issuer: str,
        audience: str,
        client_id: str = "first-party",
        access_lifetime: int = 300,
        session_lifetime: int = 30 * 86400,
        idle_lifetime: int | None = 7 * 86400,
        denylist: OneTimeStore | AsyncOneTimeStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        check_kind(
            store,
            "store",
            ("get", "family", "apply"),
            awaited=self._STORE.startswith("Async"),
            expected=f"authcore.oauth.{self._STORE}",
        )
        if not isinstance(cast("object", keys), KeyRing):
            raise ConfigurationError("keys must be an authcore.jose.keyring.KeyRing")
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigurationError("clock must have a now() method")
        self.keys: KeyRing = keys
        self.store: _StoreT = store
        self.issuer: str = str_option(issuer, "issuer")
        self.audience: str = str_option(audience, "audience")
        self.client_id: str = str_option(client_id, "client_id")
        self.access_lifetime: int = int_option(access_lifetime, "access_lifetime")
        self.families: RefreshFamilies = RefreshFamilies(
            absolute_lifetime=int_option(session_lifetime, "session_lifetime"),
            idle_lifetime=None
            if idle_lifetime is None
            else int_option(idle_lifetime, "idle_lifetime"),
            rotate=True,
        )
        awaited = self._STORE.startswith("Async")
        self.denylist: OneTimeStore | AsyncOneTimeStore | None = (
            check_store_or_async(denylist, "denylist")
            if awaited
            else check_store(denylist, "denylist")
        )
        self.clock: Clock = clock or SystemClock()
        algorithms = sorted({k.alg for k in keys.published() if k.alg})
        self._verifier = JWTVerifier(
            keys,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            typ="at+jwt",
            required=("exp", "jti", "sid", "sub"),
            denylist=denylist,
            clock=self.clock,
        )

    _STORE = "GrantStore"

    def _now(self, now: object) -> float:
        return as_unix(self.clock.now() if now is None else cast("dt.datetime | float", now))

    def _access(self, family: Family, scope: tuple[str, ...], now: float) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": family.subject,
            "aud": self.audience,
            "client_id": self.client_id,
            "sid": family.family_id,
            "iat": int(now),
            "exp": int(now) + self.access_lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        if scope:
            claims["scope"] = " ".join(scope)
        return self.keys.sign_jwt(claims, headers={"typ": "at+jwt"}, now=as_datetime(now))

    def _tokens(
        self, family: Family, scope: tuple[str, ...], secret: str, now: float
    ) -> SessionTokens:
        return SessionTokens(
            access_token=self._access(family, scope, now),
            refresh_token=secret,
            expires_in=self.access_lifetime,
            session_id=family.family_id,
        )

    def _start(
        self, subject: object, scopes: Iterable[str], now: object
    ) -> tuple[Sequence[Effect], Family, tuple[str, ...], str, float]:
        """A new session's effects, family, scope, refresh secret and time."""
        if not isinstance(subject, str) or not subject:
            raise ConfigurationError("subject must be a non-empty string")
        t = self._now(now)
        scope = tuple(sorted(set(scopes)))
        secret = secrets.token_urlsafe(32)
        family, _, effects = self.families.start(
            family_id=secrets.token_urlsafe(16),
            client_id=self.client_id,
            subject=subject,
            scope=scope,
            secret=secret,
            now=t,
        )
        return effects, family, scope, secret, t

    def _present(
        self,
        record: Artefact | None,
        family: Family | None,
        refresh_token: str,
        wanted: tuple[str, ...] | None,
        now: float,
    ) -> RefreshOutcome:
        return self.families.present(
            record=record,
            family=family,
            client_id=self.client_id,
            scope=wanted,
            secret=refresh_token,
            new_secret=secrets.token_urlsafe(32),
            now=now,
        )

    def _rotated(self, outcome: RefreshOutcome, now: float) -> SessionTokens:
        """The tokens of an applied refresh decision (or its error)."""
        if outcome.error is not None:
            raise outcome.error
        if outcome.family is None or outcome.secret is None:  # pragma: no cover
            raise InvalidGrant("refresh refused")
        return self._tokens(outcome.family, outcome.scope, outcome.secret, now)

    @staticmethod
    def _refresh_input(
        refresh_token: object, scopes: Iterable[str] | None
    ) -> tuple[str, tuple[str, ...] | None]:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise InvalidGrant("refresh token is empty")
        return digest(refresh_token), None if scopes is None else tuple(sorted(set(scopes)))

    def _revocation(self, family_id: str, now: float) -> Sequence[Effect]:
        return (RevokeFamily(family_id=family_id, client_id=self.client_id, at=now),)

    def _denylist(self) -> OneTimeStore | AsyncOneTimeStore:
        if self.denylist is None:
            raise ConfigurationError("revoke_access needs a denylist= one-time store")
        return self.denylist

    def verifier(self) -> JWTVerifier:
        """The verifier of access tokens, for :class:`~authcore.authn.BearerJWT`."""
        return self._verifier


class SessionIssuer(_SessionCore[GrantStore]):
    """Issue, rotate and revoke first-party sessions.

    Args:
        keys: The key ring that signs access tokens.
        store: Where sessions live (any :class:`~authcore.oauth.GrantStore`).
        issuer: The ``iss`` of access tokens.
        audience: Their ``aud`` (your API).
        client_id: The ``client_id`` sessions are recorded under (your application).
        access_lifetime: Access token lifetime, seconds (default 5 minutes).
        session_lifetime: Absolute session lifetime, seconds (default 30 days).
        idle_lifetime: A refresh token unused this long expires (default 7 days; ``None``).
        denylist: A one-time store for :meth:`revoke_access` (``None``: access tokens live
            until they expire).
        clock: Time source when a call gets no ``now``.

    .. versionadded:: 0.1.0
    """

    def login(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        now: dt.datetime | float | None = None,
    ) -> SessionTokens:
        """Start a session for ``subject`` (call it after your own login succeeded).

        Raises:
            ConfigurationError: On an empty subject.
            StoreError: If the store fails.
        """
        effects, family, scope, secret, t = self._start(subject, scopes, now)
        if not store_answer(self.store.apply(effects), self.store):
            raise StoreError("could not record the new session")
        return self._tokens(family, scope, secret, t)

    def refresh(
        self,
        refresh_token: str,
        *,
        scopes: Iterable[str] | None = None,
        now: dt.datetime | float | None = None,
    ) -> SessionTokens:
        """Rotate ``refresh_token``: new access and refresh tokens; the old one is spent.

        Presenting a refresh token that was already rotated revokes the session (every
        token of it, the newest included) and raises :class:`~authcore.errors.InvalidGrant`.

        Args:
            refresh_token: The current refresh token.
            scopes: Narrow the new access token to these (default: the session's).
            now: The current time.

        Raises:
            InvalidGrant: Unknown, expired, revoked or reused token.
            InvalidScope: ``scopes`` is not within the session's.
            TemporarilyUnavailable: Concurrent refreshes kept conflicting (retry).
            StoreError: If the store fails.
        """
        key, wanted = self._refresh_input(refresh_token, scopes)
        t = self._now(now)
        for _ in range(_ATTEMPTS):
            record = self.store.get(key)
            family = self.store.family(record.family_id) if record is not None else None
            outcome = self._present(record, family, refresh_token, wanted, t)
            if outcome.effects and not store_answer(self.store.apply(outcome.effects), self.store):
                continue  # another refresh moved the record: decide again on what it left
            return self._rotated(outcome, t)
        raise TemporarilyUnavailable("concurrent refreshes of one session, retry")

    def logout(
        self,
        refresh_token: str | None = None,
        *,
        session_id: str | None = None,
        access_token: str | None = None,
        now: dt.datetime | float | None = None,
    ) -> None:
        """End a session: no refresh token of it works again.

        Name the session by its refresh token or ``session_id``.  With a denylist, also pass
        the current ``access_token`` to stop it at once (otherwise it lives until ``exp``).

        Raises:
            ConfigurationError: If neither a refresh token nor a session id is given.
            StoreError: If the store fails.
        """
        if session_id is None and refresh_token is None:
            raise ConfigurationError("name the session: refresh_token or session_id")
        t = self._now(now)
        family_id = session_id
        if refresh_token is not None:
            record = self.store.get(digest(refresh_token))
            family_id = record.family_id if isinstance(record, RefreshToken) else None
        if family_id is not None and not store_answer(
            self.store.apply(self._revocation(family_id, t)), self.store
        ):
            raise StoreError("could not revoke the session")
        if access_token is not None:
            self.revoke_access(access_token, now=t)

    def revoke_access(self, access_token: str, *, now: dt.datetime | float | None = None) -> None:
        """Withdraw one access token before its ``exp`` (needs ``denylist=``).

        Raises:
            ConfigurationError: Without a denylist.
            VerificationError: If the token does not verify (nothing to revoke).
        """
        denylist = cast("OneTimeStore", self._denylist())  # synchronous: checked in __init__
        t = as_datetime(self._now(now))
        revoke(denylist, self._verifier.verify(access_token, now=t), now=t)

    def verify(
        self, access_token: str, *, now: dt.datetime | float | None = None
    ) -> Mapping[str, Any]:
        """Verify an access token of these sessions (signature, claims, denylist).

        Raises:
            VerificationError: As :meth:`authcore.jose.JWTVerifier.verify` (``Revoked`` for
                a denied token).
        """
        return self._verifier.verify(access_token, now=as_datetime(self._now(now)))


class AsyncSessionIssuer(_SessionCore[AsyncGrantStore]):
    """:class:`SessionIssuer` over an :class:`~authcore.oauth.AsyncGrantStore`.

    The same decisions (they are shared code); :meth:`login`, :meth:`refresh` and
    :meth:`logout` are coroutines, and so are :meth:`verify` and :meth:`revoke_access`,
    which consult the denylist: it may be an :class:`~authcore.onetime.AsyncOneTimeStore`
    (such as ``AsyncRedisOneTimeStore``), awaited, or a synchronous one.

    .. versionadded:: 0.1.0
    """

    _STORE = "AsyncGrantStore"

    async def login(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        now: dt.datetime | float | None = None,
    ) -> SessionTokens:
        """See :meth:`SessionIssuer.login`."""
        effects, family, scope, secret, t = self._start(subject, scopes, now)
        if not store_answer(await self.store.apply(effects), self.store):
            raise StoreError("could not record the new session")
        return self._tokens(family, scope, secret, t)

    async def refresh(
        self,
        refresh_token: str,
        *,
        scopes: Iterable[str] | None = None,
        now: dt.datetime | float | None = None,
    ) -> SessionTokens:
        """See :meth:`SessionIssuer.refresh`."""
        key, wanted = self._refresh_input(refresh_token, scopes)
        t = self._now(now)
        for _ in range(_ATTEMPTS):
            record = await self.store.get(key)
            family = await self.store.family(record.family_id) if record is not None else None
            outcome = self._present(record, family, refresh_token, wanted, t)
            if outcome.effects and not store_answer(
                await self.store.apply(outcome.effects), self.store
            ):
                continue
            return self._rotated(outcome, t)
        raise TemporarilyUnavailable("concurrent refreshes of one session, retry")

    async def logout(
        self,
        refresh_token: str | None = None,
        *,
        session_id: str | None = None,
        access_token: str | None = None,
        now: dt.datetime | float | None = None,
    ) -> None:
        """See :meth:`SessionIssuer.logout`."""
        if session_id is None and refresh_token is None:
            raise ConfigurationError("name the session: refresh_token or session_id")
        t = self._now(now)
        family_id = session_id
        if refresh_token is not None:
            record = await self.store.get(digest(refresh_token))
            family_id = record.family_id if isinstance(record, RefreshToken) else None
        if family_id is not None and not store_answer(
            await self.store.apply(self._revocation(family_id, t)), self.store
        ):
            raise StoreError("could not revoke the session")
        if access_token is not None:
            await self.revoke_access(access_token, now=t)

    async def revoke_access(
        self, access_token: str, *, now: dt.datetime | float | None = None
    ) -> None:
        """See :meth:`SessionIssuer.revoke_access` (an async denylist is awaited)."""
        denylist = self._denylist()
        t = as_datetime(self._now(now))
        await arevoke(denylist, await self._verifier.averify(access_token, now=t), now=t)

    async def verify(
        self, access_token: str, *, now: dt.datetime | float | None = None
    ) -> Mapping[str, Any]:
        """See :meth:`SessionIssuer.verify` (an async denylist is awaited)."""
        return await self._verifier.averify(access_token, now=as_datetime(self._now(now)))
