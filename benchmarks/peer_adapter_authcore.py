r"""Adapter plugging authcore into ``shared/tools/peer_bench.py --extra``.

Usage (from the tools folder)::

    PYTHONPATH=/work/main/benchmarks:/work/main python peer_bench.py \\
        --extra authcore=peer_adapter_authcore

Keys are imported once (as a careful application would), the verifier is built once, and only
``JWTVerifier.verify`` / ``jwt.encode`` are timed.  The configuration matches the PyJWT row:
``alg`` pinned, ``exp``, ``iss`` and ``aud`` required, issuer and audience checked.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from authcore.jose import JWK, JWTVerifier, jwt

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "authcore"
DIST = "authcore"

_ISS = "https://issuer.example"
_AUD = "bench-audience"


def _jwk(alg: str, keys: Any, *, private: bool) -> JWK:
    if alg == "HS256":
        return JWK.from_secret(keys.secret, alg=alg)
    return JWK.from_pem(keys.private_pem if private else keys.public_pem, alg=alg)


def make_verifier(alg: str, keys: Any, token: str) -> Callable[[], dict[str, Any]]:
    verifier = JWTVerifier(
        _jwk(alg, keys, private=False),
        algorithms=[alg],
        issuer=_ISS,
        audience=_AUD,
        required=("exp", "iss", "aud"),
    )
    return functools.partial(verifier.verify, token)


def make_signer(alg: str, keys: Any, claims: dict[str, Any]) -> Callable[[], str]:
    return functools.partial(jwt.encode, claims, _jwk(alg, keys, private=True))
