"""The client role against the in-process authorization server, every flow end to end.

Each request the client builds goes to an :class:`AuthorizationServer` endpoint and the
server's Response goes back to the client's parsers: client and server paired in one
harness (h11's ``ConnectionPair``).
"""

from __future__ import annotations

import asyncio

import pytest

from authcore.errors import AccessDenied, InvalidClient, InvalidGrant, InvalidIssuer
from authcore.http import Request
from authcore.mtls import thumbprint
from authcore.oauth import AsyncAuthorizationServer, PendingAuthorization, Policy
from authcore.oauth.client import (
    AuthorizationCodeFlow,
    ClientAuth,
    ClientSecretBasic,
    ClientSecretJwt,
    ClientSecretPost,
    NoneAuth,
    OAuthClient,
    PrivateKeyJwt,
    ServerMetadata,
    TlsClientAuth,
    TokenSet,
    device_polling,
    parse_device_authorization_response,
    parse_introspection_response,
    parse_revocation_response,
    parse_token_response,
)
from authcore.stores.memory import (
    AsyncMemoryClientStore,
    AsyncMemoryGrantStore,
    MemoryGrantStore,
)
from tests.mtls._pki import make_self_signed_leaf

from .helpers import CLIENT_KEY, HS_SECRET, ISSUER, Env, make_env

REDIRECTS = {
    "web": "https://app.example/cb",
    "post": "https://post.example/cb",
    "spa": "https://spa.example/cb",
}


def _client(env: Env, client_id: str, auth: ClientAuth) -> OAuthClient:
    metadata = ServerMetadata.parse(env.server.metadata(), issuer=ISSUER)
    return OAuthClient(metadata=metadata, client_id=client_id, auth=auth)


def _web(env: Env) -> OAuthClient:
    return _client(env, "web", ClientSecretBasic(secret="web-secret-0123456789abcdefghijklmnop"))


def _login(env: Env, flow: AuthorizationCodeFlow, url: str | None = None) -> str:
    """Send the user agent to the authorization URL, approve as alice; the callback URL."""
    pending = env.server.begin_authorization(
        Request(method="GET", url=url or flow.authorization_url())
    )
    assert isinstance(pending, PendingAuthorization), getattr(pending, "body", pending)
    return env.server.complete_authorization(pending, subject="alice").headers["location"]


def _code_flow(env: Env, client: OAuthClient, **options: object) -> TokenSet:
    flow = client.start(redirect_uri=REDIRECTS[client.client_id], scope=["read"], **options)  # type: ignore[arg-type]
    code = flow.validate_callback(_login(env, flow))
    response = env.server.token_endpoint(flow.token_request(code, now=env.clock.now()))
    return flow.parse_token_response(response, now=env.clock.now())


@pytest.mark.parametrize(
    ("client_id", "auth"),
    [
        ("web", ClientSecretBasic(secret="web-secret-0123456789abcdefghijklmnop")),
        ("post", ClientSecretPost(secret="post secret/with+odd:chars-0123456789")),
        ("spa", NoneAuth()),
    ],
)
def test_code_flow_with_pkce(client_id: str, auth: ClientAuth) -> None:
    """Authorization code + PKCE S256: URL, callback (state, iss), token, TokenSet."""
    env = make_env()
    tokens = _code_flow(env, _client(env, client_id, auth))
    assert tokens.token_type == "Bearer"
    assert tokens.scope == frozenset({"read"})
    assert tokens.refresh_token is not None
    assert tokens.expires_at is not None
    assert tokens.expires_at > env.clock.now()


def test_code_flow_with_resource_indicator() -> None:
    """A resource indicator reaches the server and scopes the token's audience."""
    env = make_env()
    client = _web(env)
    tokens = _code_flow(env, client, resource=["https://api.example/"])
    info = parse_introspection_response(
        env.server.introspection_endpoint(client.introspection_request(tokens.access_token))
    )
    assert "https://api.example/" in info.audience


def test_code_flow_with_par() -> None:
    """PAR: the pushed request's request_uri drives the authorization, then the code flow."""
    env = make_env(
        policy=Policy(scopes=("read", "write"), require_pushed_authorization_requests=True)
    )
    client = _web(env)
    flow = client.start(redirect_uri=REDIRECTS["web"], scope=["read"])
    pushed = env.server.par_endpoint(flow.par_request(now=env.clock.now()))
    url = flow.authorization_url_from_par(pushed)
    refused = env.server.begin_authorization(Request(method="GET", url=flow.authorization_url()))
    assert not isinstance(refused, PendingAuthorization)
    code = flow.validate_callback(_login(env, flow, url))
    tokens = flow.parse_token_response(env.server.token_endpoint(flow.token_request(code)))
    assert tokens.scope == frozenset({"read"})


