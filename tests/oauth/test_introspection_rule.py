"""Who may introspect whose token (RFC 7662 sections 2.2 and 4): ``Policy.introspection_rule``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from authcore.errors import ConfigurationError
from authcore.oauth import (
    ClientRecord,
    Policy,
    TokenFormat,
    may_introspect,
    resource_servers,
)

from .helpers import (
    ISSUER,
    TOKEN_URL,
    Env,
    async_twin,
    basic,
    body,
    introspect,
    make_env,
    post,
    tokens,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

API = "https://api.example/"


RS_SECRET = "rs-secret-0123456789abcdefghijklmnop"
RS = {
    "rs": {
        "client_id": "rs",
        "client_secret": RS_SECRET,
        "grant_types": ["client_credentials"],
    }
}


def _policy(**options: Any) -> Policy:
    return Policy(scopes=("read", "write"), resources=(API,), **options)


def _env(policy: Policy) -> Env:
    return make_env(policy=policy, extra=RS)


def _as_rs(env: Env, token: str) -> dict[str, Any]:
    """Introspect as "rs", a third confidential client."""
    headers = {"Authorization": basic("rs", RS_SECRET)}
    request = post(ISSUER + "/introspect", {"token": token}, client=None, headers=headers)
    response = env.server.introspection_endpoint(request)
    assert response.status == 200, response.body
    return body(response)


@pytest.mark.parametrize("access_token_format", [TokenFormat.JWT, TokenFormat.OPAQUE])
def test_by_default_another_client_learns_nothing(access_token_format: TokenFormat) -> None:
    """web2 is authenticated but not the tokens' client nor in their audience."""
    env = _env(_policy(access_token_format=access_token_format))
    issued = tokens(env)
    for token in (issued["access_token"], issued["refresh_token"]):
        assert introspect(env, token)["active"] is True
        assert introspect(env, token, client="web2") == {"active": False}
        assert _as_rs(env, token) == {"active": False}


def test_a_client_in_the_audience_sees_access_tokens_only() -> None:
    """An access token whose aud names the client's id; never the refresh token."""
    env = _env(_policy(default_audience=("rs",)))
    issued = tokens(env)
    seen = _as_rs(env, issued["access_token"])
    assert (seen["active"], seen["aud"], seen["client_id"]) == (True, ["rs"], "web")
    assert _as_rs(env, issued["refresh_token"]) == {"active": False}
    assert introspect(env, issued["access_token"], client="web2") == {"active": False}


def test_resource_servers_see_every_access_token_but_no_refresh_token() -> None:
    env = _env(_policy(introspection_rule=resource_servers("rs", "photos-api")))
    issued = tokens(env)
    assert _as_rs(env, issued["access_token"])["sub"] == "alice"
    assert _as_rs(env, issued["refresh_token"]) == {"active": False}
    # The token's own client keeps the default rule's answer, refresh token included.
    assert introspect(env, issued["refresh_token"])["token_type"] == "refresh_token"
    assert introspect(env, issued["access_token"], client="web2") == {"active": False}


def test_a_client_credentials_token_is_its_own_clients() -> None:
    env = make_env(policy=_policy())
    response = env.server.token_endpoint(
        post(TOKEN_URL, {"grant_type": "client_credentials", "scope": "read"}, client="web2")
    )
    access = body(response)["access_token"]
    assert introspect(env, access, client="web2")["client_id"] == "web2"
    assert introspect(env, access) == {"active": False}


