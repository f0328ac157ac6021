"""``authcore oauth pkce``: a fresh RFC 7636 verifier and S256 challenge for manual flows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli._common import write_output

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
