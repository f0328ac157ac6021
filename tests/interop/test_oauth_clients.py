"""Real OAuth clients nobody here wrote, driving authcore's authorization server.

requests-oauthlib's ``OAuth2Session`` (code + PKCE, refresh, client credentials), Authlib's
requests ``OAuth2Session`` (code + PKCE with ``client_secret_post`` and ``private_key_jwt``)
and oauthlib's ``WebApplicationClient``/``DeviceClient`` (request building) run each flow
against the server twice: served in this process (a thread) and as ``authcore oauth serve``
in a subprocess.  Each access token is verified by PyJWT against the served JWKS and
accepted by the server's test resource; a replayed code and a reused refresh token end in
``invalid_grant``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt as pyjwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from oauthlib.oauth2 import (
    BackendApplicationClient,
    DeviceClient,
    InvalidGrantError,
    WebApplicationClient,
)
from requests_oauthlib import OAuth2Session

from authcore.cli import _devserver
from authcore.http import Request, Response
from authcore.jose import JWK
from authcore.oauth.client import (
    ClientSecretBasic,
    OAuthClient,
    ServerMetadata,
    parse_introspection_response,
    parse_revocation_response,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
REDIRECT = "http://127.0.0.1:9999/callback"
SECRETS = {
    "web": "web-secret-0123456789abcdefghijklmnop",
    "post": "post-secret-0123456789abcdefghijklmnop",
}
CLIENT_KEY = JWK.generate("RS256", kid="pkjwt-1")
ALL = ["authorization_code", "refresh_token", "client_credentials"]
CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": "web",
        "client_secret": SECRETS["web"],
        "redirect_uris": [REDIRECT],
        "grant_types": ALL,
        "scope": "read write",
    },
    {
        "client_id": "post",
        "client_secret": SECRETS["post"],
        "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": [REDIRECT],
        "grant_types": ALL,
        "scope": "read write",
    },
    {
        "client_id": "pkjwt",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [CLIENT_KEY.public().to_dict()]},
        "redirect_uris": [REDIRECT],
        "grant_types": ALL,
        "scope": "read",
    },
    {
        "client_id": "tv",
        "token_endpoint_auth_method": "none",
        "grant_types": [DEVICE, "refresh_token"],
        "scope": "read",
    },
]
CONFIG = {"clients": CLIENTS, "scopes": ["read", "write"]}


@dataclass
class Server:
    """Where a running server is and what its metadata says."""

    issuer: str
    metadata: dict[str, Any]

    def url(self, name: str) -> str:
        return str(self.metadata[name])


def _in_process(tmp: Path) -> Iterator[Server]:
    path = tmp / "config.json"
    path.write_text(json.dumps(CONFIG))
    config = _devserver.load_config(str(path))
    httpd = _devserver._ThreadingWSGIServer(("127.0.0.1", 0), _devserver._Handler)
    issuer = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.set_app(_devserver.DevServer(config, issuer, "alice"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(issuer, _metadata(issuer))
    finally:
        httpd.shutdown()
        httpd.server_close()


def _subprocess(tmp: Path) -> Iterator[Server]:
    path = tmp / "config.json"
    path.write_text(json.dumps(CONFIG))
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "authcore", "oauth", "serve", "--config", str(path)),
            *("--port", "0", "--auto-approve", "alice"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("listening on "), line
    issuer = line.removeprefix("listening on ")
    try:
        yield Server(issuer, _metadata(issuer))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def _metadata(issuer: str) -> dict[str, Any]:
    response = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=10)
    response.raise_for_status()
    return dict(response.json())


@pytest.fixture(scope="module", params=["in-process", "subprocess"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The server, served both ways."""
    tmp = tmp_path_factory.mktemp(request.param)
    yield from (_in_process(tmp) if request.param == "in-process" else _subprocess(tmp))


@pytest.fixture(autouse=True)
def _loopback_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http unless told this is a local test server (it is: loopback only).
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _follow_authorization(url: str) -> str:
    """The user agent: GET the authorization URL, return the callback URL it redirects to."""
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])


def _verify_with_pyjwt(server: Server, token: str, audience: str) -> dict[str, Any]:
    jwks = pyjwt.PyJWKClient(server.url("jwks_uri"))
    key = jwks.get_signing_key_from_jwt(token)
    claims = pyjwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=audience,
        issuer=server.issuer,
        options={"require": ["exp", "iat", "jti", "sub"]},
    )
    assert pyjwt.get_unverified_header(token)["typ"] == "at+jwt"
    return dict(claims)


