"""``authcore oauth serve``: the contract of the development server, over real HTTP.

One server process per configuration (module fixtures) is driven with ``http.client``: the
ready line, discovery, every grant, the consent and device pages, the protected test
resource, DPoP, and the refusals of bad configurations (one line, exit 2).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from authcore.cli import _devserver
from authcore.errors import UsageError
from authcore.jose import JWK, JWTVerifier
from authcore.oauth import pkce
from authcore.oauth.dpop import DPoPKey

from .helpers import basic

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
SECRET = "app-secret-0123456789abcdefghijklmnop"
REDIRECT = "http://127.0.0.1:9999/cb"
CLIENTS = [
    {
        "client_id": "app",
        "client_secret": SECRET,
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials", DEVICE],
        "scope": "read write",
    },
    {
        "client_id": "spa",
        "token_endpoint_auth_method": "none",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", DEVICE],
        "scope": "read",
    },
]
API = "https://api.example/"


@dataclass
class Served:
    """A running ``authcore oauth serve`` (a subprocess, or in a thread) and how to reach it."""

    process: subprocess.Popen[str] | None
    issuer: str
    httpd: Any = None

    def call(
        self,
        method: str,
        target: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urllib.parse.urlsplit(self.issuer)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        all_headers = dict(headers or {})
        if form is not None:
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, target, body=body, headers=all_headers)
        response = connection.getresponse()
        fields: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            fields[key] = f"{fields[key]}\n{value}" if key in fields else value
        data = response.read()
        connection.close()
        return response.status, fields, data

    def token(self, form: dict[str, str], **headers: str) -> tuple[int, dict[str, Any]]:
        merged = {"Authorization": basic("app", SECRET), **headers}
        if form.get("client_id") == "spa":
            merged.pop("Authorization")
        status, _, data = self.call("POST", "/token", form, merged)
        return status, json.loads(data)


def _start(tmp: Path, config: dict[str, Any], *extra: str) -> Served:
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "authcore",
            "oauth",
            "serve",
            "--config",
            str(path),
            "--port",
            "0",
            *list(extra),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    assert process.stderr is not None
    line = process.stdout.readline().strip()
    assert line.startswith("listening on http://127.0.0.1:"), (line, process.stderr.read())
    return Served(process=process, issuer=line.removeprefix("listening on "))


def _start_in_thread(tmp: Path, config: dict[str, Any]) -> Served:
    """The same application in a thread of this process (so its code is measured too)."""
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    httpd = _devserver._ThreadingWSGIServer(("127.0.0.1", 0), _devserver._Handler)
    issuer = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.set_app(_devserver.DevServer(_devserver.load_config(str(path)), issuer, None))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return Served(process=None, issuer=issuer, httpd=httpd)


def _stop(served: Served) -> int:
    if served.process is None:
        served.httpd.shutdown()
        served.httpd.server_close()
        return 0
    served.process.send_signal(signal.SIGTERM)
    code = served.process.wait(timeout=10)
    for stream in (served.process.stdout, served.process.stderr):
        if stream is not None:
            stream.close()
    return code


@pytest.fixture(scope="module")
def auto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server that approves everything as alice (JWT access tokens, DPoP allowed)."""
    config = {"clients": CLIENTS, "scopes": ["read", "write"], "resources": [API]}
    served = _start(tmp_path_factory.mktemp("auto"), config, "--auto-approve", "alice")
    yield served
    assert _stop(served) == 0


