"""``authcore oauth``: ``serve`` (a local authorization server) and ``pkce`` (a PKCE pair)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli._common import (
    add_json_option,
    add_secret_options,
    read_secret,
    write_json,
    write_output,
)
from authcore.errors import UsageError

if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``oauth`` subcommand with ``pkce``."""
    parser = subparsers.add_parser(
        "oauth",
        help="OAuth 2.x helpers for testing flows by hand",
        description="OAuth 2.x helpers for exercising an authorization server by hand.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    pkce = actions.add_parser(
        "pkce",
        help="print a fresh PKCE code_verifier and S256 code_challenge",
        description=(
            "Print a fresh PKCE pair (RFC 7636): the code_verifier to keep for the token "
            "request, and the S256 code_challenge for the authorization request.  Exit 0."
        ),
    )
    pkce.add_argument(
        "--json",
        action="store_true",
        help='print {"code_verifier", "code_challenge", "code_challenge_method"} as JSON',
    )
    pkce.set_defaults(handler=run_pkce)
    serve = actions.add_parser(
        "serve",
        help="run a local OAuth 2.x authorization server for developing clients",
        description=(
            "Run an authorization server on a loopback address for developing OAuth clients: "
            "every endpoint below the issuer http://HOST:PORT (listed in "
            "/.well-known/oauth-authorization-server), a consent page, the device "
            "verification page, and a protected test resource at /resource.  Prints "
            "'listening on http://HOST:PORT' when ready; stops on SIGINT or SIGTERM (exit 0).  "
            "FILE is JSON: clients (RFC 7591 metadata), scopes, access_token_format "
            "(jwt|opaque), access_token_lifetime, refresh_token_lifetime, signing_alg, "
            "signing_key (a JWK file), database (a SQLite file), resources, dpop "
            "(allowed|required), dpop_nonce (true|false).  Not for production."
        ),
    )
    serve.add_argument("--config", required=True, metavar="FILE", help="the JSON configuration")
    serve.add_argument(
        "--host", default="127.0.0.1", help="a loopback address or localhost (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="the port (default 8000; 0 picks a free one)"
    )
    serve.add_argument(
        "--auto-approve",
        metavar="SUBJECT",
        help="approve every authorization request and device code at once as SUBJECT",
    )
    add_json_option(serve, '{"issuer"} when ready (instead of the listening line)')
    serve.set_defaults(handler=run_serve)
    _register_token(actions)