def _resource_accepts(server: Server, token: str) -> dict[str, Any]:
    response = requests.get(
        server.issuer + "/resource", headers={"Authorization": "Bearer " + token}, timeout=10
    )
    assert response.status_code == 200, response.headers
    return dict(response.json())


# ----------------------------------------------------------------------------- requests-oauthlib


def test_requests_oauthlib_code_pkce_refresh_and_reuse(server: Server) -> None:
    session = OAuth2Session("web", redirect_uri=REDIRECT, scope=["read"], pkce="S256")
    url, state = session.authorization_url(server.url("authorization_endpoint"))
    callback = _follow_authorization(url)
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["state"] == state
    token = session.fetch_token(
        server.url("token_endpoint"),
        authorization_response=callback,
        client_secret=SECRETS["web"],
    )
    claims = _verify_with_pyjwt(server, token["access_token"], server.issuer + "/resource")
    assert claims["sub"] == "alice"
    assert claims["client_id"] == "web"
    assert _resource_accepts(server, token["access_token"])["sub"] == "alice"
    # The same code again: invalid_grant (and the grant is revoked).
    replay = OAuth2Session("web", redirect_uri=REDIRECT, state=state)
    replay._code_verifier = session._code_verifier
    with pytest.raises(InvalidGrantError):
        replay.fetch_token(
            server.url("token_endpoint"),
            authorization_response=callback,
            client_secret=SECRETS["web"],
        )


def test_requests_oauthlib_refresh_rotation_and_reuse(server: Server) -> None:
    session = OAuth2Session("web", redirect_uri=REDIRECT, scope=["read", "write"], pkce="S256")
    url, _ = session.authorization_url(server.url("authorization_endpoint"))
    token = session.fetch_token(
        server.url("token_endpoint"),
        authorization_response=_follow_authorization(url),
        client_secret=SECRETS["web"],
    )
    first = token["refresh_token"]
    auth = requests.auth.HTTPBasicAuth("web", SECRETS["web"])
    renewed = session.refresh_token(server.url("token_endpoint"), auth=auth)
    assert renewed["refresh_token"] != first
    assert _resource_accepts(server, renewed["access_token"])["scope"] == "read write"
    reuse = OAuth2Session("web", token={**renewed, "refresh_token": first})
    with pytest.raises(InvalidGrantError):
        reuse.refresh_token(server.url("token_endpoint"), auth=auth)
    # Reuse revoked the family, the newest refresh token included.
    with pytest.raises(InvalidGrantError):
        session.refresh_token(server.url("token_endpoint"), auth=auth)


def test_requests_oauthlib_client_credentials(server: Server) -> None:
    session = OAuth2Session(client=BackendApplicationClient(client_id="web"), scope=["read"])
    token = session.fetch_token(
        server.url("token_endpoint"), client_id="web", client_secret=SECRETS["web"]
    )
    assert token["token_type"] == "Bearer"
    claims = _verify_with_pyjwt(server, token["access_token"], server.issuer + "/resource")
    assert claims["sub"] == "web"
    response = session.get(server.issuer + "/resource", timeout=10)
    assert response.status_code == 200
    assert response.json()["client_id"] == "web"


# ----------------------------------------------------------------------------- Authlib


def test_authlib_code_pkce_client_secret_post(server: Server) -> None:
    session = AuthlibSession(
        "post",
        SECRETS["post"],
        scope="read",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    )
    verifier = "v" * 64
    url, _ = session.create_authorization_url(
        server.url("authorization_endpoint"), code_verifier=verifier
    )
    token = session.fetch_token(
        server.url("token_endpoint"),
        authorization_response=_follow_authorization(url),
        code_verifier=verifier,
    )
    assert _verify_with_pyjwt(server, token["access_token"], server.issuer + "/resource")
    assert _resource_accepts(server, token["access_token"])["client_id"] == "post"


def test_authlib_code_pkce_private_key_jwt(server: Server) -> None:
    token_url = server.url("token_endpoint")
    session = AuthlibSession(
        "pkjwt",
        CLIENT_KEY.to_dict(private=True),
        scope="read",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method=PrivateKeyJWT(token_url),
    )
    verifier = "w" * 64
    url, _ = session.create_authorization_url(
        server.url("authorization_endpoint"), code_verifier=verifier
    )
    token = session.fetch_token(
        token_url, authorization_response=_follow_authorization(url), code_verifier=verifier
    )
    claims = _verify_with_pyjwt(server, token["access_token"], server.issuer + "/resource")
    assert claims["client_id"] == "pkjwt"
    renewed = session.refresh_token(token_url, refresh_token=token["refresh_token"])
    assert renewed["refresh_token"] != token["refresh_token"]


