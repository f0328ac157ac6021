"""``authcore oauth``: ``serve`` (a local authorization server) and ``pkce`` (a PKCE pair)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli._common import add_json_option, write_output
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
