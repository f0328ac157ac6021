"""Caches belong to objects and are bounded: JWTVerifier, JWK/KeySet memos, JWE policies."""

from __future__ import annotations

import ast
import datetime as dt
import hmac
from pathlib import Path
from typing import Any

import pytest

from authcore._encoding import b64url_encode, json_dumps
from authcore.errors import KeyNotFound, MalformedToken
from authcore.jose import JWK, JWTVerifier, KeySet, jwe, jwt
from authcore.jose._jwk import key_memo

KEY = JWK.from_secret(b"s" * 32, alg="HS256", kid="k")
DIR_KEY = JWK.from_secret(b"d" * 16, alg="A128GCM", kid="d")
JWE_OPTIONS: dict[str, Any] = {"algorithms": ["dir"], "encryptions": ["A128GCM"]}
JOSE = Path(__file__).resolve().parents[2] / "authcore" / "jose"
DISTINCT = 100_000
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _memo_size(owner: JWK | KeySet) -> int:
    memo = key_memo(owner)
    return sum(len(v) if isinstance(v, dict) else 1 for v in memo.values())


def test_jwt_verifier_memory_stays_bounded_over_100000_distinct_headers() -> None:
    """100,000 validly signed tokens with distinct headers leave at most 64 cached headers."""
    verifier = JWTVerifier(KEY, algorithms=["HS256"])
    claims = {"sub": "a", "exp": 4_000_000_000}
    body = b"." + b64url_encode(json_dumps(claims)).encode()
    largest = 0
    for i in range(DISTINCT):
        signing_input = b64url_encode(b'{"alg":"HS256","n":%d}' % i).encode() + body
        mac = hmac.digest(b"s" * 32, signing_input, "sha256")
        token = signing_input + b"." + b64url_encode(mac).encode()
        assert verifier.verify(token, now=NOW) == claims
        largest = max(largest, len(verifier._cache))
    assert 0 < largest <= 64
    assert _memo_size(KEY) <= 4


def test_jwt_verifier_over_a_resolver_stays_bounded() -> None:
    """Distinct kids through a resolver never grow the verifier's cache past its bound."""
    keys = KeySet([KEY])

    class Resolver:
        def get(self, kid: str) -> JWK | None:
            return keys.get(kid)

        def __iter__(self) -> Any:
            return iter(keys)

    verifier = JWTVerifier(Resolver(), algorithms=["HS256"])
    for i in range(5_000):
        token = jwt.encode({"exp": 4_000_000_000}, KEY, headers={"kid": f"k{i}"})
        with pytest.raises(KeyNotFound):
            verifier.verify(token, now=NOW)
        assert len(verifier._cache) <= 64


def _junk_jwe(n: int) -> bytes:
    # A valid header (so it is cached) and a short iv (so it fails before any cryptography).
    head = b64url_encode(b'{"alg":"dir","enc":"A128GCM","n":%d}' % n).encode()
    return head + b"..AAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"


def test_jwe_header_cache_stays_bounded_over_100000_distinct_headers() -> None:
    """100,000 distinct valid JWE headers leave at most 256 cached headers on the key's policy."""
    key = JWK.from_secret(b"e" * 16, alg="A128GCM")
    for i in range(DISTINCT):
        with pytest.raises(MalformedToken, match="iv"):
            jwe.decrypt(_junk_jwe(i), key, **JWE_OPTIONS)
    policies = key_memo(key)["jwe-policies"]
    assert len(policies) == 1
    (policy,) = policies.values()
    assert 0 < len(policy.headers) <= 256


def test_jwe_policies_per_key_stay_bounded() -> None:
    """1,000 distinct option sets keep at most 16 checked policies on a key (or key set)."""
    token = jwe.encrypt(b"x", DIR_KEY, enc="A128GCM")
    keys = KeySet([DIR_KEY])
    for i in range(1_000):
        for owner in (DIR_KEY, keys):
            result = jwe.decrypt(token, owner, max_decompressed=i + 1, **JWE_OPTIONS)
            assert result.plaintext == b"x"
    for owner in (DIR_KEY, keys):
        assert 0 < len(key_memo(owner)["jwe-policies"]) <= 16
    assert len(key_memo(DIR_KEY)["jwe-fits"]) <= 2


def _mutable_global(node: ast.stmt) -> bool:
    """A module-level dict/list/set that code could fill (a read-only Final Mapping is not)."""
    if isinstance(node, ast.AnnAssign):
        if ast.unparse(node.annotation).startswith("Final[Mapping"):
            return False
        value: ast.expr | None = node.value
    elif isinstance(node, ast.Assign):
        if all(isinstance(t, ast.Name) and t.id.startswith("__") for t in node.targets):
            return False  # __all__
        value = node.value
    else:
        return False
    if isinstance(value, (ast.Dict, ast.List, ast.Set)):
        return True
    return isinstance(value, ast.Call) and ast.unparse(value.func) in ("dict", "list", "set")


def test_no_jose_module_holds_a_cache_at_module_level() -> None:
    """No module of authcore.jose keeps a fillable dict, list or set at module level."""
    offenders = [
        f"{path.name}:{node.lineno}"
        for path in sorted(JOSE.glob("*.py"))
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if _mutable_global(node)
    ]
    assert offenders == []