@pytest.fixture(scope="module")
def asking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server with consent pages, opaque tokens, SQLite, DPoP required with nonces."""
    tmp = tmp_path_factory.mktemp("asking")
    config = {
        "clients": CLIENTS,
        "scopes": ["read", "write"],
        "access_token_format": "opaque",
        "database": str(tmp / "dev.db"),
        "dpop": "required",
        "dpop_nonce": True,
    }
    served = _start_in_thread(tmp, config)
    yield served
    assert _stop(served) == 0


def _location(headers: dict[str, str]) -> dict[str, str]:
    query = urllib.parse.urlsplit(headers["location"]).query
    return dict(urllib.parse.parse_qsl(query))


def _authorize_query(client_id: str = "app", **extra: str) -> tuple[str, pkce.PKCEPair]:
    pair = pkce.create_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "read",
        "state": "s1",
        "code_challenge": pair.challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return "/authorize?" + urllib.parse.urlencode(params), pair


# ----------------------------------------------------------------------------- contract


def test_the_metadata_lists_every_endpoint_under_the_issuer(auto: Served) -> None:
    status, _headers, data = auto.call("GET", "/.well-known/oauth-authorization-server")
    assert status == 200
    metadata = json.loads(data)
    assert metadata["issuer"] == auto.issuer
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "device_authorization_endpoint",
        "pushed_authorization_request_endpoint",
        "jwks_uri",
    ):
        assert metadata[name].startswith(auto.issuer + "/"), name
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]


def test_code_flow_auto_approved_then_refresh_and_replay(auto: Served) -> None:
    target, pair = _authorize_query(resource=API)
    status, headers, _ = auto.call("GET", target)
    assert status == 302
    callback = _location(headers)
    assert callback["state"] == "s1"
    assert callback["iss"] == auto.issuer
    form = {
        "grant_type": "authorization_code",
        "code": callback["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": pair.verifier,
    }
    status, tokens = auto.token(form)
    assert status == 200, tokens
    _, _, jwks = auto.call("GET", "/jwks")
    verifier = JWTVerifier(
        [JWK.from_dict(k) for k in json.loads(jwks)["keys"]],
        algorithms=["ES256"],
        issuer=auto.issuer,
        audience=API,
        typ="at+jwt",
    )
    assert verifier.verify(tokens["access_token"])["sub"] == "alice"
    assert auto.token(form)[1]["error"] == "invalid_grant"  # replay revokes the grant
    status, renewed = auto.token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert renewed["error"] == "invalid_grant"  # the family went with the replayed code


def test_the_resource_answers_token_information_or_the_challenge(auto: Served) -> None:
    status, tokens = auto.token({"grant_type": "client_credentials", "scope": "read"})
    assert status == 200
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    status, _, data = auto.call("POST", "/resource", headers=bearer)
    info = json.loads(data)
    assert status == 200
    assert info["client_id"] == "app"
    assert info["scope"] == "read"
    assert info["aud"] == [auto.issuer + "/resource"]
    status, headers, _ = auto.call("GET", "/resource")
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    status, headers, _ = auto.call("GET", "/resource?scope=write", headers=bearer)
    assert status == 403
    assert 'error="insufficient_scope"' in headers["www-authenticate"]
    status, headers, _ = auto.call("GET", "/resource", headers={"Authorization": "Bearer x.y.z"})
    assert status == 401
    assert 'error="invalid_token"' in headers["www-authenticate"]


def test_dpop_bound_tokens_at_the_resource(auto: Served) -> None:
    key = DPoPKey.generate("ES256")
    proof = key.proof("POST", auto.issuer + "/token")
    status, tokens = auto.token({"grant_type": "client_credentials"}, DPoP=proof)
    assert status == 200
    assert tokens["token_type"] == "DPoP"
    token = tokens["access_token"]
    url = auto.issuer + "/resource"
    headers = {"Authorization": "DPoP " + token, "DPoP": key.proof("GET", url, access_token=token)}
    status, _, data = auto.call("GET", "/resource", headers=headers)
    assert status == 200
    assert json.loads(data)["cnf"] == {"jkt": key.thumbprint}
    status, _, _ = auto.call("GET", "/resource", headers={"Authorization": "Bearer " + token})
    assert status == 401  # a DPoP-bound token presented as Bearer


def test_device_flow_approved_by_visiting_the_complete_uri(auto: Served) -> None:
    _, _, data = auto.call(
        "POST", "/device_authorization", {"scope": "read"}, {"Authorization": basic("app", SECRET)}
    )
    started = json.loads(data)
    poll = {"grant_type": DEVICE, "device_code": started["device_code"]}
    assert auto.token(poll)[1]["error"] == "authorization_pending"
    complete = urllib.parse.urlsplit(started["verification_uri_complete"])
    status, _, page = auto.call("GET", complete.path + "?" + complete.query)
    assert status == 200
    assert b"approved" in page
    status, tokens = auto.token(poll)
    assert status == 200, tokens
    assert auto.token(poll)[1]["error"] == "invalid_grant"


def test_consent_page_approves_and_denies(asking: Served) -> None:
    key = DPoPKey.generate("ES256")
    target, pair = _authorize_query("spa")
    status, headers, page = asking.call("GET", target)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    ticket = page.decode().split("name='ticket' value='")[1].split("'")[0]
    status, headers, _ = asking.call(
        "POST", "/consent", {"ticket": ticket, "subject": "bob", "decision": "approve"}
    )
    assert status == 302
    code = _location(headers)["code"]
    # The ticket is single use: the same form again is refused.
    status, _, _ = asking.call(
        "POST", "/consent", {"ticket": ticket, "subject": "bob", "decision": "approve"}
    )
    assert status == 400
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": pair.verifier,
        "client_id": "spa",
    }
    # DPoP is required, with the server's nonce: no proof, then no nonce, then the retry.
    assert asking.token(form)[1]["error"] == "invalid_dpop_proof"
    url = asking.issuer + "/token"
    status, _, data = asking.call("POST", "/token", form, {"DPoP": key.proof("POST", url)})
    assert json.loads(data)["error"] == "use_dpop_nonce"
    _, headers, _ = asking.call("POST", "/token", form, {"DPoP": key.proof("POST", url)})
    nonce = headers["dpop-nonce"]
    status, tokens = asking.token(form, DPoP=key.proof("POST", url, nonce=nonce))
    assert status == 200, tokens
    assert tokens["token_type"] == "DPoP"
    token = tokens["access_token"]
    resource = asking.issuer + "/resource"
    # Opaque tokens are introspected by /resource; its proofs need the nonce too.
    proof = key.proof("GET", resource, access_token=token, nonce=nonce)
    status, _, data = asking.call(
        "GET", "/resource", headers={"Authorization": "DPoP " + token, "DPoP": proof}
    )
    assert status == 200, data
    assert json.loads(data)["sub"] == "bob"
    # Deny.
    target, _ = _authorize_query("spa")
    _, _, page = asking.call("GET", target)
    ticket = page.decode().split("name='ticket' value='")[1].split("'")[0]
    status, headers, _ = asking.call(
        "POST", "/consent", {"ticket": ticket, "subject": "", "decision": "deny"}
    )
    assert status == 302
    assert _location(headers)["error"] == "access_denied"


def test_the_consent_page_escapes_what_the_client_sent(asking: Served) -> None:
    target, _ = _authorize_query("spa", state="<script>x</script>")
    _, _, page = asking.call("GET", target)
    assert b"<script>" not in page


def test_device_page_without_auto_approve(asking: Served) -> None:
    _, _, data = asking.call(
        "POST",
        "/device_authorization",
        {"client_id": "spa"},
        {"DPoP": DPoPKey.generate("ES256").proof("POST", asking.issuer + "/device_authorization")},
    )
    started = json.loads(data)
    status, _, page = asking.call("GET", "/device?user_code=" + started["user_code"])
    assert status == 200
    assert started["user_code"].encode() in page
    status, _, page = asking.call(
        "POST",
        "/device",
        {"user_code": started["user_code"], "subject": "carol", "decision": "deny"},
    )
    assert status == 200
    assert b"denied" in page
    status, _, _ = asking.call(
        "POST", "/device", {"user_code": "BBBB-BBBB", "subject": "c", "decision": "approve"}
    )
    assert status == 400


def test_unknown_paths_and_oversized_bodies(auto: Served) -> None:
    assert auto.call("GET", "/nope")[0] == 404
    assert auto.call("POST", "/token", {"x": "y" * 70_000})[0] == 413


# ----------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"clients": CLIENTS, "colour": "blue"}, "unknown field 'colour'"),
        ({}, "'clients' is required"),
        ({"clients": []}, "clients must be a non-empty list"),
        ({"clients": [{"redirect_uris": []}]}, "clients[0] must be an object with a client_id"),
        ({"clients": [{"client_id": "x", "grant_types": ["password"]}]}, "clients[0] (x)"),
        ({"clients": CLIENTS, "access_token_format": "paseto"}, "access_token_format must be"),
        ({"clients": CLIENTS, "access_token_lifetime": 0}, "access_token_lifetime must be"),
        ({"clients": CLIENTS, "signing_alg": "HS256"}, "signing_alg must be an asymmetric"),
        ({"clients": CLIENTS, "resources": ["not a url"]}, "is not an absolute http(s) URI"),
        ({"clients": CLIENTS, "dpop": "sometimes"}, "dpop must be one of"),
        ({"clients": CLIENTS, "dpop_nonce": "yes"}, "dpop_nonce must be true or false"),
        ({"clients": [CLIENTS[0], CLIENTS[0]]}, "must be unique"),
    ],
)
def test_bad_configurations_are_one_line_and_exit_2(
    tmp_path: Path, config: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from authcore.cli import main  # noqa: PLC0415 - the in-process CLI

    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert main(["oauth", "serve", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert out == ""


def test_a_bad_configuration_exits_2_as_a_process(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"clients": CLIENTS, "colour": "blue"}))
    result = subprocess.run(
        [sys.executable, "-m", "authcore", "oauth", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"authcore: error: {path}: unknown field 'colour' (known: "
        + ", ".join(_devserver._FIELDS)
        + ")"
    ]
    assert result.stdout == ""


def test_serve_prints_the_ready_line_and_stops_on_sigterm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """serve() in this process: ready line, a request answered, SIGTERM ends it with 0."""
    import socket  # noqa: PLC0415
    import time  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"clients": CLIENTS, "database": str(tmp_path / "d.db")}))
    config = _devserver.load_config(str(path))
    answered: list[int] = []

    def client() -> None:
        for _ in range(200):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/.well-known/oauth-authorization-server")
                answered.append(connection.getresponse().status)
                connection.close()
                break
            except OSError:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=client, daemon=True).start()
    assert _devserver.serve(config, host="127.0.0.1", port=port, auto_approve=None) == 0
    assert answered == [200]
    assert capsys.readouterr().out == f"listening on http://127.0.0.1:{port}\n"


def test_not_json_and_non_loopback_hosts_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{nope")
    with pytest.raises(UsageError, match="not JSON"):
        _devserver.load_config(str(path))
    path.write_text(json.dumps({"clients": CLIENTS}))
    config = _devserver.load_config(str(path))
    with pytest.raises(UsageError, match="only listens on loopback"):
        _devserver.serve(config, host="0.0.0.0", port=0, auto_approve=None)  # noqa: S104
    assert _devserver.check_host("::1") == "::1"
    assert _devserver.check_host("localhost") == "localhost"


def test_a_signing_key_file_is_used_and_must_be_private(tmp_path: Path) -> None:
    key = JWK.generate("ES256", kid="mine")
    (tmp_path / "key.json").write_text(json.dumps(key.to_dict(private=True)))
    (tmp_path / "public.json").write_text(json.dumps(key.public().to_dict()))
    config = _devserver.DevConfig(clients=(), signing_key=str(tmp_path / "key.json"))
    app = _devserver.DevServer(config, "http://127.0.0.1:1", None)
    assert json.loads(app.server.jwks().body)["keys"][0]["kid"] == "mine"
    public = _devserver.DevConfig(clients=(), signing_key=str(tmp_path / "public.json"))
    with pytest.raises(UsageError, match="must be a private key"):
        _devserver.DevServer(public, "http://127.0.0.1:1", None)


# ----------------------------------------------------------------------------- authcore oauth token


def _token_cli(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    from authcore.cli import main  # noqa: PLC0415 - the in-process CLI

    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    code = main(
        [
            *("oauth", "token", "--issuer", served.issuer, "--allow-http-loopback"),
            *("--client-id", "app", "--client-secret-file", str(secret), *args),
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_oauth_token_runs_every_grant_against_the_server(
    auto: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _token_cli(auto, tmp_path, capsys, "--scope", "read", "--json")
    assert code == 0
    issued = json.loads(out)
    assert issued["token_type"] == "Bearer"
    assert issued["scope"] == "read"
    # authorization_code, with the verifier from a file.
    target, pair = _authorize_query()
    _, headers, _ = auto.call("GET", target)
    verifier = tmp_path / "verifier"
    verifier.write_text(pair.verifier)
    code, out, _ = _token_cli(
        auto,
        tmp_path,
        capsys,
        # --code=VALUE: a base64url code starts with "-" once in 64, which argparse would
        # read as an option after a separate "--code".
        *("--grant", "authorization_code", f"--code={_location(headers)['code']}"),
        *("--redirect-uri", REDIRECT, "--code-verifier-file", str(verifier)),
    )
    assert code == 0
    lines = dict(line.split("=", 1) for line in out.strip().splitlines())
    assert lines["token_type"] == "Bearer"
    # refresh_token, from an environment variable.
    os.environ["AUTHCORE_TEST_REFRESH"] = lines["refresh_token"]
    try:
        code, out, _ = _token_cli(
            auto,
            tmp_path,
            capsys,
            "--grant",
            "refresh_token",
            "--refresh-token-env",
            "AUTHCORE_TEST_REFRESH",
            "--json",
        )
        assert code == 0
        assert json.loads(out)["refresh_token"] != lines["refresh_token"]
        # The rotated token again: the server's invalid_grant, exit 1, one line.
        code, out, err = _token_cli(
            auto,
            tmp_path,
            capsys,
            "--grant",
            "refresh_token",
            "--refresh-token-env",
            "AUTHCORE_TEST_REFRESH",
        )
    finally:
        del os.environ["AUTHCORE_TEST_REFRESH"]
    assert code == 1
    assert out == ""
    assert err.startswith("authcore: oauth_invalid_grant:")


def test_oauth_token_usage_errors_exit_2(
    auto: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _token_cli(auto, tmp_path, capsys, "--grant", "authorization_code")
    assert code == 2
    assert "needs --code and --redirect-uri" in err
    from authcore.cli import main  # noqa: PLC0415

    assert main(["oauth", "token", "--issuer", auto.issuer, "--client-id", "app"]) == 2
    assert "https" in capsys.readouterr().err  # plain http needs --allow-http-loopback


@pytest.mark.parametrize("listed", [True, False])
def test_resource_servers_may_introspect_other_clients_tokens(tmp_path: Path, listed: bool) -> None:
    """``resource_servers`` names clients that see every access token at /introspect."""
    from authcore.http import Request  # noqa: PLC0415

    rs = {"client_id": "rs", "client_secret": "rs-" + SECRET, "grant_types": []}
    config: dict[str, Any] = {"clients": [*CLIENTS, rs], "access_token_format": "opaque"}
    if listed:
        config["resource_servers"] = ["rs"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    app = _devserver.DevServer(_devserver.load_config(str(path)), "http://127.0.0.1:1", None)

    def post(url: str, params: dict[str, str], client_id: str, secret: str) -> Any:
        return Request(
            method="POST",
            url="http://127.0.0.1:1" + url,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": basic(client_id, secret),
            },
            body=urllib.parse.urlencode(params).encode(),
        )

    issued = app.server.token_endpoint(
        post("/token", {"grant_type": "client_credentials", "scope": "read"}, "app", SECRET)
    )
    token = json.loads(issued.body)["access_token"]
    seen = app.server.introspection_endpoint(
        post("/introspect", {"token": token}, "rs", "rs-" + SECRET)
    )
    assert json.loads(seen.body)["active"] is listed


def test_resource_servers_must_be_a_list_of_ids(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"clients": CLIENTS, "resource_servers": "rs"}))
    with pytest.raises(UsageError, match="resource_servers must be a list of non-empty strings"):
        _devserver.load_config(str(path))
