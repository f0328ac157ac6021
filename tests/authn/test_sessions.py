"""First-party sessions on the OAuth refresh-family store: rotation, reuse, logout, denylist."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import TYPE_CHECKING

import pytest

from authcore.authn import (
    AsyncAuthenticator,
    AsyncSessionIssuer,
    Authenticator,
    BearerJWT,
    SessionIssuer,
)
from authcore.clock import FixedClock
from authcore.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidGrant,
    InvalidScope,
    Revoked,
    TemporarilyUnavailable,
)
from authcore.http import Request
from authcore.jose import JWK
from authcore.jose.keyring import KeyRing
from authcore.stores.memory import AsyncMemoryGrantStore, MemoryGrantStore, MemoryOneTimeStore
from authcore.stores.sqlite import SQLiteGrantStore
from tests.oauth.helpers import AsyncOneTime

if TYPE_CHECKING:
    from pathlib import Path

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
KEY = JWK.generate("ES256", kid="s1")


def _issuer(store: object = None, **options: object) -> tuple[SessionIssuer, FixedClock]:
    clock = FixedClock(T0)
    issuer = SessionIssuer(
        keys=KeyRing.create(KEY, now=T0 - dt.timedelta(days=1), clock=clock),
        store=store if store is not None else MemoryGrantStore(),  # type: ignore[arg-type]
        issuer="https://app.example",
        audience="https://app.example/api",
        denylist=MemoryOneTimeStore(),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )
    return issuer, clock


def _async_issuer(denylist: object = None) -> AsyncSessionIssuer:
    clock = FixedClock(T0)
    return AsyncSessionIssuer(
        keys=KeyRing.create(KEY, now=T0 - dt.timedelta(days=1), clock=clock),
        store=AsyncMemoryGrantStore(),
        issuer="https://app.example",
        audience="https://app.example/api",
        denylist=denylist,  # type: ignore[arg-type]
        clock=clock,
    )


def test_login_then_refresh_rotates_and_the_access_token_verifies() -> None:
    issuer, clock = _issuer()
    first = issuer.login("alice", scopes=["read", "write"])
    claims = issuer.verify(first.access_token)
    assert (claims["sub"], claims["sid"], claims["scope"]) == (
        "alice",
        first.session_id,
        "read write",
    )
    clock.advance(60)
    second = issuer.refresh(first.refresh_token, scopes=["read"])
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    assert issuer.verify(second.access_token)["scope"] == "read"
    with pytest.raises(InvalidScope):
        issuer.refresh(second.refresh_token, scopes=["admin"])


def test_reusing_a_rotated_refresh_token_revokes_the_session() -> None:
    issuer, _ = _issuer()
    first = issuer.login("alice")
    second = issuer.refresh(first.refresh_token)
    with pytest.raises(InvalidGrant, match="reused"):
        issuer.refresh(first.refresh_token)
    with pytest.raises(InvalidGrant):  # the newest token went with the session
        issuer.refresh(second.refresh_token)
    other = issuer.login("bob")  # other sessions are untouched
    assert issuer.refresh(other.refresh_token).session_id == other.session_id


def test_two_concurrent_refreshes_never_both_succeed() -> None:
    issuer, _ = _issuer()
    session = issuer.login("alice")
    results: list[str] = []
    barrier = threading.Barrier(8)

    def refresh() -> None:
        barrier.wait()
        try:
            results.append(issuer.refresh(session.refresh_token).refresh_token)
        except (InvalidGrant, TemporarilyUnavailable):
            # A loser is a reuse (revoking the session), or, when concurrent updates kept
            # moving the record past its retries, asked to retry: never a second success.
            results.append("refused")

    threads = [threading.Thread(target=refresh) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r != "refused"]
    assert len(results) == 8
    assert len(winners) == 1
    # The losers were reuses: the session is revoked, the winner's token too.
    with pytest.raises(InvalidGrant):
        issuer.refresh(winners[0])


def test_logout_revokes_the_session_and_the_denylist_stops_the_access_token() -> None:
    issuer, _ = _issuer()
    session = issuer.login("alice")
    issuer.logout(session.refresh_token, access_token=session.access_token)
    with pytest.raises(InvalidGrant):
        issuer.refresh(session.refresh_token)
    with pytest.raises(Revoked):
        issuer.verify(session.access_token)
    by_id = issuer.login("bob")
    issuer.logout(session_id=by_id.session_id)
    with pytest.raises(InvalidGrant):
        issuer.refresh(by_id.refresh_token)
    with pytest.raises(ConfigurationError):
        issuer.logout()


def test_idle_and_absolute_lifetimes_expire_sessions() -> None:
    issuer, clock = _issuer(idle_lifetime=3600, session_lifetime=7200)
    session = issuer.login("alice")
    clock.advance(3601)
    with pytest.raises(InvalidGrant, match="expired"):
        issuer.refresh(session.refresh_token)
    session = issuer.login("alice")
    for _ in range(3):
        clock.advance(3000)
        try:
            session = issuer.refresh(session.refresh_token)
        except InvalidGrant:
            break
    else:  # pragma: no cover - the absolute lifetime must end it
        pytest.fail("the session outlived its absolute lifetime")


def test_access_tokens_work_with_the_authenticator() -> None:
    issuer, clock = _issuer()
    session = issuer.login("alice", scopes=["read"])
    authenticator = Authenticator([BearerJWT(issuer.verifier())])
    request = Request(
        method="GET",
        url="https://app.example/api/me",
        headers={"Authorization": "Bearer " + session.access_token},
    )
    assert authenticator.authenticate(request, scopes=["read"]).subject == "alice"
    issuer.revoke_access(session.access_token)
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate(request)
    clock.advance(301)
    with pytest.raises(AuthenticationFailed):  # expired after access_lifetime
        authenticator.authenticate(
            Request(
                method="GET",
                url="https://app.example/api/me",
                headers={"Authorization": "Bearer " + issuer.login("bob").access_token},
            ),
            scopes=["read"],
        )


def test_sessions_live_in_any_grant_store(tmp_path: Path) -> None:
    store = SQLiteGrantStore(tmp_path / "sessions.db")
    issuer, _ = _issuer(store)
    session = issuer.login("alice")
    renewed = issuer.refresh(session.refresh_token)
    with pytest.raises(InvalidGrant):
        issuer.refresh(session.refresh_token)
    with pytest.raises(InvalidGrant):
        issuer.refresh(renewed.refresh_token)
    store.close()


@pytest.mark.parametrize("bad", [{"access_lifetime": 0}, {"store": object()}])
def test_bad_settings_are_configuration_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SessionIssuer(
            keys=KeyRing.create(KEY, now=T0),
            store=bad.pop("store", MemoryGrantStore()),  # type: ignore[arg-type]
            issuer="https://app.example",
            audience="https://app.example/api",
            **bad,  # type: ignore[arg-type]
        )
    issuer, _ = _issuer()
    with pytest.raises(ConfigurationError):
        issuer.login("")
    with pytest.raises(InvalidGrant):
        issuer.refresh("")


def test_logout_of_an_unknown_token_and_revoking_without_a_denylist() -> None:
    issuer, _ = _issuer()
    issuer.logout("never-issued")  # nothing to revoke: no error, nothing written
    plain = SessionIssuer(
        keys=KeyRing.create(KEY, now=T0 - dt.timedelta(days=1)),
        store=MemoryGrantStore(),
        issuer="https://app.example",
        audience="https://app.example/api",
        clock=FixedClock(T0),
    )
    session = plain.login("alice")
    with pytest.raises(ConfigurationError):
        plain.revoke_access(session.access_token)
    with pytest.raises(ConfigurationError):
        plain.logout(access_token=session.access_token)


def test_async_issuer_shares_the_decisions() -> None:
    """AsyncSessionIssuer over an async grant store: rotation, reuse revokes, logout."""
    issuer = _async_issuer(MemoryOneTimeStore())

    async def run() -> None:
        first = await issuer.login("alice", scopes=["read"])
        assert (await issuer.verify(first.access_token))["sub"] == "alice"
        second = await issuer.refresh(first.refresh_token)
        assert second.session_id == first.session_id
        with pytest.raises(InvalidGrant):
            await issuer.refresh(first.refresh_token)  # reuse: the session is revoked
        with pytest.raises(InvalidGrant):
            await issuer.refresh(second.refresh_token)
        other = await issuer.login("bob")
        await issuer.logout(other.refresh_token, access_token=other.access_token)
        with pytest.raises(InvalidGrant):
            await issuer.refresh(other.refresh_token)
        with pytest.raises(Revoked):
            await issuer.verify(other.access_token)
        third = await issuer.login("carol")
        await issuer.logout(session_id=third.session_id)
        with pytest.raises(InvalidGrant):
            await issuer.refresh(third.refresh_token)
        with pytest.raises(ConfigurationError):
            await issuer.logout()
        with pytest.raises(ConfigurationError):
            await issuer.login("")

    asyncio.run(run())
    with pytest.raises(ConfigurationError, match="AsyncGrantStore"):
        AsyncSessionIssuer(
            keys=KeyRing.create(KEY),
            store=object(),  # type: ignore[arg-type]
            issuer="i",
            audience="a",
        )


def test_async_issuer_awaits_an_async_denylist() -> None:
    """An async denylist (as AsyncRedisOneTimeStore) is awaited by revocation and checks.

    The AsyncAuthenticator's Bearer check awaits it too; the sync Authenticator refuses to run.
    """
    denylist = AsyncOneTime()
    issuer = _async_issuer(denylist)
    scheme = BearerJWT(issuer.verifier())

    def request(token: str) -> Request:
        return Request(
            method="GET",
            url="https://app.example/api/me",
            headers={"Authorization": "Bearer " + token},
        )

    async def run() -> None:
        first = await issuer.login("alice", scopes=["read"])
        authenticator = AsyncAuthenticator([scheme])
        principal = await authenticator.authenticate(request(first.access_token), scopes=["read"])
        assert principal.subject == "alice"
        await issuer.revoke_access(first.access_token)
        assert denylist.adds == 1
        with pytest.raises(Revoked):
            await issuer.verify(first.access_token)
        with pytest.raises(AuthenticationFailed) as failed:
            await authenticator.authenticate(request(first.access_token))
        assert failed.value.status == 401
        second = await issuer.login("bob")
        await issuer.logout(second.refresh_token, access_token=second.access_token)
        assert denylist.adds == 2
        with pytest.raises(Revoked):
            await issuer.verify(second.access_token)
        with pytest.raises(ConfigurationError, match="averify"):
            Authenticator([scheme]).authenticate(
                request((await issuer.login("carol")).access_token)
            )

    asyncio.run(run())


def test_async_issuer_without_denylist_cannot_revoke_access() -> None:
    issuer = _async_issuer()

    async def run() -> None:
        session = await issuer.login("alice")
        with pytest.raises(ConfigurationError, match="denylist"):
            await issuer.revoke_access(session.access_token)
        with pytest.raises(ConfigurationError, match="denylist"):
            await issuer.logout(session_id=session.session_id, access_token=session.access_token)
        assert (await issuer.verify(session.access_token))["sub"] == "alice"

    asyncio.run(run())
