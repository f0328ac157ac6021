"""OAUTH.md 3.4: refresh tokens, rotation, reuse, lifetimes, and the reusable component."""

from __future__ import annotations

from typing import Any

from authcore.http import Response
from authcore.oauth import (
    Family,
    Policy,
    RefreshFamilies,
    RefreshToken,
    RevokeFamily,
    digest,
    lifecycle,
)

from .helpers import (
    ISSUER,
    Env,
    body,
    get_code,
    introspect,
    make_env,
    post,
    redeem,
    refresh,
    tokens,
)


def _error(response: object) -> str:
    assert isinstance(response, Response)
    assert response.status == 400
    return str(body(response)["error"])


def test_refresh_bound_to_client() -> None:
    """Another client cannot use the refresh token, and nothing is revoked (3.4.1)."""
    env = make_env()
    first = tokens(env)
    assert _error(refresh(env, first["refresh_token"], "web2")) == "invalid_grant"
    assert refresh(env, first["refresh_token"]).status == 200


def test_refresh_scope_only_narrows() -> None:
    """A wider scope is invalid_scope; narrower is granted; the family keeps its scope (3.4.2)."""
    env = make_env()
    first = body_of_rw(env)
    assert _error(refresh(env, first["refresh_token"], scope="read write admin")) == "invalid_scope"
    narrowed = body(refresh(env, first["refresh_token"], scope="read"))
    assert narrowed["scope"] == "read"
    again = body(refresh(env, narrowed["refresh_token"]))
    assert again["scope"] == "read write"


def body_of_rw(env: Env) -> dict[str, Any]:
    """Tokens for scope 'read write'."""
    return body(redeem(env, get_code(env, scope="read write")))


def test_refresh_rotation_keeps_the_old_token_as_rotated() -> None:
    """Each refresh returns a new token; the old one is kept as rotated (3.4.3)."""
    env = make_env()
    first = tokens(env)
    second = body(refresh(env, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    old = env.store.get(digest(first["refresh_token"]))
    assert isinstance(old, RefreshToken)
    assert old.state is lifecycle.RefreshState.ROTATED


def test_refresh_reuse_revokes_the_family() -> None:
    """A rotated token presented again: invalid_grant and every live token revoked (3.4.4)."""
    env = make_env()
    first = tokens(env)
    second = body(refresh(env, first["refresh_token"]))
    assert _error(refresh(env, first["refresh_token"])) == "invalid_grant"
    assert introspect(env, second["access_token"]) == {"active": False}
    assert introspect(env, first["access_token"]) == {"active": False}
    assert _error(refresh(env, second["refresh_token"])) == "invalid_grant"


def test_public_clients_always_rotate() -> None:
    """With rotation off, public clients still rotate (3.4.5)."""
    env = make_env(policy=Policy(scopes=("read", "write"), rotate_refresh_tokens=False))
    public = tokens(env, "spa")
    assert (
        body(refresh(env, public["refresh_token"], "spa"))["refresh_token"]
        != public["refresh_token"]
    )
    confidential = tokens(env)
    same = body(refresh(env, confidential["refresh_token"]))
    assert same["refresh_token"] == confidential["refresh_token"]
    assert refresh(env, confidential["refresh_token"]).status == 200


def test_refresh_absolute_and_idle_expiry() -> None:
    """Idle and absolute lifetimes end the family with invalid_grant (3.4.7)."""
    policy = Policy(
        scopes=("read", "write"), refresh_token_lifetime=1000, refresh_idle_lifetime=300
    )
    env = make_env(policy=policy)
    first = tokens(env)
    env.advance(300)
    assert _error(refresh(env, first["refresh_token"])) == "invalid_grant"
    env = make_env(policy=policy)
    token = tokens(env)["refresh_token"]
    for _ in range(3):
        env.advance(299)
        token = body(refresh(env, token))["refresh_token"]
    env.advance(299)  # 1196 s after the start: past the absolute lifetime
    assert _error(refresh(env, token)) == "invalid_grant"


def test_revocation_cascades_to_the_family() -> None:
    """Revoking a refresh token revokes the grant's access tokens and refresh tokens (3.4.8)."""
    env = make_env()
    first = tokens(env)
    second = body(refresh(env, first["refresh_token"]))
    response = env.server.revocation_endpoint(
        post(ISSUER + "/revoke", {"token": second["refresh_token"]})
    )
    assert response.status == 200
    assert introspect(env, second["access_token"]) == {"active": False}
    assert _error(refresh(env, second["refresh_token"])) == "invalid_grant"


def test_refresh_families_component_alone() -> None:
    """RefreshFamilies works without the server: start, rotate, detect reuse."""
    families = RefreshFamilies(absolute_lifetime=100, idle_lifetime=None)
    family, token, effects = families.start(
        family_id="f", client_id="app", subject="u", scope=("s",), secret="one", now=0.0
    )
    assert isinstance(family, Family)
    assert len(effects) == 2
    rotated = families.present(
        record=token,
        family=family,
        client_id="app",
        scope=None,
        secret="one",
        new_secret="two",
        now=1.0,
    )
    assert rotated.error is None
    assert rotated.secret == "two"
    assert rotated.successor is not None
    old = rotated.effects[0].record  # type: ignore[union-attr]
    reuse = families.present(
        record=old,
        family=family,
        client_id="app",
        scope=None,
        secret="one",
        new_secret="three",
        now=2.0,
    )
    assert reuse.error is not None
    assert any(isinstance(e, RevokeFamily) for e in reuse.effects)
