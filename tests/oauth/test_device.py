"""OAUTH.md 3.6: the device authorization grant (RFC 8628)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from authcore.errors import InvalidGrant, RateLimited
from authcore.oauth import DeviceCode, lifecycle

from .helpers import DEVICE, ISSUER, TOKEN_URL, Env, body, make_env, post

if TYPE_CHECKING:
    from authcore.http import Response


def _start(env: Env, client: str = "spa", scope: str = "read") -> dict[str, object]:
    params = {"scope": scope}
    if client == "spa":
        params["client_id"] = "spa"
    response = env.server.device_authorization_endpoint(
        post(ISSUER + "/device_authorization", params, client=client)
    )
    assert response.status == 200, response.body
    return body(response)


def _poll(env: Env, device_code: object, client: str = "spa") -> Response:
    params = {"grant_type": DEVICE, "device_code": str(device_code)}
    if client == "spa":
        params["client_id"] = "spa"
    return env.server.token_endpoint(post(TOKEN_URL, params, client=client))


def _error(response: Response) -> str:
    assert response.status == 400, response.body
    return str(body(response)["error"])


def test_device_authorization_response() -> None:
    """device_code, user_code, verification URIs, expires_in and interval 5 (3.6.1, 3.6.2)."""
    started = _start(make_env())
    assert set(started) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert started["interval"] == 5
    assert started["verification_uri"] == ISSUER + "/device"
    assert str(started["verification_uri_complete"]).endswith(
        "user_code=" + str(started["user_code"])
    )


def test_user_code_strength() -> None:
    """8 letters of the 20-consonant alphabet, XXXX-XXXX (RFC 8628 6.1) (3.6.9)."""
    env = make_env()
    codes = {str(_start(env)["user_code"]) for _ in range(20)}
    assert len(codes) == 20
    assert all(
        re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", c) for c in codes
    )


def test_user_code_entry_is_rate_limited() -> None:
    """Five wrong entries a minute per key; the sixth is refused even if right (3.6.9)."""
    env = make_env()
    started = _start(env)
    for _ in range(5):
        with pytest.raises(InvalidGrant):
            env.server.complete_device_authorization("BBBB-BBBB", subject="a", rate_limit_key="ip")
    with pytest.raises(RateLimited):
        env.server.complete_device_authorization(
            str(started["user_code"]), subject="a", rate_limit_key="ip"
        )
    env.advance(60)
    record = env.server.complete_device_authorization(
        str(started["user_code"]).lower().replace("-", " "), subject="a", rate_limit_key="ip"
    )
    assert isinstance(record, DeviceCode)
    assert record.state is lifecycle.DeviceState.APPROVED


def test_pending_then_approved_then_single_use() -> None:
    """Pending, approved, tokens once; later polls invalid_grant (3.6.3, 3.6.7)."""
    env = make_env()
    started = _start(env)
    assert _error(_poll(env, started["device_code"])) == "authorization_pending"
    env.server.complete_device_authorization(str(started["user_code"]), subject="alice")
    env.advance(5)
    response = _poll(env, started["device_code"])
    assert response.status == 200
    assert "refresh_token" in body(response)
    env.advance(5)
    assert _error(_poll(env, started["device_code"])) == "invalid_grant"
    with pytest.raises(InvalidGrant):
        env.server.complete_device_authorization(str(started["user_code"]), subject="eve")


def test_slow_down_adds_five_seconds_for_all_later_polls() -> None:
    """A poll sooner than the interval: slow_down, and the interval grows by 5 s (3.6.4)."""
    env = make_env()
    started = _start(env)
    assert _error(_poll(env, started["device_code"])) == "authorization_pending"
    env.advance(1)
    assert _error(_poll(env, started["device_code"])) == "slow_down"  # interval now 10
    env.advance(9)
    assert _error(_poll(env, started["device_code"])) == "slow_down"  # interval now 15
    env.advance(15)
    assert _error(_poll(env, started["device_code"])) == "authorization_pending"
    env.advance(14)
    assert _error(_poll(env, started["device_code"])) == "slow_down"


def test_denied_is_terminal() -> None:
    """A denial answers access_denied to every later poll (3.6.5)."""
    env = make_env()
    started = _start(env)
    env.server.complete_device_authorization(str(started["user_code"]), subject="a", approved=False)
    for _ in range(2):
        env.advance(5)
        assert _error(_poll(env, started["device_code"])) == "access_denied"


def test_expiry_checked_before_approval() -> None:
    """An approved code polled after expiry is expired_token (authlib#324) (3.6.6)."""
    env = make_env()
    started = _start(env)
    env.server.complete_device_authorization(str(started["user_code"]), subject="a")
    env.advance(600)
    assert _error(_poll(env, started["device_code"])) == "expired_token"
    assert _error(_poll(env, started["device_code"])) == "expired_token"
    env = make_env()
    started = _start(env)
    env.advance(600)
    with pytest.raises(InvalidGrant):
        env.server.complete_device_authorization(str(started["user_code"]), subject="a")


def test_device_code_bound_to_client() -> None:
    """Another client polling the device code gets invalid_grant (3.6.8)."""
    env = make_env()
    started = _start(env)
    env.server.complete_device_authorization(str(started["user_code"]), subject="a")
    assert _error(_poll(env, started["device_code"], client="web")) == "invalid_grant"
    assert _poll(env, started["device_code"]).status == 200


def test_device_grant_needs_registration() -> None:
    """A client without the device grant is unauthorized_client."""
    env = make_env()
    response = env.server.device_authorization_endpoint(
        post(ISSUER + "/device_authorization", {"client_id": "native"}, client=None)
    )
    assert _error(response) == "unauthorized_client"


def test_rfc8628_token_request_fixture_parses() -> None:
    """The RFC 8628 3.4 token request shape is understood (unknown code: invalid_grant)."""
    env = make_env()
    response = _poll(env, "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS")
    assert _error(response) == "invalid_grant"
