"""``authcore jwt encode|decode|verify``: JSON Web Tokens from the command line.

``encode`` signs claims given as JSON (``--claims`` or ``--claims-file``), optionally adding
``iat``/``exp``; ``verify`` checks a token with every check of :class:`~authcore.jose.JWTVerifier`
and prints the claims (keys from a key option or fetched from ``--jwks-url``); ``decode`` prints
header and claims **without verifying anything**, and says so in its output.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from authcore.cli._common import (
    add_json_option,
    add_time_option,
    parse_time,
    read_input,
    write_json,
    write_output,
)
from authcore.cli._jwk import add_key_options, load_keys, load_signing_key
from authcore.cli._jwks import add_jwks_url_options, keys_from_jwks_url
from authcore.cli._jws import read_token
from authcore.errors import AuthcoreError, ConfigurationError, UsageError

if TYPE_CHECKING:
    import argparse


#: The lifetime ``jwt encode`` gives a token whose claims carry no ``exp`` (15 minutes).
DEFAULT_EXPIRES_IN = 900


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``jwt`` subcommand with ``encode``, ``decode`` and ``verify``."""
    parser = subparsers.add_parser(
        "jwt",
        help="encode, verify and inspect JSON Web Tokens",
        description="Encode and verify JWTs (RFC 7519, RFC 8725); decode one for inspection.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    encode = actions.add_parser(
        "encode",
        help="sign claims into a JWT",
        description="Sign a JSON object of claims and print the compact JWT.",
    )
    add_key_options(encode, what="private key")
    source = encode.add_mutually_exclusive_group(required=True)
    source.add_argument("--claims", metavar="JSON", help="the claims as a JSON object")
    source.add_argument("--claims-file", metavar="PATH", help="read the claims JSON from PATH")
    encode.add_argument("--alg", help="algorithm (default: the key's alg)")
    encode.add_argument("--typ", help="the typ header (default JWT)")
    lifetime = encode.add_mutually_exclusive_group()
    lifetime.add_argument(
        "--expires-in",
        type=int,
        metavar="SECONDS",
        help=(
            "set iat to now and exp to now+SECONDS (default: "
            f"{DEFAULT_EXPIRES_IN} when the claims carry no exp, so 'jwt verify' accepts it)"
        ),
    )
    lifetime.add_argument(
        "--no-expiry",
        action="store_true",
        help="add no iat/exp (the token never expires: 'jwt verify' then needs --require)",
    )
    add_json_option(encode, '{"token": ...}')
    encode.set_defaults(handler=run_encode)

    decode = actions.add_parser(
        "decode",
        help="print a JWT's header and claims WITHOUT verifying it",
        description="Print header and claims of a JWT.  Nothing is verified: do not trust it.",
    )
    decode.add_argument("--token-file", metavar="PATH", help="read the token from PATH")
    decode.add_argument("--token-env", metavar="VAR", help="read the token from VAR")
    add_json_option(decode, "the header and claims (the output is always JSON)")
    decode.set_defaults(handler=run_decode)

    verify = actions.add_parser(
        "verify",
        help="verify a JWT and print its claims",
        description=(
            "Verify signature and claims (exp, nbf, iat, iss, aud, sub, typ) and print the "
            "claims; exit 1 with the reason if the token is refused.  Keys come from a key "
            "option or from the JWK Set at --jwks-url."
        ),
    )
    add_key_options(verify, what="verification key(s)")
    add_jwks_url_options(verify)
    verify.add_argument("--token-file", metavar="PATH", help="read the token from PATH")
    verify.add_argument("--token-env", metavar="VAR", help="read the token from VAR")
    verify.add_argument(
        "--alg", action="append", required=True, help="an accepted algorithm (repeatable)"
    )
    verify.add_argument("--iss", action="append", help="an accepted issuer (repeatable)")
    verify.add_argument("--aud", action="append", help="an accepted audience (repeatable)")
    verify.add_argument("--sub", help="the required subject")
    verify.add_argument("--typ", help="the required typ header, e.g. at+jwt")
    verify.add_argument(
        "--require", action="append", metavar="CLAIM", help="a required claim (default: exp)"
    )
    verify.add_argument("--leeway", type=float, default=0.0, metavar="SECONDS")
    add_time_option(verify)
    verify.add_argument("--max-age", type=float, metavar="SECONDS", help="maximum age after iat")
    add_json_option(verify, "the verified claims (the output is always JSON)")
    verify.set_defaults(handler=run_verify)


def _claims(args: argparse.Namespace) -> dict[str, Any]:
    text = args.claims.encode() if args.claims is not None else read_input(args.claims_file)
    try:
        value = json.loads(text)
    except ValueError:
        raise UsageError("the claims are not valid JSON") from None
    if not isinstance(value, dict):
        raise UsageError("the claims must be a JSON object")
    return value


def run_encode(args: argparse.Namespace) -> int:
    """Sign the claims and print the token."""
    from authcore.clock import utc_now  # noqa: PLC0415
    from authcore.jose import jwt  # noqa: PLC0415

    key = load_signing_key(args, alg=args.alg)
    claims = _claims(args)
    expires_in: int | None = args.expires_in
    if expires_in is None and not args.no_expiry and "exp" not in claims:
        expires_in = DEFAULT_EXPIRES_IN
    if expires_in is not None:
        if expires_in <= 0:
            raise UsageError("--expires-in must be positive")
        now = int(utc_now().timestamp())
        claims.update(iat=now, exp=now + expires_in)
    headers: dict[str, Any] = {}
    if args.alg:
        headers["alg"] = args.alg
    if args.typ:
        headers["typ"] = args.typ
    try:
        token = jwt.encode(claims, key, headers=headers or None)
    except AuthcoreError as exc:
        raise UsageError(str(exc.detail or exc)) from None
    if args.json:
        write_json({"token": token})
        return 0
    write_output(token + "\n")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    """Print header and claims, marked UNVERIFIED."""
    from authcore.jose import jwt  # noqa: PLC0415

    result = jwt.decode_unverified(read_token(args))
    output = {"UNVERIFIED": True, "header": result.header, "claims": result.claims}
    write_output(json.dumps(output, indent=2, sort_keys=True) + "\n")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Verify the token and print its claims."""
    from authcore.jose import JWTVerifier  # noqa: PLC0415

    if args.jwks_url is not None:
        if any(getattr(args, f"{n}_{s}", None) for n in ("key", "secret") for s in ("file", "env")):
            raise UsageError("give either --jwks-url or a key option, not both")
        keys = keys_from_jwks_url(args)
    else:
        keys = load_keys(args, alg=args.alg[0] if len(args.alg) == 1 else None)
    try:
        verifier = JWTVerifier(
            keys,
            algorithms=args.alg,
            issuer=args.iss,
            audience=args.aud,
            subject=args.sub,
            typ=args.typ,
            required=tuple(args.require) if args.require else ("exp",),
            leeway=args.leeway,
            max_age=args.max_age,
        )
    except ConfigurationError as exc:
        raise UsageError(str(exc.detail or exc)) from None
    claims = verifier.verify(read_token(args), now=parse_time(args.time))
    write_output(json.dumps(claims, indent=2, sort_keys=True) + "\n")
    return 0
