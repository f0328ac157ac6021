"""JWT verification and signing against the pure-Python floor and the installed peers.

The verify floor is what DESIGN.md section 8 defines: split the token, base64url-decode and
parse the header, check ``alg``, verify the signature with a pre-parsed ``cryptography`` key,
decode and parse the payload, check ``exp``, ``nbf``, ``iss`` and ``aud`` (no strictness: no
canonical base64url, no duplicate-name or type checks).  Each step is done the fastest plain
way: the time is :func:`authcore.clock.unix_now` (UNIX seconds as a float, what
``JWTVerifier`` reads when no clock is injected; only :mod:`authcore.clock` reads the wall
clock), and
HS256 copies a ``cryptography`` HMAC keyed once, before timing, and lets it compare the tag
(about half the instructions of ``hmac.digest`` and ``compare_digest``, and far fewer than a
``hmac.new`` per call).  The sign floor encodes the claims and signs them under a pre-built
header, HS256 again from the pre-keyed HMAC.

Every library is configured like a careful application (algorithm pinned; ``exp``, ``iss`` and
``aud`` required and checked; keys parsed once) and each case is checked once before timing:
verifiers must return the claims, and every signer's token must pass authcore's verifier.
A last group measures one shared :class:`~authcore.jose.JWTVerifier` from two threads:
``cryptography`` releases the GIL during the RSA, ECDSA and EdDSA operations.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import importlib.util
import json
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from authcore._bench import Group
from authcore.clock import unix_now, utc_now
from authcore.jose import JWK, JWTVerifier, jwt

NAME = "jose"

ALGS: Final = ("HS256", "RS256", "PS256", "ES256", "EdDSA")
_ISS: Final = "https://issuer.example"
_AUD: Final = "bench-audience"
_SHA256: Final = hashes.SHA256()
_PSS: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_ECDSA: Final = ec.ECDSA(hashes.SHA256())
_TO_STD: Final = bytes.maketrans(b"-_", b"+/")

Op = Callable[[], object]


class _Keys:
    """One algorithm's key material: secret or cryptography objects, and PEMs."""

    def __init__(self, alg: str, rsa_key: rsa.RSAPrivateKey) -> None:
        self.alg = alg
        self.secret = hashlib.sha256(b"authcore-bench").digest()
        # Keyed once: each MAC copies this state (no key schedule per call).
        self.hmac = crypto_hmac.HMAC(self.secret, _SHA256)
        private: Any = {
            "RS256": rsa_key,
            "PS256": rsa_key,
            "ES256": ec.generate_private_key(ec.SECP256R1()),
            "EdDSA": ed25519.Ed25519PrivateKey.generate(),
        }.get(alg)
        self.private: Any = private
        self.public: Any = private.public_key() if private is not None else None
        self.private_pem = (
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            if private is not None
            else b""
        )
        self.public_pem = (
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if private is not None
            else b""
        )

    def jwk(self, *, private: bool) -> JWK:
        if self.alg == "HS256":
            return JWK.from_secret(self.secret, alg="HS256")
        return JWK.from_pem(self.private_pem if private else self.public_pem, alg=self.alg)

    def raw_sign(self, data: bytes) -> bytes:
        if self.alg == "HS256":
            mac = self.hmac.copy()
            mac.update(data)
            return mac.finalize()
        if self.alg == "RS256":
            return bytes(self.private.sign(data, padding.PKCS1v15(), _SHA256))
        if self.alg == "PS256":
            return bytes(self.private.sign(data, _PSS, _SHA256))
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(data, _ECDSA))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return bytes(self.private.sign(data))

    def raw_verify(self) -> Callable[[bytes, bytes], None]:
        alg, public = self.alg, self.public
        if alg == "HS256":
            keyed = self.hmac

            def verify_hmac(data: bytes, sig: bytes) -> None:
                mac = keyed.copy()
                mac.update(data)
                mac.verify(sig)  # constant-time; raises InvalidSignature

            return verify_hmac
        if alg == "RS256":
            return lambda data, sig: public.verify(sig, data, padding.PKCS1v15(), _SHA256)
        if alg == "PS256":
            return lambda data, sig: public.verify(sig, data, _PSS, _SHA256)
        if alg == "ES256":

            def verify_ecdsa(data: bytes, sig: bytes) -> None:
                der = encode_dss_signature(
                    int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
                )
                public.verify(der, data, _ECDSA)

            return verify_ecdsa
        return lambda data, sig: public.verify(sig, data)