def test_the_rule_sees_the_client_and_a_read_only_answer() -> None:
    calls: list[tuple[ClientRecord, Mapping[str, object]]] = []

    def rule(client: ClientRecord, token: Mapping[str, object]) -> bool:
        calls.append((client, token))
        with pytest.raises(TypeError):
            token["sub"] = "mallory"  # type: ignore[index]
        if "cnf" in token:
            with pytest.raises(TypeError):
                token["cnf"]["jkt"] = "mallory"  # type: ignore[index]
        with pytest.raises(AttributeError):
            token["aud"].append("mallory")  # type: ignore[attr-defined]
        return True

    env = make_env(policy=_policy(introspection_rule=rule))
    access = tokens(env)["access_token"]
    seen = introspect(env, access, client="web2")
    assert (seen["sub"], seen["aud"]) == ("alice", ["https://as.example"])
    ((client, token),) = calls
    assert client.client_id == "web2"
    assert {**token, "aud": list(token["aud"])} == seen  # type: ignore[call-overload]
    # Nested members too (a bound token's cnf): the answer sent is the one computed.
    answer: dict[str, object] = {**seen, "cnf": {"jkt": "thumbprint"}}
    assert env.server._may_introspect(client, answer) is True
    assert answer["cnf"] == {"jkt": "thumbprint"}
    assert answer["aud"] == ["https://as.example"]


def test_the_rule_is_not_asked_about_inactive_tokens() -> None:
    def rule(client: ClientRecord, token: Mapping[str, object]) -> bool:
        raise AssertionError(f"{client.client_id} asked about {dict(token)!r}")

    env = make_env(policy=_policy(introspection_rule=rule))
    assert introspect(env, "unknown") == {"active": False}
    issued = tokens(env)
    env.advance(601)
    assert introspect(env, issued["access_token"]) == {"active": False}


@pytest.mark.parametrize("answer", ["no", 1, None, 0])
def test_a_rule_must_answer_a_bool(answer: object) -> None:
    """A truthy "no" must not open the token up, and a falsy one is a bug too."""

    def rule(client: ClientRecord, token: Mapping[str, object]) -> object:
        del client, token
        return answer

    env = make_env(policy=_policy(introspection_rule=rule))
    access = tokens(env)["access_token"]
    with pytest.raises(ConfigurationError, match="introspection_rule must return a bool"):
        introspect(env, access, client="web2")


@pytest.mark.parametrize("rule", ["yes", None, 1])
def test_policy_refuses_a_rule_that_is_not_callable(rule: object) -> None:
    with pytest.raises(ConfigurationError, match="introspection_rule must be callable"):
        _policy(introspection_rule=rule)


@pytest.mark.parametrize("ids", [(), ("",), (1,), (["web"],)])
def test_resource_servers_needs_client_ids(ids: tuple[object, ...]) -> None:
    with pytest.raises(ConfigurationError, match="resource_servers client ids"):
        resource_servers(*ids)  # type: ignore[arg-type]


def test_may_introspect_reads_only_list_audiences() -> None:
    """A string ``aud`` is not searched by character or substring."""
    web2 = ClientRecord(client_id="web2", token_endpoint_auth_method="none")
    access = {"active": True, "token_type": "Bearer", "client_id": "web"}
    assert may_introspect(web2, {**access, "client_id": "web2"}) is True
    assert may_introspect(web2, {**access, "aud": ["web2"]}) is True
    assert may_introspect(web2, {**access, "aud": "web2"}) is False
    assert may_introspect(web2, {**access, "aud": ["web22", "web"]}) is False
    assert may_introspect(web2, {**access, "token_type": "DPoP", "aud": ["web2"]}) is True
    assert may_introspect(web2, {**access, "token_type": "refresh_token", "aud": ["web2"]}) is False
    assert may_introspect(web2, {"active": True}) is False


def test_the_async_server_applies_the_rule() -> None:
    server = async_twin(make_env(policy=_policy()))

    async def flow() -> tuple[dict[str, Any], dict[str, Any]]:
        issued = await server.token_endpoint(
            post(TOKEN_URL, {"grant_type": "client_credentials", "scope": "read"})
        )
        token = body(issued)["access_token"]
        own = await server.introspection_endpoint(post(ISSUER + "/introspect", {"token": token}))
        other = await server.introspection_endpoint(
            post(ISSUER + "/introspect", {"token": token}, client="web2")
        )
        return body(own), body(other)

    own, other = asyncio.run(flow())
    assert own["client_id"] == "web"
    assert other == {"active": False}
