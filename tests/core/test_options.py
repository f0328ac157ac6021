"""The one integer option check (authcore._options) and the options that use it."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from authcore._options import int_option
from authcore.errors import ConfigurationError


def _bad(value: object) -> Any:
    """``value`` typed as ``Any``: these tests give options values of the wrong type."""
    return value


class _Level(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize("value", [1, 2, 10**12, _Level.ONE])
def test_accepts_ints_from_the_lower_bound(value: int) -> None:
    """Any int (an IntEnum included) at or above ``low`` comes back unchanged."""
    assert int_option(value, "size") is value


@pytest.mark.parametrize("value", [0, -1, True, False, 1.0, "1", None, b"1", [1]])
def test_refuses_what_is_not_a_positive_int(value: object) -> None:
    """A bool (an int subclass), floats, strings and values below 1 name the option."""
    with pytest.raises(ConfigurationError, match=r": size must be an int >= 1$"):
        int_option(value, "size")


def test_bounds_are_inclusive_and_named() -> None:
    """``low`` and ``high`` are accepted themselves; the message gives the range."""
    assert int_option(0, "n", low=0) == 0
    assert int_option(1_000_000, "n", high=1_000_000) == 1_000_000
    with pytest.raises(ConfigurationError, match=r": n must be an int from 1 to 1,000,000$"):
        int_option(1_000_001, "n", high=1_000_000)
    with pytest.raises(ConfigurationError, match=r": n must be an int from 5 to 9$"):
        int_option(4, "n", low=5, high=9)
    with pytest.raises(ConfigurationError, match=r": n must be an int >= 1,000$"):
        int_option(999, "n", low=1000)


def _options() -> list[tuple[str, object]]:
    """Each option that uses the check, built with a bad value (a bool)."""
    from authcore.jose import JWK, JWTVerifier, jws  # noqa: PLC0415
    from authcore.jose.jwks import JWKSCache  # noqa: PLC0415
    from authcore.ratelimit import GCRA  # noqa: PLC0415
    from authcore.stores.memory import MemoryOneTimeStore  # noqa: PLC0415

    key = JWK.generate("HS256")
    return [
        ("max_size", lambda: JWTVerifier(key, algorithms=["HS256"], max_size=True)),
        ("max_key_trials", lambda: JWTVerifier(key, algorithms=["HS256"], max_key_trials=0)),
        ("max_key_trials", lambda: jws.verify("a.b.c", key, algorithms=["HS256"],
                                              max_key_trials=False)),
        ("rate", lambda: GCRA(rate=0, period=1)),
        ("burst", lambda: GCRA(rate=1, period=1, burst=True)),
        ("max_entries", lambda: MemoryOneTimeStore(max_entries=0)),
        ("max_keys", lambda: JWKSCache(lambda: b"{}", max_keys=True)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(7))
def test_options_refuse_with_the_one_message(index: int) -> None:
    """Options across the areas give the same message, naming themselves."""
    name, build = _options()[index]
    with pytest.raises(ConfigurationError, match=rf": {name} must be an int >= 1$"):
        build()  # type: ignore[operator]


def test_problem_form_gives_the_same_message_or_none() -> None:
    """int_problem is int_option's verdict as a value, for objects that list every problem."""
    from authcore._options import int_problem  # noqa: PLC0415

    assert int_problem(3, "n") is None
    assert int_problem(600, "n", high=600) is None
    assert int_problem("3", "n") == "n must be an int >= 1"
    assert int_problem(601, "n", high=600) == "n must be an int from 1 to 600"