def test_callback_from_another_issuer_is_refused_before_redemption() -> None:
    """Mix-up: a code delivered by another AS (other iss) is refused, never redeemed."""
    env, other = make_env(), make_env()
    flow = _web(env).start(redirect_uri=REDIRECTS["web"], scope=["read"])
    callback = _login(env, flow).replace(
        "iss=https%3A%2F%2Fas.example", "iss=https%3A%2F%2Fevil.example"
    )
    with pytest.raises(InvalidIssuer):
        flow.validate_callback(callback)
    del other


def test_denied_login_raises_access_denied() -> None:
    """The user's refusal comes back as AccessDenied after state and iss are checked."""
    env = make_env()
    flow = _web(env).start(redirect_uri=REDIRECTS["web"], scope=["read"])
    pending = env.server.begin_authorization(Request(method="GET", url=flow.authorization_url()))
    assert isinstance(pending, PendingAuthorization)
    response = env.server.complete_authorization(pending, subject="alice", approved=False)
    with pytest.raises(AccessDenied):
        flow.validate_callback(response.headers["location"])


def test_code_replay_is_invalid_grant() -> None:
    """Redeeming the same code twice: the second answer parses to InvalidGrant."""
    env = make_env()
    flow = _web(env).start(redirect_uri=REDIRECTS["web"], scope=["read"])
    code = flow.validate_callback(_login(env, flow))
    flow.parse_token_response(env.server.token_endpoint(flow.token_request(code)))
    with pytest.raises(InvalidGrant):
        flow.parse_token_response(env.server.token_endpoint(flow.token_request(code)))


def test_refresh_with_rotation_and_reuse_detection() -> None:
    """Refresh rotates the refresh token; presenting the old one again is InvalidGrant."""
    env = make_env()
    client = _web(env)
    first = _code_flow(env, client)
    assert first.refresh_token is not None
    env.advance(30)
    second = client.parse_refresh(
        env.server.token_endpoint(client.refresh_request(first.refresh_token)),
        previous=first,
        now=env.clock.now(),
    )
    assert second.refresh_token not in {None, first.refresh_token}
    assert second.access_token != first.access_token
    assert second.scope == first.scope
    with pytest.raises(InvalidGrant):
        client.parse_refresh(
            env.server.token_endpoint(client.refresh_request(first.refresh_token)), previous=first
        )


@pytest.mark.parametrize(
    ("client_id", "auth"),
    [
        ("web", ClientSecretBasic(secret="web-secret-0123456789abcdefghijklmnop")),
        ("pkjwt", PrivateKeyJwt(key=CLIENT_KEY)),
        ("pkjwt", PrivateKeyJwt(key=CLIENT_KEY, audience="endpoint")),
        ("hsjwt", ClientSecretJwt(secret=HS_SECRET)),
    ],
)
def test_client_credentials(client_id: str, auth: ClientAuth) -> None:
    """Client credentials with secret, private_key_jwt and client_secret_jwt authentication."""
    env = make_env()
    client = _client(env, client_id, auth)
    request = client.client_credentials_request(scope=["read"], now=env.clock.now())
    tokens = parse_token_response(env.server.token_endpoint(request), now=env.clock.now())
    assert tokens.scope == frozenset({"read"})
    assert tokens.refresh_token is None


def test_wrong_secret_is_invalid_client() -> None:
    """A wrong client secret parses to InvalidClient."""
    env = make_env()
    client = _client(env, "web", ClientSecretBasic(secret="wrong"))
    with pytest.raises(InvalidClient):
        parse_token_response(env.server.token_endpoint(client.client_credentials_request()))


def test_private_key_jwt_assertion_is_single_use() -> None:
    """The server records each assertion's jti; the client makes a fresh one per request."""
    env = make_env()
    client = _client(env, "pkjwt", PrivateKeyJwt(key=CLIENT_KEY))
    request = client.client_credentials_request(now=env.clock.now())
    parse_token_response(env.server.token_endpoint(request))
    with pytest.raises(InvalidClient):
        parse_token_response(env.server.token_endpoint(request))
    parse_token_response(
        env.server.token_endpoint(client.client_credentials_request(now=env.clock.now()))
    )


def test_revocation_and_introspection() -> None:
    """Introspection says active, revocation of the refresh token ends the family."""
    env = make_env()
    client = _web(env)
    tokens = _code_flow(env, client)
    active = parse_introspection_response(
        env.server.introspection_endpoint(client.introspection_request(tokens.access_token))
    )
    assert active.active
    assert active.client_id == "web"
    assert active.subject == "alice"
    assert tokens.refresh_token is not None
    parse_revocation_response(
        env.server.revocation_endpoint(
            client.revocation_request(tokens.refresh_token, token_type_hint="refresh_token")
        )
    )
    inactive = parse_introspection_response(
        env.server.introspection_endpoint(client.introspection_request(tokens.access_token))
    )
    assert not inactive.active