def _register_token(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = actions.add_parser(
        "token",
        help="request tokens from an authorization server's token endpoint",
        description=(
            "Send one token request (RFC 6749 section 4.4, 6 or 4.1.3) and print the tokens.  "
            "The endpoint comes from --issuer (RFC 8414 discovery, exact issuer match) or "
            "--token-endpoint.  Secrets (client secret, refresh token, PKCE verifier) are read "
            "from files or environment variables, never from the command line.  An OAuth "
            "error answer exits 1 with its error code."
        ),
    )
    where = token.add_mutually_exclusive_group(required=True)
    where.add_argument("--issuer", metavar="URL", help="discover the token endpoint")
    where.add_argument("--token-endpoint", metavar="URL", help="the token endpoint itself")
    token.add_argument("--client-id", required=True, metavar="ID")
    add_secret_options(token, "client-secret", help_name="client secret")
    token.add_argument(
        "--auth",
        choices=["basic", "post", "none"],
        help="client authentication (default: basic with a secret, else none)",
    )
    token.add_argument(
        "--grant",
        choices=["client_credentials", "refresh_token", "authorization_code"],
        default="client_credentials",
        help="the grant type (default client_credentials)",
    )
    token.add_argument("--scope", action="append", default=[], help="a scope (repeatable)")
    token.add_argument(
        "--resource", action="append", default=[], metavar="URI", help="RFC 8707 (repeatable)"
    )
    add_secret_options(token, "refresh-token", help_name="refresh token (refresh_token grant)")
    token.add_argument(
        "--code",
        help="the authorization code (authorization_code grant); write --code=VALUE when it "
        "starts with '-' (a base64url code does once in 64)",
    )
    token.add_argument("--redirect-uri", metavar="URI", help="as in the authorization request")
    add_secret_options(token, "code-verifier", help_name="PKCE code_verifier")
    token.add_argument(
        "--allow-http-loopback",
        action="store_true",
        help="allow plain http to a loopback server (authcore oauth serve)",
    )
    token.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    add_json_option(token, "the token response")
    token.set_defaults(handler=run_token)


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", "replace").strip()


def run_token(args: argparse.Namespace) -> int:
    """Send one token request and print what the server issued."""
    # Keep `authcore --help` fast: the client and the fetcher load only when used.
    from authcore import _fetch  # noqa: PLC0415
    from authcore.oauth.client import (  # noqa: PLC0415
        ClientAuth,
        ClientSecretBasic,
        ClientSecretPost,
        NoneAuth,
        OAuthClient,
        ServerMetadata,
        parse_token_response,
    )

    options = _fetch.FetchOptions(
        timeout=args.timeout, allow_http_loopback=args.allow_http_loopback
    )
    loopback = args.allow_http_loopback
    if args.issuer is not None:
        document = _fetch.send(
            ServerMetadata.request(args.issuer, allow_http_loopback=loopback),
            options=options,
            what="metadata",
        )
        metadata = ServerMetadata.parse(document, issuer=args.issuer, allow_http_loopback=loopback)
    else:
        _fetch.check_url(args.token_endpoint, allow_http_loopback=loopback, what="token endpoint")
        metadata = ServerMetadata(issuer=args.token_endpoint, token_endpoint=args.token_endpoint)
    secret = _text(read_secret(args, "client-secret", required=False))
    method = args.auth or ("basic" if secret else "none")
    if method != "none" and not secret:
        raise UsageError(f"--auth {method} needs --client-secret-file or --client-secret-env")
    auth: ClientAuth = (
        ClientSecretBasic(secret=secret)
        if method == "basic"
        else ClientSecretPost(secret=secret)
        if method == "post"
        else NoneAuth()
    )
    client = OAuthClient(metadata=metadata, client_id=args.client_id, auth=auth)
    if args.grant == "client_credentials":
        request = client.client_credentials_request(scope=args.scope, resource=args.resource)
    elif args.grant == "refresh_token":
        refresh = _text(read_secret(args, "refresh-token"))
        request = client.refresh_request(refresh, scope=args.scope, resource=args.resource)
    else:
        if not args.code or not args.redirect_uri:
            raise UsageError("the authorization_code grant needs --code and --redirect-uri")
        verifier = _text(read_secret(args, "code-verifier"))
        params = [
            ("grant_type", "authorization_code"),
            ("code", args.code),
            ("redirect_uri", args.redirect_uri),
            ("code_verifier", verifier),
            *(("resource", r) for r in args.resource),
        ]
        request = client.post("token_endpoint", params)
    tokens = parse_token_response(_fetch.send(request, options=options, what="token response"))
    members = {
        "access_token": tokens.access_token,
        "token_type": tokens.token_type,
        "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
        "scope": " ".join(sorted(tokens.scope)) or None,
        "refresh_token": tokens.refresh_token,
        "cnf": dict(tokens.cnf) if tokens.cnf else None,
    }
    present = {k: v for k, v in members.items() if v is not None}
    if args.json:
        write_json(present)
    else:
        write_output("".join(f"{k}={v}\n" for k, v in present.items() if k != "cnf"))
    return 0


def run_pkce(args: argparse.Namespace) -> int:
    """Print a new PKCE pair."""
    from authcore.oauth import pkce  # noqa: PLC0415 - keep `authcore --help` fast

    pair = pkce.create_pair()
    if args.json:
        members = {
            "code_verifier": pair.verifier,
            "code_challenge": pair.challenge,
            "code_challenge_method": pair.method,
        }
        write_output(json.dumps(members, indent=2) + "\n")
    else:
        write_output(
            f"code_verifier={pair.verifier}\n"
            f"code_challenge={pair.challenge}\n"
            f"code_challenge_method={pair.method}\n"
        )
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from authcore.cli import _devserver  # noqa: PLC0415 - keep `authcore --help` fast

    if not 0 <= args.port <= 65535:  # noqa: PLR2004 - the port range
        raise UsageError("--port must be 0 to 65535")
    config = _devserver.load_config(args.config)
    return _devserver.serve(
        config,
        host=args.host,
        port=args.port,
        auto_approve=args.auto_approve,
        json_line=args.json,
    )
