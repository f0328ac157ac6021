"""``authcore dpop proof``: a DPoP proof (RFC 9449) for one request, for testing by hand.

The private key comes from a file or an environment variable (``--key-file``/``--key-env``:
an ES256 P-256 or Ed25519 key as a JWK or PEM), never from argv; ``authcore jwk generate
--alg ES256 --out key.json`` makes one.  The access token for ``ath`` is read from a file or
an environment variable for the same reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from authcore.cli._common import add_secret_options, read_secret, write_output
from authcore.cli._jwk import load_signing_key
from authcore.errors import ConfigurationError, UsageError

if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dpop`` subcommand with ``proof``."""
    parser = subparsers.add_parser(
        "dpop",
        help="make DPoP proofs (RFC 9449) for testing by hand",
        description="Make DPoP proofs (RFC 9449) to send in a request's DPoP header.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    proof = actions.add_parser(
        "proof",
        help="print a DPoP proof JWT for one request",
        description=(
            "Print the DPoP header value for one request (--method, --url), signed with the "
            "client's private key; with an access token it carries its hash (ath).  Exit 0 on "
            "success, 2 on a bad key or argument (one line on stderr)."
        ),
    )
    add_secret_options(proof, "key", help_name="private ES256 (P-256) or Ed25519 key, JWK or PEM")
    add_secret_options(proof, "access-token", help_name="access token the request carries (ath)")
    proof.add_argument("--method", required=True, help="the request's HTTP method (htm)")
    proof.add_argument("--url", required=True, help="the request's URL (htu; query is dropped)")
    proof.add_argument("--nonce", help="the server's latest DPoP-Nonce value")
    proof.add_argument("--json", action="store_true", help='print {"dpop", "jkt", "alg"} as JSON')
    proof.set_defaults(handler=run_proof)


def run_proof(args: argparse.Namespace) -> int:
    """Print one DPoP proof."""
    from authcore.oauth.dpop import DPoPKey  # noqa: PLC0415 - keep `authcore --help` fast

    if not getattr(args, "key_file", None) and not getattr(args, "key_env", None):
        raise UsageError("give the private key with --key-file/--key-env")
    try:
        key = DPoPKey.from_jwk(load_signing_key(args, alg=None))
    except ConfigurationError as exc:
        raise UsageError(f"--key-file/--key-env: {exc.detail or exc}") from None
    token = read_secret(args, "access-token", required=False)
    try:
        access_token = token.decode("ascii") if token is not None else None
    except UnicodeDecodeError:
        raise UsageError("the access token must be ASCII text") from None
    try:
        value = key.proof(args.method, args.url, access_token=access_token, nonce=args.nonce)
    except ConfigurationError as exc:
        raise UsageError(f"{exc.detail or exc}") from None
    if args.json:
        members = {"dpop": value, "jkt": key.thumbprint, "alg": key.alg}
        write_output(json.dumps(members, indent=2) + "\n")
    else:
        write_output(value + "\n")
    return 0