def _size_capped_calls() -> list[tuple[str, Any]]:
    """Function APIs whose size cap is an option: each called with a bad cap."""
    from authcore.http import Response  # noqa: PLC0415
    from authcore.jose import JWK, jwe, jws, jwt  # noqa: PLC0415
    from authcore.jose.jwks import parse_jwks  # noqa: PLC0415
    from authcore.oauth import client, dpop  # noqa: PLC0415
    from authcore.stores.memory import MemoryOneTimeStore  # noqa: PLC0415

    key = JWK.from_secret(b"k" * 32, alg="HS256")
    dir_key = JWK.from_secret(bytes(16), alg="A128GCM")
    token = jwt.encode({"sub": "x"}, key)
    sealed = jwe.encrypt(b"x", dir_key, enc="A128GCM")
    ok = Response(status=200, headers={"content-type": "application/json"}, body=b"{}")
    return [
        ("max_size", lambda cap: jws.verify(token, key, algorithms=["HS256"], max_size=cap)),
        ("max_size", lambda cap: jws.verify_json({}, key, algorithms=["HS256"], max_size=cap)),
        ("max_size", lambda cap: jwt.decode_unverified(token, max_size=cap)),
        ("max_size", lambda cap: jwe.decrypt(sealed, dir_key, algorithms=["dir"],
                                             encryptions=["A128GCM"], max_size=cap)),
        ("max_size", lambda cap: jwe.decrypt_json({}, dir_key, algorithms=["dir"],
                                                  encryptions=["A128GCM"], max_size=cap)),
        ("max_size", lambda cap: dpop.verify_proof("x", replay=MemoryOneTimeStore(), method="GET",
                                                   url="https://api.example/", max_size=cap)),
        ("max_keys", lambda cap: parse_jwks({"keys": []}, max_keys=cap)),
        ("max_bytes", lambda cap: client.parse_token_response(ok, max_bytes=cap)),
        ("max_bytes", lambda cap: client.parse_revocation_response(ok, max_bytes=cap)),
        ("max_bytes", lambda cap: client.parse_introspection_response(ok, max_bytes=cap)),
        ("max_bytes", lambda cap: client.parse_device_authorization_response(ok, max_bytes=cap)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(11))
@pytest.mark.parametrize("cap", [float("nan"), float("inf"), "16384", 0, True, 1.5, None])
def test_function_size_caps_are_checked_options(index: int, cap: object) -> None:
    """A size cap of the wrong kind is the caller's mistake, refused before the input is read.

    ``float("nan")`` compared false with every length, so it switched the cap off; a string
    raised a bare TypeError; 0 blamed the peer's token (TokenTooLarge).
    """
    name, call = _size_capped_calls()[index]
    with pytest.raises(ConfigurationError, match=rf": {name} must be an int >= 1$"):
        call(cap)


def _flagged_calls() -> list[tuple[str, Any]]:
    """Security flags given the string ``"false"`` (truthy) or another non-bool."""
    from authcore import authn  # noqa: PLC0415
    from authcore._fetch import FetchOptions, check_url  # noqa: PLC0415
    from authcore.apikeys import KeyHasher, KeyManager  # noqa: PLC0415
    from authcore.jose import JWK, jwe  # noqa: PLC0415
    from authcore.mtls import OCSPChecker, TrustStore, verify_client  # noqa: PLC0415
    from authcore.oauth import RefreshFamilies, ResourceServer, pkce  # noqa: PLC0415
    from authcore.stores.memory import MemoryKeyStore  # noqa: PLC0415
    from tests.mtls._pki import NOW, make_ca, make_leaf  # noqa: PLC0415

    ca = make_ca("root")
    trust = TrustStore([ca.cert])
    leaf = make_leaf(ca).cert
    dir_key = JWK.from_secret(bytes(16), alg="A128GCM")
    sealed = jwe.encrypt(b"x", dir_key, enc="A128GCM")
    manager = KeyManager(MemoryKeyStore(), KeyHasher({"p": b"p" * 32}), prefix="ak")
    url = "http://127.0.0.1/jwks"
    return [
        ("allow_http", lambda v: check_url(url, allow_http_loopback=False, allow_http=v)),
        ("allow_http_loopback", lambda v: check_url(url, allow_http_loopback=v)),
        ("allow_http", lambda v: FetchOptions(allow_http=v)),
        ("allow_plain", lambda v: pkce.check_challenge("a" * 43, "plain", allow_plain=v)),
        ("decompress", lambda v: jwe.decrypt(sealed, dir_key, algorithms=["dir"],
                                             encryptions=["A128GCM"], decompress=v)),
        ("require_eku", lambda v: verify_client([leaf], trust=trust, now=NOW, require_eku=v)),
        ("require_key_identifiers", lambda v: verify_client([leaf], trust=trust, now=NOW,
                                                            require_key_identifiers=v)),
        ("nonce", lambda v: OCSPChecker(nonce=v)),
        ("bearer", lambda v: authn.APIKey(manager, bearer=v)),
        ("rehash", lambda v: KeyManager(MemoryKeyStore(), KeyHasher({"p": b"p" * 32}),
                                        prefix="ak", rehash=v)),
        ("rotate", lambda v: RefreshFamilies(absolute_lifetime=60, rotate=v)),
        ("bearer", lambda v: ResourceServer(resource="https://api.example", issuer="https://as",
                                            keys=dir_key, algorithms=["HS256"], bearer=v)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(12))
@pytest.mark.parametrize("value", ["false", "", 0, 1, None])
def test_security_flags_must_be_bools(index: int, value: object) -> None:
    """``"false"`` is truthy: a flag read by truthiness would turn the option on.

    ``allow_http="false"`` allowed plain HTTP fetches, ``decompress="false"`` allowed
    ``zip``, ``allow_plain="false"`` the plain PKCE method.
    """
    name, call = _flagged_calls()[index]
    with pytest.raises(ConfigurationError, match=rf": {name} must be a bool$"):
        call(value)


def test_strings_option_forms() -> None:
    """One string means one item; lists, tuples and sets of strings; nothing else."""
    from authcore._options import str_option, strings_option  # noqa: PLC0415

    assert strings_option("a", "n") == ("a",)
    assert strings_option(["a", "b"], "n") == ("a", "b")
    assert strings_option((), "n", empty=True) == ()
    assert str_option("x", "n") == "x"
    for bad in ((), [], 1, None, b"ab", {"a": 1}, ["a", ""], ["a", 1], [b"a"]):
        with pytest.raises(ConfigurationError, match=": n must be a non-empty string or list"):
            strings_option(bad, "n")
    for wrong in ("", None, 1, b"x", ["x"]):
        with pytest.raises(ConfigurationError, match=r": n must be a non-empty string$"):
            str_option(wrong, "n")


def _named_calls() -> list[tuple[str, Any]]:
    """Options that are names (strings) or collaborators, each given a wrong value."""
    from authcore.apikeys import KeyHasher, KeyManager  # noqa: PLC0415
    from authcore.authn import SessionIssuer, exchange_api_key  # noqa: PLC0415
    from authcore.jose import JWK, JWTVerifier  # noqa: PLC0415
    from authcore.jose.jwks import parse_metadata  # noqa: PLC0415
    from authcore.jose.keyring import KeyRing  # noqa: PLC0415
    from authcore.oauth import Endpoints, ResourceServer  # noqa: PLC0415
    from authcore.stores.memory import MemoryGrantStore, MemoryKeyStore  # noqa: PLC0415

    key = JWK.from_secret(b"k" * 32, alg="HS256")
    ring = KeyRing.create(JWK.generate("ES256"))
    manager = KeyManager(MemoryKeyStore(), KeyHasher({"p": b"p" * 32}), prefix="ak")
    token = manager.create(owner="o").token
    meta = {"issuer": "https://as.example", "jwks_uri": "https://as.example/jwks"}

    def session(**given: object) -> object:
        options: dict[str, Any] = {
            "keys": ring,
            "store": MemoryGrantStore(),
            "issuer": "https://app",
            "audience": "app",
        }
        return SessionIssuer(**{**options, **given})

    def exchange(**given: object) -> object:
        options: dict[str, Any] = {"keys": ring, "issuer": "https://app", "audience": "api"}
        return exchange_api_key(manager, token, **{**options, **given})

    def resource(**given: object) -> object:
        options: dict[str, Any] = {
            "resource": "https://api",
            "issuer": "https://as",
            "keys": key,
            "algorithms": ["HS256"],
        }
        return ResourceServer(**{**options, **given})

    return [
        ("issuer must be a non-empty string or list", lambda v: JWTVerifier(
            key, algorithms=["HS256"], issuer=v)),
        ("audience must be a non-empty string or list", lambda v: JWTVerifier(
            key, algorithms=["HS256"], audience=v)),
        ("alg must be a non-empty string", lambda v: JWK.from_dict(key.to_dict(private=True),
                                                                  alg=v)),
        ("issuer must be a non-empty string", lambda v: parse_metadata(meta, issuer=v)),
        ("issuer must be a non-empty string or list", lambda v: resource(issuer=v)),
        ("issuer must be a non-empty string", Endpoints.under),
        ("issuer must be a non-empty string", lambda v: session(issuer=v)),
        ("audience must be a non-empty string", lambda v: session(audience=v)),
        ("client_id must be a non-empty string", lambda v: session(client_id=v)),
        ("keys must be an authcore.jose.keyring.KeyRing", lambda v: session(keys=v)),
        ("clock must have a now", lambda v: session(clock=v)),
        ("issuer must be a non-empty string", lambda v: exchange(issuer=v)),
        ("audience must be a non-empty string", lambda v: exchange(audience=v)),
        ("keys must be an authcore.jose.keyring.KeyRing", lambda v: exchange(keys=v)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(14))
@pytest.mark.parametrize("value", [1, 1.5, b"x", object()])
def test_names_and_collaborators_are_checked(index: int, value: object) -> None:
    """A non-string name raised a bare TypeError or AttributeError, or was signed into tokens.

    ``exchange_api_key(issuer=None, audience=0)`` minted ``iss: null, aud: 0``;
    ``JWTVerifier(issuer=1)`` raised ``TypeError: 'int' object is not iterable``.
    """
    message, call = _named_calls()[index]
    with pytest.raises(ConfigurationError, match=message):
        call(value)


def _mapped_calls() -> list[tuple[str, Any]]:
    """Options that are header or parameter mappings, each given a non-mapping."""
    from authcore.jose import JWK, jwe, jws, jwt  # noqa: PLC0415
    from authcore.oauth.resource import Introspector  # noqa: PLC0415

    key = JWK.from_secret(b"k" * 32, alg="HS256")
    wrap = JWK.from_secret(b"w" * 16, alg="A128KW")
    return [
        ("headers", lambda v: jws.sign(b"p", key, headers=v)),
        ("headers", lambda v: jwt.encode({}, key, headers=v)),
        ("unprotected", lambda v: jws.sign_json(b"p", key, unprotected=v)),
        ("headers", lambda v: jwe.encrypt(b"p", wrap, enc="A128GCM", headers=v)),
        ("protected", lambda v: jwe.encrypt_json(b"p", wrap, enc="A128GCM", protected=v)),
        ("headers", lambda v: jwe.encrypt_jwt({}, key, wrap, enc="A128GCM", headers=v)),
        ("headers", lambda v: Introspector("https://as.example/introspect",
                                           send=_bad(print), headers=v)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(7))
@pytest.mark.parametrize("value", ["x", 1, 0, "", [], [("alg", "none")], b"ab"])
def test_mapping_options_refuse_non_mappings(index: int, value: object) -> None:
    """``dict("x")`` raised a bare ValueError; ``0 or {}`` silently meant no headers."""
    name, call = _mapped_calls()[index]
    with pytest.raises(ConfigurationError, match=rf": {name} must be a mapping or None$"):
        call(value)


def test_seconds_option_bounds() -> None:
    """Finite seconds or a timedelta up to a century; 0 only where asked for."""
    import datetime as dt  # noqa: PLC0415

    from authcore._options import MAX_SECONDS, seconds_option  # noqa: PLC0415

    assert seconds_option(1, "t") == 1.0
    assert seconds_option(dt.timedelta(minutes=2), "t") == 120.0
    assert seconds_option(0, "t", positive=False) == 0.0
    assert seconds_option(MAX_SECONDS, "t") == MAX_SECONDS
    for bad in (0, -1, True, "5", None, float("nan"), float("inf"), MAX_SECONDS + 1, 10**400,
                dt.timedelta(0), dt.timedelta(seconds=-1)):  # fmt: skip
        with pytest.raises(ConfigurationError, match=r": t must be seconds or a timedelta, > 0"):
            seconds_option(bad, "t")
    with pytest.raises(ConfigurationError, match=r": t must be seconds or a timedelta, from 0"):
        seconds_option(-0.5, "t", positive=False)
    assert seconds_option(3, "t", high=3) == 3.0
    with pytest.raises(ConfigurationError, match=r"> 0 and at most 3$"):
        seconds_option(3.5, "t", high=3)
    with pytest.raises(ConfigurationError, match=r"at most 3,162,240,000 \(a century\)$"):
        seconds_option(MAX_SECONDS + 1, "t", high=MAX_SECONDS * 2)  # never above a century


def _huge_calls() -> list[tuple[str, Any]]:
    """Options whose huge finite values used to overflow deep inside (OverflowError)."""
    from authcore import http  # noqa: PLC0415
    from authcore.apikeys import KeyHasher, KeyManager  # noqa: PLC0415
    from authcore.http import Response  # noqa: PLC0415
    from authcore.jose import jwks  # noqa: PLC0415
    from authcore.oauth import client  # noqa: PLC0415
    from authcore.stores.memory import MemoryKeyStore  # noqa: PLC0415
    from authcore.webhooks import github  # noqa: PLC0415

    ok = Response(status=200, headers={"content-type": "application/json"}, body=b"{}")
    return [
        ("timeout", lambda v: jwks.urllib_fetcher("https://as.example/jwks", timeout=v)),
        ("flush_interval", lambda v: KeyManager(MemoryKeyStore(), KeyHasher({"p": b"p" * 32}),
                                                prefix="ak", flush_interval=v)),
        ("max_params", lambda v: http.parse_form("a=1", max_params=v)),
        ("replay_ttl", lambda v: github.verify(b"{}", {"X-Hub-Signature-256": "sha256=00",
                                                       "X-GitHub-Delivery": "d"},
                                               secrets=["s" * 32], replay_ttl=v,
                                               replay_cache=_bad(_one_time()))),
        ("now", lambda v: client.parse_token_response(ok, now=v)),
    ]  # fmt: skip


def _one_time() -> object:
    from authcore.stores.memory import MemoryOneTimeStore  # noqa: PLC0415

    return MemoryOneTimeStore()


@pytest.mark.parametrize("index", range(5))
def test_huge_values_are_refused_not_overflowed(index: int) -> None:
    """10**30 seconds (or parameters) is a ConfigurationError, not an OverflowError."""
    name, call = _huge_calls()[index]
    with pytest.raises(ConfigurationError, match=rf": {name} "):
        call(10**30)


def _choice_calls() -> list[tuple[str, Any]]:
    """Options chosen from a set of names, given an unhashable value (a list)."""
    from authcore.apikeys import KeyHasher  # noqa: PLC0415
    from authcore.oauth import ClientRecord  # noqa: PLC0415
    from authcore.oauth.client import ClientSecretJwt  # noqa: PLC0415
    from authcore.oauth.dpop import DPoPKey  # noqa: PLC0415

    return [
        ("current must name one of the peppers",
         lambda v: KeyHasher({"p": b"p" * 32}, current=v)),
        ("DPoP keys are ES256 or EdDSA", DPoPKey.generate),
        ("client_secret_jwt needs HS256", lambda v: ClientSecretJwt(secret="s" * 32, alg=v)),
        ("audience must be", lambda v: ClientSecretJwt(secret="s" * 32, audience=v)),
        ("unknown token_endpoint_auth_method",
         lambda v: ClientRecord(client_id="c", token_endpoint_auth_method=v)),
        ("application_type must be web or native",
         lambda v: ClientRecord(client_id="c", token_endpoint_auth_method="none",
                                application_type=v)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("value", [[], {}, ["HS256"], "nope", 1])
def test_unhashable_choices_are_refused(index: int, value: object) -> None:
    """``[] in {"a", "b"}`` raised a bare TypeError: unhashable type."""
    message, call = _choice_calls()[index]
    with pytest.raises(ConfigurationError, match=message):
        call(value)


def test_sqlite_options(tmp_path: Any) -> None:
    from authcore.stores.sqlite import SQLiteKeyStore  # noqa: PLC0415

    for bad, message in (([], "synchronous must be"), ("OFF", "synchronous must be")):
        with pytest.raises(ConfigurationError, match=message):
            SQLiteKeyStore(tmp_path / "k.db", synchronous=_bad(bad))
    for timeout in (float("nan"), float("inf"), -1):
        with pytest.raises(ConfigurationError, match="timeout must be seconds"):
            SQLiteKeyStore(tmp_path / "k.db", timeout=timeout)


def _collaborator_calls() -> list[tuple[str, Any]]:
    """Collaborator options (objects with methods) given a string."""
    from authcore.apikeys import KeyHasher, KeyManager  # noqa: PLC0415
    from authcore.authn import APIKey, Authenticator  # noqa: PLC0415
    from authcore.jose import JWK, jwe  # noqa: PLC0415
    from authcore.mtls import TrustStore, verify_client  # noqa: PLC0415
    from authcore.oauth import AuthorizationServer, Policy, TokenFormat  # noqa: PLC0415
    from authcore.oauth.client import NoneAuth, OAuthClient  # noqa: PLC0415
    from authcore.stores.memory import (  # noqa: PLC0415
        MemoryClientStore,
        MemoryGrantStore,
        MemoryKeyStore,
    )
    from tests.mtls._pki import NOW, make_ca, make_leaf  # noqa: PLC0415

    ca = make_ca("root")
    leaf = make_leaf(ca).cert
    manager = KeyManager(MemoryKeyStore(), KeyHasher({"p": b"p" * 32}), prefix="ak")
    dir_key = JWK.from_secret(bytes(16), alg="A128GCM")
    sealed = jwe.encrypt(b"a.b.c", dir_key, enc="A128GCM", headers={"cty": "JWT"})
    opaque = Policy(access_token_format=TokenFormat.OPAQUE)

    def server(**given: object) -> object:
        options: dict[str, Any] = {
            "issuer": "https://as.example",
            "clients": MemoryClientStore(),
            "store": MemoryGrantStore(),
            "policy": opaque,
        }
        return AuthorizationServer(**{**options, **given})

    return [
        ("clock must have a now", lambda v: KeyManager(
            MemoryKeyStore(), KeyHasher({"p": b"p" * 32}), prefix="ak", clock=v)),
        ("policy must be an authcore.oauth.Policy", lambda v: server(policy=v)),
        ("keys must be an authcore.jose.keyring.KeyRing", lambda v: server(keys=v)),
        ("endpoints must be an authcore.oauth.Endpoints", lambda v: server(endpoints=v)),
        ("clock must have a now", lambda v: server(clock=v)),
        ("revocation must be a RevocationChecker", lambda v: verify_client(
            [leaf], trust=TrustStore([ca.cert]), now=NOW, revocation=v)),
        ("verify must be callable", lambda v: jwe.decrypt_jwt(
            sealed, dir_key, algorithms=["dir"], encryptions=["A128GCM"], verify=v)),
        ("rule must be callable", lambda v: Authenticator(
            [APIKey(manager), APIKey(manager)], all_of=True, rule=v)),
        ("metadata must be a ServerMetadata", lambda v: OAuthClient(
            metadata=v, client_id="c", auth=NoneAuth())),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(9))
def test_collaborators_are_checked_when_given(index: int) -> None:
    """A string for an object option failed later with a bare AttributeError, or at once."""
    message, call = _collaborator_calls()[index]
    with pytest.raises(ConfigurationError, match=message):
        call("x")


def _early_calls() -> list[tuple[str, Any]]:
    """Options that were read by truthiness, or checked only later (or never)."""
    from authcore import authn  # noqa: PLC0415
    from authcore.apikeys import KeyHasher, KeyManager  # noqa: PLC0415
    from authcore.jose import JWK, jwe, jws  # noqa: PLC0415
    from authcore.jose.jwks import cache_from_issuer  # noqa: PLC0415
    from authcore.stores.memory import MemoryKeyStore  # noqa: PLC0415
    from authcore.webhooks import github  # noqa: PLC0415

    key = JWK.from_secret(b"k" * 32, alg="HS256")
    wrap = JWK.from_secret(b"w" * 16, alg="A128KW")
    manager = KeyManager(MemoryKeyStore(), KeyHasher({"p": b"p" * 32}), prefix="ak")
    signature = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    return [
        ("detached must be a bool", lambda: jws.sign(b"p", key, detached=_bad("no"))),
        ("flattened must be a bool", lambda: jws.sign_json(b"p", key, flattened=_bad("no"))),
        ("compress must be a bool", lambda: jwe.encrypt(b"p", wrap, enc="A128GCM",
                                                        compress=_bad("no"))),
        ("flattened must be a bool", lambda: jwe.encrypt_json(b"p", wrap, enc="A128GCM",
                                                              flattened=_bad("no"))),
        ("asynchronous must be a bool", lambda: authn.api_key_and_jwt(
            authn.APIKey(manager), authn.BearerJWT(_hs256_verifier(key)), asynchronous=_bad("no"))),
        ("header must be an HTTP header name", lambda: authn.APIKey(manager, header=_bad(0))),
        ("header must be an HTTP header name", lambda: authn.APIKey(manager, header="X Key")),
        # Checked before discovery: an unreachable issuer would hide it behind a FetchError.
        ("ttl must be seconds", lambda: cache_from_issuer("https://127.0.0.1:9", ttl=-1)),
        ("replay_ttl must be seconds", lambda: github.verify(b"{}", signature,
                                                             secrets=["s" * 32], replay_ttl=-1)),
        ("now must be a finite number", lambda: github.verify(b"{}", signature,
                                                              secrets=["s" * 32],
                                                              now=float("nan"))),
    ]  # fmt: skip


def _hs256_verifier(key: Any) -> Any:
    from authcore.jose import JWTVerifier  # noqa: PLC0415

    return JWTVerifier(key, algorithms=["HS256"])


@pytest.mark.parametrize("index", range(10))
def test_options_checked_when_given(index: int) -> None:
    """Refused at the call that is given them, before any input or network."""
    message, call = _early_calls()[index]
    with pytest.raises(ConfigurationError, match=message):
        call()


def _typed_calls() -> list[tuple[str, Any]]:
    """The last options the probe found raising bare errors, each given a wrong type."""
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    from authcore.http import Response  # noqa: PLC0415
    from authcore.mtls import CRLChecker, build_ocsp_request  # noqa: PLC0415
    from authcore.oauth import ClientRecord  # noqa: PLC0415
    from authcore.oauth.client import parse_token_response  # noqa: PLC0415
    from tests.mtls._pki import make_ca, make_leaf  # noqa: PLC0415

    ca = make_ca("root")
    leaf = make_leaf(ca).cert
    ok = Response(
        status=200,
        headers={"content-type": "application/json"},
        body=b'{"access_token": "a", "token_type": "Bearer"}',
    )
    return [
        ("OCSP nonce must be 1 to 32 bytes", lambda: build_ocsp_request(leaf, ca.cert,
                                                                        nonce=_bad("n" * 8))),
        ("hash_algorithm must be", lambda: build_ocsp_request(leaf, ca.cert,
                                                              hash_algorithm=_bad("sha1"))),
        ("hash_algorithm must be", lambda: build_ocsp_request(leaf, ca.cert,
                                                              hash_algorithm=_bad(hashes.SHA256))),
        ("crls must be a CRL", lambda: CRLChecker(crls=_bad(None))),
        ("scope must be a non-empty string or list",
         lambda: parse_token_response(ok, scope=_bad(1))),
        ("client_secret_digest must be a str or None", lambda: ClientRecord(
            client_id="c", client_secret_digest=_bad(b"x"))),
        ("jwks must be a KeySet or None", lambda: ClientRecord(
            client_id="c", token_endpoint_auth_method="private_key_jwt", jwks=_bad({"keys": []}))),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(7))
def test_typed_options(index: int) -> None:
    message, call = _typed_calls()[index]
    with pytest.raises(ConfigurationError, match=message):
        call()


def test_resource_server_authenticate_scopes_are_names() -> None:
    """``authenticate(request, scopes=1)`` raised a bare TypeError from frozenset(1)."""
    from authcore.http import Request  # noqa: PLC0415
    from authcore.jose import JWK  # noqa: PLC0415
    from authcore.oauth import ResourceServer  # noqa: PLC0415

    key = JWK.from_secret(b"k" * 32, alg="HS256")
    server = ResourceServer(
        resource="https://api.example", issuer="https://as.example", keys=key, algorithms=["HS256"]
    )
    request = Request(method="GET", url="https://api.example/x")
    for bad in (1, [1], [b"read"]):
        with pytest.raises(ConfigurationError, match="scopes must be"):
            server.authenticate(request, scopes=bad)  # type: ignore[arg-type]


def test_gcra_period_is_a_duration_option() -> None:
    """GCRA's period goes through the one duration check (it had its own copy, uncapped)."""
    import datetime as dt  # noqa: PLC0415

    from authcore.ratelimit import GCRA  # noqa: PLC0415

    assert GCRA(rate=5, period=dt.timedelta(minutes=1)).period == 60.0
    for bad in (0, -1, float("nan"), float("inf"), True, "1", 10**30):
        with pytest.raises(ConfigurationError, match="period must be seconds or a timedelta"):
            GCRA(rate=1, period=_bad(bad))


def _duration_calls(tmp_path: Any) -> list[tuple[str, Any]]:
    """Duration options that kept their own copy of the check (found by a source scan)."""
    import datetime as dt  # noqa: PLC0415

    from authcore.jose import denylist  # noqa: PLC0415
    from authcore.oauth import dpop  # noqa: PLC0415
    from authcore.oauth.resource import Introspector  # noqa: PLC0415
    from authcore.stores.memory import MemoryOneTimeStore  # noqa: PLC0415
    from authcore.stores.redis import RedisGrantStore, connect  # noqa: PLC0415
    from authcore.stores.sqlite import SQLiteKeyStore  # noqa: PLC0415

    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    claims = {"jti": "j", "exp": int(now.timestamp()) + 60}
    return [
        ("cache_ttl", lambda v: Introspector("https://as.example/i", _bad(print), cache_ttl=v)),
        ("rotation", lambda v: dpop.HMACNonces(b"s" * 32, rotation=v)),
        ("iat_window", lambda v: dpop.verify_proof("x", replay=MemoryOneTimeStore(),
                                                   method="POST", url="https://as.example/t",
                                                   iat_window=v, now=now)),
        ("max_staleness", lambda v: SQLiteKeyStore(tmp_path / "k.db", max_staleness=v).close()),
        ("leeway", lambda v: denylist.revoke(MemoryOneTimeStore(), claims, now=now, leeway=v)),
        ("timeout", lambda v: connect("redis://127.0.0.1:1", timeout=v)),
        ("retain", lambda v: RedisGrantStore(connect("redis://127.0.0.1:1"), retain=v)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(7))
def test_durations_go_through_seconds_option(index: int, tmp_path: Any) -> None:
    """Huge, negative and non-finite durations are refused with the one message."""
    import datetime as dt  # noqa: PLC0415

    from authcore.errors import VerificationError  # noqa: PLC0415

    name, call = _duration_calls(tmp_path)[index]
    for bad in (10**30, -1, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ConfigurationError, match=f"{name} must be seconds or a timedelta"):
            call(_bad(bad))
    try:  # a timedelta is a duration too
        call(dt.timedelta(seconds=30))
    except VerificationError:  # the proof "x" itself
        assert name == "iat_window"


def test_counts_go_through_int_option() -> None:
    """Response status, webhook secret sizes and pool sizes: the one int check."""
    from authcore.http import Response  # noqa: PLC0415
    from authcore.stores.postgres import PostgresDatabase  # noqa: PLC0415
    from authcore.webhooks import generate_secret  # noqa: PLC0415

    for status in (99, 600, True, 200.0, "200"):
        with pytest.raises(ConfigurationError, match="status must be an int from 100 to 599"):
            Response(status=_bad(status))
    for nbytes in (23, 65, True, 32.0):
        with pytest.raises(ConfigurationError, match="nbytes must be an int from 24 to 64"):
            generate_secret(_bad(nbytes))
    assert generate_secret(24).startswith("whsec_")
    sizes: list[tuple[dict[str, Any], str]] = [
        ({"max_size": 0}, "max_size must be an int >= 1"),
        ({"max_size": True}, "max_size must be an int >= 1"),
        ({"min_size": -1}, "min_size must be an int >= 0"),
        ({"min_size": 1.0}, "min_size must be an int >= 0"),
        ({"min_size": 3, "max_size": 2}, "min_size must be at most max_size"),
    ]
    for options, message in sizes:
        with pytest.raises(ConfigurationError, match=message):
            PostgresDatabase("host=127.0.0.1 port=1", **options)


# Inline "an int/float, not a bool" checks that are not caller options, so not _options'
# business: each raises its own error type for a value a peer, a store or a file chose.
_INLINE_NUMBER_CHECKS = {
    ("authcore/cli/_devserver.py", "_lifetime"): "a config-file value: UsageError",
    ("authcore/clock.py", "as_unix"): "the Instant type test itself (no range rule)",
    ("authcore/jose/_jwe_algs.py", "_wrap_pbes2"): "a JWE header's p2c: InvalidKeyError",
    ("authcore/jose/_jwe_algs.py", "_check_p2c"): "a peer's p2c: MalformedToken",
    ("authcore/jose/denylist.py", "_expiry"): "a token's exp: MalformedToken",
    ("authcore/jose/jwt.py", "_claims_json"): "claims to encode: EncodeError",
    ("authcore/jose/keyring.py", "_from_timestamp"): "a stored timestamp: StoreError",
    ("authcore/oauth/client.py", "_seconds"): "a server's expires_in: MalformedError",
    ("authcore/oauth/client.py", "_timestamp"): "a server's introspection time: MalformedError",
    ("authcore/oauth/dpop.py", "_claims"): "a proof's iat: MalformedToken",
    ("authcore/oauth/resource.py", "_store"): "an introspection exp, type test only",
    ("authcore/oauth/resource.py", "_number"): "an introspection member: FetchError",
}


def _inline_number_checks() -> set[tuple[str, str]]:
    """``isinstance(x, bool)`` beside ``isinstance(x, int/float)`` in one boolean expression."""
    import ast  # noqa: PLC0415
    import pathlib  # noqa: PLC0415

    import authcore  # noqa: PLC0415

    def is_check(node: ast.expr, kinds: set[str]) -> bool:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            node = node.operand
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
        ):
            return False
        types = node.args[1]
        elements = types.elts if isinstance(types, ast.Tuple) else [types]
        return any(isinstance(e, ast.Name) and e.id in kinds for e in elements)

    root = pathlib.Path(authcore.__file__).parent
    found: set[tuple[str, str]] = set()
    for path in root.rglob("*.py"):
        if path.name == "_options.py":
            continue
        where = "authcore/" + path.relative_to(root).as_posix()
        functions = [
            node
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        for function in functions:
            for node in ast.walk(function):
                if isinstance(node, ast.BoolOp) and (
                    any(is_check(v, {"bool"}) for v in node.values)
                    and any(is_check(v, {"int", "float"}) for v in node.values)
                ):
                    found.add((where, function.name))
    return found


def test_option_number_checks_live_in_options() -> None:
    """A new "an int, not a bool" check on an option goes through authcore._options.

    Copies drifted before (GCRA's period lacked the century cap; cache_ttl, rotation,
    iat_window, leeway, max_staleness and Redis timeouts accepted 10**30 and refused a
    timedelta).  Peer, store and file values keep their own errors and are listed above
    with the reason; a listed place that no longer exists fails too.
    """
    assert _inline_number_checks() == set(_INLINE_NUMBER_CHECKS)