# ----------------------------------------------------------------------------- oauthlib builders


def test_oauthlib_clients_build_requests_the_server_accepts(server: Server) -> None:
    web = WebApplicationClient("web")
    verifier = web.create_code_verifier(64)
    challenge = web.create_code_challenge(verifier, "S256")
    url = web.prepare_request_uri(
        server.url("authorization_endpoint"),
        redirect_uri=REDIRECT,
        scope=["read"],
        state="st",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    code = web.parse_request_uri_response(_follow_authorization(url), state="st")["code"]
    body = web.prepare_request_body(code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    answer = requests.post(
        server.url("token_endpoint"),
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=("web", SECRETS["web"]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    web.parse_request_body_response(answer.text)
    assert web.token["token_type"] == "Bearer"

    device = DeviceClient("tv")

    def start() -> dict[str, Any]:
        answer = requests.post(
            server.url("device_authorization_endpoint"),
            data={"client_id": "tv", "scope": "read"},
            timeout=10,
        )
        return dict(answer.json())

    def poll(started: dict[str, Any]) -> requests.Response:
        body = device.prepare_request_body(device_code=started["device_code"])
        return requests.post(
            server.url("token_endpoint"),
            data=body + "&client_id=tv",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )

    waiting = start()
    assert poll(waiting).json()["error"] == "authorization_pending"
    approved = start()  # approved before its first poll, so no slow_down
    assert requests.get(approved["verification_uri_complete"], timeout=10).status_code == 200
    answer = poll(approved)
    assert answer.status_code == 200, answer.text
    device.parse_request_body_response(answer.text)
    assert _resource_accepts(server, device.token["access_token"])["sub"] == "alice"
    assert poll(approved).json()["error"] == "invalid_grant"


def test_the_metadata_is_what_these_clients_discover(server: Server) -> None:
    assert server.metadata["issuer"] == server.issuer
    assert "S256" in server.metadata["code_challenge_methods_supported"]
    assert os.environ["OAUTHLIB_INSECURE_TRANSPORT"] == "1"


# ----------------------------------------------------------------------------- our own client


def _send(request: Request) -> Response:
    """Send an authcore Request with urllib; any status comes back as a Response."""
    req = urllib.request.Request(  # noqa: S310 - loopback test server
        request.url, data=request.body or None, method=request.method
    )
    for name, value in request.headers.raw():
        req.add_header(name, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(req, timeout=10) as answer:
            return Response(status=answer.status, headers=answer.getheaders(), body=answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(status=error.code, headers=error.headers.items(), body=error.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: ARG002
        return None


def test_authcore_client_against_the_server_over_http(server: Server) -> None:
    metadata = ServerMetadata.parse(
        _send(ServerMetadata.request(server.issuer, allow_http_loopback=True)),
        issuer=server.issuer,
        allow_http_loopback=True,
    )
    client = OAuthClient(
        metadata=metadata, client_id="web", auth=ClientSecretBasic(secret=SECRETS["web"])
    )
    flow = client.start(redirect_uri=REDIRECT, scope=["read"])
    authorized = _send(Request(method="GET", url=flow.authorization_url()))
    assert authorized.status == 302
    code = flow.validate_callback(authorized.headers["location"])
    tokens = flow.parse_token_response(_send(flow.token_request(code)))
    assert tokens.token_type == "Bearer"
    assert tokens.refresh_token is not None
    renewed = client.parse_refresh(
        _send(client.refresh_request(tokens.refresh_token)), previous=tokens
    )
    assert renewed.refresh_token is not None
    assert renewed.refresh_token != tokens.refresh_token
    info = parse_introspection_response(_send(client.introspection_request(renewed.access_token)))
    assert info.active
    assert info.subject == "alice"
    parse_revocation_response(_send(client.revocation_request(renewed.refresh_token)))
    gone = parse_introspection_response(_send(client.introspection_request(renewed.access_token)))
    assert not gone.active  # revoking the refresh token took its family


def test_authlib_session_calls_the_protected_resource(server: Server) -> None:
    session = AuthlibSession("web", SECRETS["web"], scope="read")
    session.fetch_token(server.url("token_endpoint"), grant_type="client_credentials")
    answer = session.get(server.issuer + "/resource", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["client_id"] == "web"
    denied = session.get(server.issuer + "/resource?scope=write", timeout=10)
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
