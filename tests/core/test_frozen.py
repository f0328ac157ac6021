"""authcore._frozen: frozen dataclass results built without their frozen __init__."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from authcore import http
from authcore._frozen import frozen_builder, unfrozen_twin
from authcore.jose import jwe
from authcore.mtls import ClientIdentity, _chain
from authcore.oauth import dpop, resource
from authcore.webhooks import VerifiedWebhook
from authcore.webhooks import _standard as webhooks_standard


@dataclasses.dataclass(frozen=True, slots=True)
class _Base:
    a: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Child(_Base):
    b: str
    c: bytes = b""


def test_a_filled_twin_becomes_an_equal_frozen_instance() -> None:
    """Every field stored, then the class swapped: equal to the constructor's, and frozen."""
    twin = unfrozen_twin(_Child)
    made = twin()
    made.a, made.b, made.c = 1, "x", b"y"
    made.__class__ = _Child
    assert type(made) is _Child
    assert made == _Child(1, "x", b"y")
    assert repr(made) == repr(_Child(1, "x", b"y"))
    assert hash(made) == hash(_Child(1, "x", b"y"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.b = "z"  # type: ignore[misc]


def test_an_unfilled_twin_field_is_missing_not_defaulted() -> None:
    """The twin sets nothing itself: a field left out is an AttributeError, never a default."""
    made = unfrozen_twin(_Child)()
    made.a, made.b = 1, "x"
    made.__class__ = _Child
    with pytest.raises(AttributeError):
        _ = made.c


def test_the_builder_takes_every_field_as_a_required_keyword() -> None:
    """No default applies and no positional order can be confused."""
    build = frozen_builder(_Child)
    made = build(a=1, b="x", c=b"y")
    assert type(made) is _Child
    assert made == _Child(1, "x", b"y")
    with pytest.raises(TypeError):
        build(a=1, b="x")  # c has a default in the class, not in the builder
    with pytest.raises(TypeError):
        build(1, "x", b"y")
    with pytest.raises(TypeError):
        build(a=1, b="x", c=b"y", d=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2  # type: ignore[misc]


def test_a_class_without_slots_is_refused() -> None:
    """The layout can only be shared through __slots__."""

    @dataclasses.dataclass(frozen=True)
    class Plain:
        a: int

    with pytest.raises(TypeError, match="no __slots__"):
        unfrozen_twin(Plain)
    with pytest.raises(TypeError, match="no __slots__"):
        frozen_builder(Plain)


_BUILDERS: list[tuple[Any, type]] = [
    (jwe._new_decrypted, jwe.DecryptedJWE),
    (_chain._new_client_identity, ClientIdentity),
    (http._new_authorization, http.Authorization),
    (dpop._new_verified_proof, dpop.VerifiedProof),
    (resource._new_access_token_info, resource.AccessTokenInfo),
    (resource._new_fields, resource._Fields),
    (resource._new_presented, resource._Presented),
    (webhooks_standard._new_verified, VerifiedWebhook),
]


@pytest.mark.parametrize(("build", "cls"), _BUILDERS, ids=lambda x: getattr(x, "__name__", ""))
def test_each_package_builder_matches_its_constructor(build: Any, cls: type) -> None:
    """Same layout on every Python (3.10's dataclass repeats base slots); same instance."""
    twin = build.__globals__["twin"]
    assert twin.__bases__ == cls.__bases__
    assert twin.__dict__["__slots__"] == cls.__dict__["__slots__"]
    values = {f.name: object() for f in dataclasses.fields(cls)}
    made = build(**values)
    assert type(made) is cls
    assert made == cls(**values)
    for name, value in values.items():
        assert getattr(made, name) is value


def test_the_webhook_fast_path_twin_shares_its_layout() -> None:
    """The one inlined use (webhooks) has VerifiedWebhook's bases and slots."""
    twin = webhooks_standard._Unfrozen
    assert twin.__bases__ == VerifiedWebhook.__bases__
    assert twin.__dict__["__slots__"] == VerifiedWebhook.__dict__["__slots__"]
