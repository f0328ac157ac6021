"""DPoP at the authorization server (RFC 9449 sections 5, 8 and 10), one test per rule.

Tokens issued with a proof are bound (``cnf.jkt``, ``token_type: DPoP``) and work at a
:class:`ResourceServer` only with proofs of the same key; a public client's refresh tokens are
bound to its key; ``dpop_jkt`` (authorization and PAR) binds the code; the server's nonces
are demanded and rotated; proofs are checked against the configured endpoint URL and never
accepted twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest

from authcore.errors import (
    ConfigurationError,
    InvalidDPoPProof,
    InvalidGrant,
    MalformedError,
    UseDPoPNonce,
)
from authcore.http import Request, Response
from authcore.jose import jwt
from authcore.jose.keyring import KeyRing
from authcore.oauth import (
    AsyncAuthorizationServer,
    AuthorizationServer,
    ClientRecord,
    PendingAuthorization,
    Policy,
    TokenFormat,
    decode_client,
    encode_client,
    resource_servers,
)
from authcore.oauth.client import NoneAuth, OAuthClient, ServerMetadata, parse_token_response
from authcore.oauth.dpop import DPoPKey, HMACNonces
from authcore.oauth.resource import ResourceServer
from authcore.stores.memory import (
    AsyncMemoryClientStore,
    AsyncMemoryGrantStore,
    MemoryClientStore,
    MemoryGrantStore,
    MemoryOneTimeStore,
    MemoryRateLimitStore,
)
from authcore.stores.sqlite import SQLiteGrantStore

from .helpers import (
    CLIENTS,
    DEVICE,
    ISSUER,
    SIGNING_KEY,
    T0,
    TOKEN_URL,
    VERIFIER,
    Env,
    authorize_request,
    body,
    code_params,
    get_code,
    introspect,
    location_params,
    make_env,
    post,
)

if TYPE_CHECKING:
    from pathlib import Path

PAR_URL = ISSUER + "/par"
API = "https://api.example/"
KEY = DPoPKey.generate("ES256")
OTHER = DPoPKey.generate("EdDSA")


def _proof(env: Env, key: DPoPKey = KEY, url: str = TOKEN_URL, **options: Any) -> str:
    return key.proof("POST", url, now=env.clock.now(), **options)


def _redeem(env: Env, code: str, client_id: str, proof: str | None) -> Response:
    params = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": code_params(client_id)["redirect_uri"],
        "code_verifier": VERIFIER,
    }
    if client_id == "spa":
        params["client_id"] = "spa"
    headers = {"DPoP": proof} if proof is not None else None
    return env.server.token_endpoint(post(TOKEN_URL, params, client=client_id, headers=headers))


def _refresh(env: Env, token: str, client_id: str, proof: str | None) -> Response:
    params = {"grant_type": "refresh_token", "refresh_token": token}
    if client_id == "spa":
        params["client_id"] = "spa"
    headers = {"DPoP": proof} if proof is not None else None
    return env.server.token_endpoint(post(TOKEN_URL, params, client=client_id, headers=headers))


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode_unverified(token).claims)


def _error(response: Response) -> str:
    assert response.status == 400, response.body
    return str(body(response)["error"])


def _resource_server(env: Env) -> ResourceServer:
    return ResourceServer(
        resource=API,
        issuer=ISSUER,
        keys=SIGNING_KEY.public(),
        algorithms=["ES256"],
        dpop_replay=MemoryOneTimeStore(),
        clock=env.clock,
    )


# ----------------------------------------------------------------------------- binding


@pytest.mark.parametrize("client_id", ["web", "spa"])
def test_a_proof_binds_the_access_token_to_its_key(client_id: str) -> None:
    # "web" introspects every token, the public "spa" client's too, as a resource server would.
    policy = Policy(
        scopes=("read", "write"), resources=(API,), introspection_rule=resource_servers("web")
    )
    env = make_env(policy=policy)
    response = _redeem(env, get_code(env, client_id, resource=API), client_id, _proof(env))
    assert response.status == 200, response.body
    issued = body(response)
    assert issued["token_type"] == "DPoP"
    assert _claims(issued["access_token"])["cnf"] == {"jkt": KEY.thumbprint}
    seen = introspect(env, issued["access_token"])
    assert seen["token_type"] == "DPoP"
    assert seen["cnf"] == {"jkt": KEY.thumbprint}
    # The resource server accepts the token only with a proof of the same key.
    rs = _resource_server(env)
    token = issued["access_token"]

    def call(key: DPoPKey) -> Request:
        proof = key.proof("GET", API, access_token=token, now=env.clock.now())
        return Request(
            method="GET", url=API, headers={"Authorization": "DPoP " + token, "DPoP": proof}
        )

    assert rs.authenticate(call(KEY)).subject == "alice"
    with pytest.raises(InvalidDPoPProof):
        rs.authenticate(call(OTHER))


def test_without_a_proof_tokens_stay_bearer() -> None:
    env = make_env()
    issued = body(_redeem(env, get_code(env, "web"), "web", None))
    assert issued["token_type"] == "Bearer"
    assert "cnf" not in _claims(issued["access_token"])


def test_client_credentials_and_device_tokens_are_bound_too() -> None:
    env = make_env()
    response = env.server.token_endpoint(
        post(
            TOKEN_URL,
            {"grant_type": "client_credentials", "scope": "read"},
            headers={"DPoP": _proof(env)},
        )
    )
    assert body(response)["token_type"] == "DPoP"
    assert _claims(body(response)["access_token"])["cnf"] == {"jkt": KEY.thumbprint}
    started = body(
        env.server.device_authorization_endpoint(
            post(
                ISSUER + "/device_authorization",
                {"client_id": "spa", "scope": "read"},
                client="spa",
            )
        )
    )
    env.server.complete_device_authorization(started["user_code"], subject="alice")
    env.advance(started["interval"])
    polled = env.server.token_endpoint(
        post(
            TOKEN_URL,
            {"grant_type": DEVICE, "device_code": started["device_code"], "client_id": "spa"},
            client="spa",
            headers={"DPoP": _proof(env)},
        )
    )
    assert polled.status == 200, polled.body
    issued = body(polled)
    assert _claims(issued["access_token"])["cnf"] == {"jkt": KEY.thumbprint}
    # A public client's device grant family is key-bound like its code grant family.
    assert _error(_refresh(env, issued["refresh_token"], "spa", None)) == "invalid_grant"


def test_opaque_tokens_record_the_binding_for_introspection() -> None:
    env = make_env(policy=Policy(scopes=("read", "write"), access_token_format=TokenFormat.OPAQUE))
    issued = body(_redeem(env, get_code(env, "web"), "web", _proof(env)))
    assert issued["token_type"] == "DPoP"
    assert introspect(env, issued["access_token"])["cnf"] == {"jkt": KEY.thumbprint}


# ----------------------------------------------------------------------------- refresh


def test_a_public_clients_refresh_token_is_bound_to_its_key() -> None:
    env = make_env()
    issued = body(_redeem(env, get_code(env, "spa"), "spa", _proof(env)))
    refresh_token = issued["refresh_token"]
    assert _error(_refresh(env, refresh_token, "spa", None)) == "invalid_grant"
    assert _error(_refresh(env, refresh_token, "spa", _proof(env, OTHER))) == "invalid_grant"
    # A refused key does not consume or revoke: the holder of the key still refreshes.
    renewed = _refresh(env, refresh_token, "spa", _proof(env))
    assert renewed.status == 200, renewed.body
    assert body(renewed)["token_type"] == "DPoP"
    assert _claims(body(renewed)["access_token"])["cnf"] == {"jkt": KEY.thumbprint}


def test_a_confidential_clients_refresh_token_is_not_key_bound() -> None:
    env = make_env()
    issued = body(_redeem(env, get_code(env, "web"), "web", _proof(env)))
    plain = _refresh(env, issued["refresh_token"], "web", None)
    assert plain.status == 200, plain.body
    assert body(plain)["token_type"] == "Bearer"
    rebound = _refresh(env, body(plain)["refresh_token"], "web", _proof(env, OTHER))
    assert _claims(body(rebound)["access_token"])["cnf"] == {"jkt": OTHER.thumbprint}


# ----------------------------------------------------------------------------- dpop_jkt


def test_dpop_jkt_binds_the_code_to_the_key() -> None:
    env = make_env()
    code = get_code(env, "spa", dpop_jkt=KEY.thumbprint)
    assert _error(_redeem(env, code, "spa", None)) == "invalid_grant"
    assert _error(_redeem(env, code, "spa", _proof(env, OTHER))) == "invalid_grant"
    response = _redeem(env, code, "spa", _proof(env))
    assert response.status == 200, response.body
    assert body(response)["token_type"] == "DPoP"


@pytest.mark.parametrize("value", ["short", "x" * 44, "+" * 43, "a b" + "c" * 40])
def test_a_malformed_dpop_jkt_is_redirected_as_invalid_request(value: str) -> None:
    env = make_env()
    response = env.server.begin_authorization(
        authorize_request(**code_params("spa", dpop_jkt=value))
    )
    assert isinstance(response, Response)
    assert location_params(response)["error"] == "invalid_request"


def _push(env: Env, proof: str | None, **extra: str) -> Response:
    params = {**code_params("web"), **extra}
    del params["client_id"]
    headers = {"DPoP": proof} if proof is not None else None
    return env.server.par_endpoint(post(PAR_URL, params, client="web", headers=headers))


def test_a_proof_at_the_par_endpoint_binds_the_code() -> None:
    env = make_env()
    pushed = _push(env, _proof(env, url=PAR_URL))
    assert pushed.status == 201, pushed.body
    pending = env.server.begin_authorization(
        authorize_request(client_id="web", request_uri=body(pushed)["request_uri"])
    )
    assert isinstance(pending, PendingAuthorization)
    assert pending.dpop_jkt == KEY.thumbprint
    code = location_params(env.server.complete_authorization(pending, subject="alice"))["code"]
    assert _error(_redeem(env, code, "web", _proof(env, OTHER))) == "invalid_grant"
    assert _redeem(env, code, "web", _proof(env)).status == 200


def test_par_refuses_a_dpop_jkt_that_is_not_the_proof_key() -> None:
    env = make_env()
    response = _push(env, _proof(env, url=PAR_URL), dpop_jkt=OTHER.thumbprint)
    assert _error(response) == "invalid_dpop_proof"


# ----------------------------------------------------------------------------- proof checks


def test_the_proof_must_name_the_configured_token_endpoint() -> None:
    env = make_env()
    code = get_code(env, "web")
    # htu is compared with the configured URL, not with the request's own URL.
    elsewhere = _proof(env, url="https://evil.example/token")
    assert _error(_redeem(env, code, "web", elsewhere)) == "invalid_dpop_proof"
    wrong_method = KEY.proof("GET", TOKEN_URL, now=env.clock.now())
    assert _error(_redeem(env, code, "web", wrong_method)) == "invalid_dpop_proof"


def test_a_proof_is_accepted_once() -> None:
    env = make_env()
    proof = _proof(env)
    assert _redeem(env, get_code(env, "web"), "web", proof).status == 200
    assert _error(_redeem(env, get_code(env, "web"), "web", proof)) == "invalid_dpop_proof"


def test_stale_and_symmetric_proofs_are_refused() -> None:
    env = make_env()
    old = KEY.proof("POST", TOKEN_URL, now=env.clock.now() - dt.timedelta(seconds=301))
    assert _error(_redeem(env, get_code(env, "web"), "web", old)) == "invalid_dpop_proof"
    two = post(TOKEN_URL, {"grant_type": "client_credentials"})
    doubled = Request(
        method="POST",
        url=TOKEN_URL,
        headers=[*two.headers.items(), ("DPoP", _proof(env)), ("DPoP", _proof(env))],
        body=two.body,
    )
    assert _error(env.server.token_endpoint(doubled)) == "invalid_dpop_proof"


def test_policy_and_client_metadata_can_require_dpop() -> None:
    env = make_env(policy=Policy(scopes=("read", "write"), require_dpop=True))
    assert _error(_redeem(env, get_code(env, "web"), "web", None)) == "invalid_dpop_proof"
    assert _redeem(env, get_code(env, "web"), "web", _proof(env)).status == 200
    bound = {**CLIENTS["web2"], "dpop_bound_access_tokens": True}
    env = make_env(extra={"web2": bound})
    assert _error(_redeem(env, get_code(env, "web2"), "web2", None)) == "invalid_dpop_proof"
    assert _redeem(env, get_code(env, "web2"), "web2", _proof(env)).status == 200


def test_dpop_bound_access_tokens_must_be_a_boolean() -> None:
    with pytest.raises(ConfigurationError):
        ClientRecord.from_metadata({**CLIENTS["web"], "dpop_bound_access_tokens": "yes"})


# ----------------------------------------------------------------------------- nonces


def _nonce_env() -> Env:
    env = make_env()
    server = AuthorizationServer(
        issuer=ISSUER,
        clients=env.clients,
        store=env.store,
        keys=env.server.keys,
        policy=env.server.policy,
        one_time=env.one_time,
        rate_limits=MemoryRateLimitStore(),
        dpop_nonces=HMACNonces(b"n" * 32, rotation=60),
        clock=env.clock,
    )
    return Env(server=server, clock=env.clock, store=env.store, clients=env.clients)


def test_the_server_demands_a_nonce_and_the_retry_succeeds() -> None:
    env = _nonce_env()
    code = get_code(env, "web")
    first = _redeem(env, code, "web", _proof(env))
    assert _error(first) == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    # The nonce refusal consumed nothing: the code is redeemed by the retry.
    retry = _redeem(env, code, "web", _proof(env, nonce=nonce))
    assert retry.status == 200, retry.body
    assert "dpop-nonce" not in retry.headers
    # After a rotation the old nonce still works once more, with the next one attached.
    env.advance(61)
    code = get_code(env, "web")
    rotated = _redeem(env, code, "web", _proof(env, nonce=nonce))
    assert rotated.status == 200, rotated.body
    assert rotated.headers["dpop-nonce"] != nonce


# ----------------------------------------------------------------------------- configuration


def test_metadata_advertises_dpop_only_with_a_one_time_store() -> None:
    env = make_env()
    metadata = json.loads(env.server.metadata().body)
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    bare = AuthorizationServer(
        issuer=ISSUER,
        clients=env.clients,
        store=MemoryGrantStore(),
        keys=env.server.keys,
    )
    assert "dpop_signing_alg_values_supported" not in json.loads(bare.metadata().body)
    # Without a one-time store a proof cannot be checked for replay: it is refused.
    refused = bare.token_endpoint(
        post(TOKEN_URL, {"grant_type": "client_credentials"}, headers={"DPoP": _proof(env)})
    )
    assert _error(refused) == "invalid_dpop_proof"


@pytest.mark.parametrize(
    "options",
    [
        {"policy": Policy(require_dpop=True)},
        {"dpop_nonces": HMACNonces(b"n" * 32)},
        {"dpop_nonces": object()},
    ],
)
def test_dpop_options_without_their_stores_are_configuration_errors(
    options: dict[str, Any],
) -> None:
    with pytest.raises(ConfigurationError):
        AuthorizationServer(
            issuer=ISSUER,
            clients=MemoryClientStore(),
            store=MemoryGrantStore(),
            keys=KeyRing.create(SIGNING_KEY, now=T0 - dt.timedelta(days=1)),
            **options,
        )


@pytest.mark.parametrize("algorithms", [("HS256",), (), ("nope",)])
def test_policy_refuses_unusable_dpop_algorithms(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError):
        Policy(dpop_algorithms=algorithms)


def test_the_binding_survives_the_sqlite_store(tmp_path: Path) -> None:
    store = SQLiteGrantStore(tmp_path / "grants.db")
    env = make_env(store=store)
    code = get_code(env, "spa", dpop_jkt=KEY.thumbprint)
    assert _error(_redeem(env, code, "spa", _proof(env, OTHER))) == "invalid_grant"
    issued = body(_redeem(env, code, "spa", _proof(env)))
    assert _error(_refresh(env, issued["refresh_token"], "spa", None)) == "invalid_grant"
    assert _refresh(env, issued["refresh_token"], "spa", _proof(env)).status == 200
    store.close()


def test_the_async_server_binds_tokens_the_same_way() -> None:
    env = make_env()
    server = AsyncAuthorizationServer(
        issuer=ISSUER,
        clients=AsyncMemoryClientStore(
            MemoryClientStore(
                ClientRecord.from_metadata(m) for m in (CLIENTS["web"], CLIENTS["spa"])
            )
        ),
        store=AsyncMemoryGrantStore(),
        keys=env.server.keys,
        policy=env.server.policy,
        one_time=MemoryOneTimeStore(),
        clock=env.clock,
    )

    async def flow() -> dict[str, Any]:
        pending = await server.begin_authorization(authorize_request(**code_params("spa")))
        assert isinstance(pending, PendingAuthorization)
        done = await server.complete_authorization(pending, subject="alice")
        code = location_params(done)["code"]
        params = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "spa",
            "redirect_uri": code_params("spa")["redirect_uri"],
            "code_verifier": VERIFIER,
        }
        response = await server.token_endpoint(
            post(TOKEN_URL, params, client="spa", headers={"DPoP": _proof(env)})
        )
        return body(response)

    issued = asyncio.run(flow())
    assert issued["token_type"] == "DPoP"
    assert _claims(issued["access_token"])["cnf"] == {"jkt": KEY.thumbprint}


def test_old_client_records_without_the_dpop_flag_still_load() -> None:
    record = ClientRecord.from_metadata(CLIENTS["web"])
    data = json.loads(encode_client(record))
    del data["dpop_bound_access_tokens"]
    loaded = decode_client(json.dumps(data))
    assert loaded.dpop_bound_access_tokens is False
    assert loaded == record


def test_the_client_retries_with_the_servers_nonce_end_to_end() -> None:
    env = _nonce_env()
    metadata = ServerMetadata.parse(env.server.metadata(), issuer=ISSUER)
    assert "ES256" in metadata.dpop_signing_alg_values_supported
    client = OAuthClient(metadata=metadata, client_id="spa", auth=NoneAuth())
    flow = client.start(
        redirect_uri=code_params("spa")["redirect_uri"], scope=["read"], dpop_jkt=KEY.thumbprint
    )
    pending = env.server.begin_authorization(Request(method="GET", url=flow.authorization_url()))
    assert isinstance(pending, PendingAuthorization)
    code = flow.validate_callback(
        env.server.complete_authorization(pending, subject="alice").headers["location"]
    )

    def redeem(nonce: str | None) -> Response:
        proof = KEY.proof("POST", TOKEN_URL, nonce=nonce, now=env.clock.now())
        return env.server.token_endpoint(flow.token_request(code, headers=[("DPoP", proof)]))

    with pytest.raises(UseDPoPNonce) as refused:
        flow.parse_token_response(redeem(None), now=env.clock.now())
    tokens = flow.parse_token_response(redeem(refused.value.nonce), now=env.clock.now())
    assert tokens.token_type == "DPoP"
    assert tokens.refresh_token is not None
    # The refresh of this public client needs a proof of the same key (and the nonce).
    refresh = client.refresh_request(
        tokens.refresh_token,
        headers=[
            (
                "DPoP",
                OTHER.proof("POST", TOKEN_URL, nonce=refused.value.nonce, now=env.clock.now()),
            )
        ],
    )
    with pytest.raises(InvalidGrant):
        parse_token_response(env.server.token_endpoint(refresh), now=env.clock.now())


def test_the_client_refuses_a_nonce_answer_without_a_usable_nonce() -> None:
    answer = Response.json(400, {"error": "use_dpop_nonce"})
    with pytest.raises(MalformedError):
        parse_token_response(answer, now=T0)
    spaced = Response.json(400, {"error": "use_dpop_nonce"}, headers=[("DPoP-Nonce", 'a"b')])
    with pytest.raises(MalformedError):
        parse_token_response(spaced, now=T0)
    with pytest.raises(InvalidDPoPProof):
        parse_token_response(Response.json(400, {"error": "invalid_dpop_proof"}), now=T0)