def test_device_flow_with_slow_down() -> None:
    """Device flow: pending, a too-early poll gets slow_down (+5 s), approval, tokens."""
    env = make_env()
    client = _client(env, "spa", NoneAuth())
    device = parse_device_authorization_response(
        env.server.device_authorization_endpoint(
            client.device_authorization_request(scope=["read"])
        ),
        now=env.clock.now(),
    )
    schedule = device_polling(device, clock=env.clock)
    waits = [next(schedule)]
    # The first poll comes at once (the server allows it), the second too early.
    waits.append(schedule.send(env.server.token_endpoint(client.device_token_request(device))))
    waits.append(schedule.send(env.server.token_endpoint(client.device_token_request(device))))
    assert waits == [5, 5, 10]
    env.server.complete_device_authorization(device.user_code, subject="alice")
    env.advance(waits[-1])
    with pytest.raises(StopIteration) as done:
        schedule.send(env.server.token_endpoint(client.device_token_request(device)))
    tokens = done.value.value
    assert isinstance(tokens, TokenSet)
    assert tokens.scope == frozenset({"read"})


def test_device_flow_denied() -> None:
    """A denied device authorization ends the schedule with AccessDenied."""
    env = make_env()
    client = _client(env, "spa", NoneAuth())
    device = parse_device_authorization_response(
        env.server.device_authorization_endpoint(client.device_authorization_request())
    )
    schedule = device_polling(device, clock=env.clock)
    env.advance(next(schedule))
    env.server.complete_device_authorization(device.user_code, subject="alice", approved=False)
    with pytest.raises(AccessDenied):
        schedule.send(env.server.token_endpoint(client.device_token_request(device)))


def test_metadata_flags_drive_the_client() -> None:
    """The server's metadata advertises RFC 9207 iss, S256 and every endpoint the client uses."""
    env = make_env()
    metadata = ServerMetadata.parse(env.server.metadata(), issuer=ISSUER)
    assert metadata.authorization_response_iss_parameter_supported
    assert metadata.code_challenge_methods_supported == frozenset({"S256"})
    assert metadata.endpoint("device_authorization_endpoint").startswith(ISSUER)


def test_async_device_flow_shares_the_schedule() -> None:
    """The same polling generator drives an AsyncAuthorizationServer with await."""
    sync_env = make_env()
    server = AsyncAuthorizationServer(
        issuer=ISSUER,
        clients=AsyncMemoryClientStore(sync_env.clients),
        store=AsyncMemoryGrantStore(MemoryGrantStore()),
        keys=sync_env.server.keys,
        policy=sync_env.server.policy,
        rate_limits=sync_env.server.rate_limits,
        clock=sync_env.clock,
    )
    metadata = ServerMetadata.parse(server.metadata(), issuer=ISSUER)
    client = OAuthClient(metadata=metadata, client_id="spa", auth=NoneAuth())

    async def run() -> TokenSet:
        device = parse_device_authorization_response(
            await server.device_authorization_endpoint(
                client.device_authorization_request(scope=["read"])
            ),
            now=sync_env.clock.now(),
        )
        schedule = device_polling(device, clock=sync_env.clock)
        wait = next(schedule)
        polls = 0
        while True:
            await asyncio.sleep(0)  # a real caller sleeps `wait` seconds
            sync_env.advance(wait)
            polls += 1
            if polls == 2:
                await server.complete_device_authorization(device.user_code, subject="bob")
            try:
                wait = schedule.send(
                    await server.token_endpoint(client.device_token_request(device))
                )
            except StopIteration as done:
                result: TokenSet = done.value
                return result

    tokens = asyncio.run(run())
    assert tokens.scope == frozenset({"read"})


def test_tls_client_auth_client_credentials() -> None:
    """TlsClientAuth sends client_id only; the TLS certificate authenticates and binds."""
    leaf = make_self_signed_leaf("device", dns=["client.example"])
    env = make_env(
        extra={
            "mtls": {
                "client_id": "mtls",
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_san_dns": "client.example",
                "grant_types": ["client_credentials"],
                "scope": "read",
            }
        }
    )
    client = _client(env, "mtls", TlsClientAuth())
    request = client.client_credentials_request(scope=["read"])
    with pytest.raises(InvalidClient):
        parse_token_response(env.server.token_endpoint(request))
    tokens = parse_token_response(env.server.token_endpoint(request, client_certificate=leaf.cert))
    # The client introspects its own token (the default rule), with its certificate again.
    info = parse_introspection_response(
        env.server.introspection_endpoint(
            client.introspection_request(tokens.access_token), client_certificate=leaf.cert
        )
    )
    assert info.cnf == {"x5t#S256": thumbprint(leaf.cert)}