def _b64e(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64d(data: bytes) -> bytes:
    return binascii.a2b_base64(data.translate(_TO_STD) + b"=" * (-len(data) % 4))


_compact_json = json.JSONEncoder(separators=(",", ":")).encode


def _token(keys: _Keys, claims: dict[str, Any]) -> str:
    head = _b64e(_compact_json({"alg": keys.alg, "typ": "JWT"}).encode())
    signing_input = head + b"." + _b64e(_compact_json(claims).encode())
    return (signing_input + b"." + _b64e(keys.raw_sign(signing_input))).decode()


class _Rejected(Exception):
    pass


def _floor_verifier(keys: _Keys, token: str) -> Op:
    raw_verify = keys.raw_verify()
    alg, loads = keys.alg, json.loads

    def verify() -> dict[str, Any]:
        signing_input, _, sig = token.encode().rpartition(b".")
        head, _, payload = signing_input.partition(b".")
        header = loads(_b64d(head).decode())
        if header.get("alg") != alg or "crit" in header:
            raise _Rejected
        raw_verify(signing_input, _b64d(sig))
        claims: dict[str, Any] = loads(_b64d(payload).decode())
        now = unix_now()
        exp, nbf, aud = claims.get("exp"), claims.get("nbf"), claims.get("aud")
        if exp is None or now >= exp or (nbf is not None and nbf > now):
            raise _Rejected
        if claims.get("iss") != _ISS or (
            aud != _AUD and not (isinstance(aud, list) and _AUD in aud)
        ):
            raise _Rejected
        return claims

    return verify


def _floor_signer(keys: _Keys, claims: dict[str, Any]) -> Op:
    head = _b64e(_compact_json({"alg": keys.alg, "typ": "JWT"}).encode()) + b"."

    def sign() -> str:
        signing_input = head + _b64e(_compact_json(claims).encode())
        return (signing_input + b"." + _b64e(keys.raw_sign(signing_input))).decode()

    return sign


# ----------------------------------------------------------------------------- peers


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _joserfc_key(keys: _Keys, pem: bytes) -> Any:  # noqa: ANN401 - a joserfc key object
    """The joserfc key of ``keys``: its HMAC secret, or the key in ``pem``."""
    from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey  # noqa: PLC0415 - optional peer

    if keys.alg == "HS256":
        return OctKey.import_key(keys.secret)
    classes: dict[str, Any] = {"RS256": RSAKey, "PS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}
    return classes[keys.alg].import_key(pem)


def _peer_verifiers(keys: _Keys, token: str) -> dict[str, Op]:
    alg = keys.alg
    cases: dict[str, Op] = {}
    if _available("jwt"):
        import jwt as pyjwt  # noqa: PLC0415

        key: Any = keys.secret if alg == "HS256" else keys.public
        options: Any = {"require": ["exp", "iss", "aud"]}
        cases["PyJWT"] = functools.partial(
            pyjwt.decode, token, key, algorithms=[alg], audience=_AUD, issuer=_ISS, options=options
        )
    if _available("joserfc"):
        from joserfc import jwt as jrfc  # noqa: PLC0415
        from joserfc.jws import JWSRegistry  # noqa: PLC0415

        jkey = _joserfc_key(keys, keys.public_pem)
        registry = JWSRegistry(algorithms=[alg])
        claims_registry = jrfc.JWTClaimsRegistry(
            iss={"essential": True, "value": _ISS},
            aud={"essential": True, "value": _AUD},
            exp={"essential": True},
        )

        def joserfc_verify() -> object:
            claims = jrfc.decode(token, jkey, registry=registry).claims
            claims_registry.validate(claims)
            return claims

        cases["joserfc"] = joserfc_verify
    if _available("jwcrypto"):
        from jwcrypto import jwk as jcjwk  # noqa: PLC0415
        from jwcrypto import jwt as jcjwt  # noqa: PLC0415

        jckey = (
            jcjwk.JWK(kty="oct", k=_b64e(keys.secret).decode())
            if alg == "HS256"
            else jcjwk.JWK.from_pem(keys.public_pem)
        )
        check = {"iss": _ISS, "aud": _AUD, "exp": None}

        def jwcrypto_verify() -> object:
            obj = jcjwt.JWT(
                jwt=token, key=jckey, algs=[alg], check_claims=check, expected_type="JWS"
            )
            return json.loads(obj.claims)

        cases["jwcrypto"] = jwcrypto_verify
    if _available("authlib"):
        with contextlib.suppress(ImportError):
            from authlib.jose import ECKey as AECKey  # noqa: PLC0415
            from authlib.jose import JsonWebToken  # noqa: PLC0415
            from authlib.jose import OctKey as AOctKey  # noqa: PLC0415
            from authlib.jose import OKPKey as AOKPKey  # noqa: PLC0415
            from authlib.jose import RSAKey as ARSAKey  # noqa: PLC0415

            aclasses: dict[str, Any] = {
                "RS256": ARSAKey,
                "PS256": ARSAKey,
                "ES256": AECKey,
                "EdDSA": AOKPKey,
            }
            akey = (
                AOctKey.import_key(keys.secret)
                if alg == "HS256"
                else aclasses[alg].import_key(keys.public_pem)
            )
            ajwt = JsonWebToken([alg])
            claims_options: Any = {
                "iss": {"essential": True, "value": _ISS},
                "aud": {"essential": True, "value": _AUD},
                "exp": {"essential": True},
            }

            def authlib_verify() -> object:
                claims = ajwt.decode(token, akey, claims_options=claims_options)
                claims.validate()
                return dict(claims)

            cases["Authlib"] = authlib_verify
    if _available("jose") and alg in ("HS256", "RS256", "ES256"):
        from jose import jwk as pjjwk  # noqa: PLC0415
        from jose import jwt as pjjwt  # noqa: PLC0415

        pjkey = pjjwk.construct(keys.secret if alg == "HS256" else keys.public_pem, alg)
        pj_options = {"require_exp": True, "require_iss": True, "require_aud": True}
        cases["python-jose"] = functools.partial(
            pjjwt.decode,
            token,
            pjkey,
            algorithms=[alg],
            audience=_AUD,
            issuer=_ISS,
            options=pj_options,
        )
    return cases


def _peer_signers(keys: _Keys, claims: dict[str, Any]) -> dict[str, Op]:
    alg = keys.alg
    cases: dict[str, Op] = {}
    if _available("jwt"):
        import jwt as pyjwt  # noqa: PLC0415

        key: Any = keys.secret if alg == "HS256" else keys.private
        cases["PyJWT"] = functools.partial(pyjwt.encode, claims, key, algorithm=alg)
    if _available("joserfc"):
        from joserfc import jwt as jrfc  # noqa: PLC0415
        from joserfc.jws import JWSRegistry  # noqa: PLC0415

        jkey = _joserfc_key(keys, keys.private_pem)
        registry = JWSRegistry(algorithms=[alg])
        cases["joserfc"] = functools.partial(
            jrfc.encode, {"alg": alg, "typ": "JWT"}, claims, jkey, registry=registry
        )
    return cases


# ----------------------------------------------------------------------------- groups


def _silenced(fn: Op) -> Op:
    def call() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()

    return call


def _quiet(build: Callable[[], dict[str, Op]]) -> dict[str, Op]:
    """Build peer cases without their import-time warnings; flag cases that warn per call.

    A case that warns on every call (joserfc's EdDSA deprecation notice) is timed inside a
    ``catch_warnings`` block and labelled so: the block adds its own cost to that case.
    """
    # record=True, not only "ignore": a peer that installs its own "always" filter at import
    # (Authlib does) would otherwise still reach the caller's warning handler.
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")
        cases = build()
    out: dict[str, Op] = {}
    for name, fn in cases.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
        if caught:
            out[f"{name} (warns per call; silenced)"] = _silenced(fn)
        else:
            out[name] = fn
    return out


def _check_claims(result: object, claims: dict[str, Any], name: str) -> None:
    if dict(result) != claims:  # type: ignore[call-overload]
        raise AssertionError(f"{name} returned different claims")


def _thread_pair(
    pool: ThreadPoolExecutor, run: Callable[[int, int], int], count: int
) -> tuple[Op, Op]:
    """``run`` over ``count`` items on one thread, and split over two pool threads."""
    half = count // 2

    def one_thread() -> object:
        return run(0, count)

    def two_threads() -> object:
        first, second = pool.submit(run, 0, half), pool.submit(run, half, count)
        return first.result() + second.result()

    if one_thread() != two_threads():  # pragma: no cover - smoke check
        raise AssertionError("threaded verification disagrees")
    return one_thread, two_threads


def _two_threads_group(keys: _Keys, claims: dict[str, Any], quick: bool) -> Group:  # noqa: FBT001
    """authcore, the pure-Python floor and the bare signature check, each on 1 and 2 threads.

    The pairs show whether a slow-down is authcore's: the floor does the same work in the
    fastest plain Python, so it hands the GIL over as often; the bare ``cryptography`` check
    (no parsing at all) is the upper bound of what threads can gain.
    """
    verifier = JWTVerifier(
        keys.jwk(private=False), algorithms=[keys.alg], issuer=_ISS, audience=_AUD
    )
    batch = [_token(keys, {**claims, "n": i}) for i in range(100 if quick else 400)]
    floors = [_floor_verifier(keys, token) for token in batch]
    raw_verify = keys.raw_verify()
    signed = []
    for token in batch:
        signing_input, _, sig = token.encode().rpartition(b".")
        signed.append((signing_input, _b64d(sig)))
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="authcore-bench")

    def ours(start: int, stop: int) -> int:
        for token in batch[start:stop]:
            verifier.verify(token)
        return stop - start

    def floor(start: int, stop: int) -> int:
        for verify in floors[start:stop]:
            verify()
        return stop - start

    def bare(start: int, stop: int) -> int:
        for data, sig in signed[start:stop]:
            raw_verify(data, sig)
        return stop - start

    cases: dict[str, Callable[[], object]] = {}
    for label, run in (
        ("JWTVerifier", ours),
        ("pure-Python floor", floor),
        ("bare signature check", bare),
    ):
        cases[f"{label}, 1 thread"], cases[f"{label}, 2 threads"] = _thread_pair(
            pool, run, len(batch)
        )
    return Group(
        name=f"verify {keys.alg}: {len(batch)} tokens, 1 vs 2 threads",
        floor="JWTVerifier, 1 thread",
        reference=True,
        cases=cases,
        batch=len(batch),
        note="scaling = each implementation's 2-thread ops/s over its 1-thread ops/s "
        "(2 cores; cryptography releases the GIL inside the signature check)",
    )


def groups(quick: bool) -> list[Group]:  # noqa: FBT001 - suite protocol
    """Verify and sign groups per algorithm, then the two-thread scaling groups."""
    now = int(utc_now().timestamp())
    claims = {
        "sub": "user-1234",
        "iss": _ISS,
        "aud": _AUD,
        "iat": now,
        "exp": now + 3600,
        "nbf": now,
    }
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    all_keys = {alg: _Keys(alg, rsa_key) for alg in ALGS}
    verify_groups: list[Group] = []
    sign_groups: list[Group] = []
    for alg, keys in all_keys.items():
        token = _token(keys, claims)
        verifier = JWTVerifier(
            keys.jwk(private=False),
            algorithms=[alg],
            issuer=_ISS,
            audience=_AUD,
            required=("exp", "iss", "aud"),
        )
        cases: dict[str, Op] = {
            "floor": _floor_verifier(keys, token),
            "authcore JWTVerifier.verify": functools.partial(verifier.verify, token),
            "authcore jwt.decode": functools.partial(
                jwt.decode,
                token,
                keys.jwk(private=False),
                algorithms=[alg],
                issuer=_ISS,
                audience=_AUD,
            ),
            **_quiet(functools.partial(_peer_verifiers, keys, token)),
        }
        for name, case in cases.items():
            _check_claims(case(), claims, name)
        verify_groups.append(
            Group(
                name=f"JWT verify {alg}",
                floor="floor",
                cases=cases,
                note="split + header JSON + signature + payload JSON + exp/nbf/iss/aud",
            )
        )
        signing_key = keys.jwk(private=True)
        sign_cases: dict[str, Op] = {
            "floor": _floor_signer(keys, claims),
            "authcore jwt.encode": functools.partial(jwt.encode, claims, signing_key),
            **_quiet(functools.partial(_peer_signers, keys, claims)),
        }
        for name, case in sign_cases.items():
            produced = case()
            text = produced.decode() if isinstance(produced, bytes) else str(produced)
            _check_claims(verifier.verify(text), claims, name)
        sign_groups.append(
            Group(
                name=f"JWT sign {alg}",
                floor="floor",
                cases=sign_cases,
                note="serialize claims + base64url + sign under a pre-built header",
            )
        )
    threads = [
        _two_threads_group(all_keys[alg], claims, quick) for alg in ("RS256", "ES256", "EdDSA")
    ]
    return verify_groups + sign_groups + threads
