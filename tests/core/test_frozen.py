"""authcore._frozen: frozen dataclass results built without their frozen __init__."""

from __future__ import annotations

import dataclasses

import pytest

from authcore._frozen import unfrozen_twin
from authcore.jose.jwe import DecryptedJWE, _UnfrozenDecrypted
from authcore.mtls import ClientIdentity
from authcore.mtls._chain import _UnfrozenClient
from authcore.webhooks import VerifiedWebhook
from authcore.webhooks._standard import _Unfrozen


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


def test_an_unfilled_field_is_missing_not_defaulted() -> None:
    """The twin sets nothing itself: a field left out is an AttributeError, never a default."""
    made = unfrozen_twin(_Child)()
    made.a, made.b = 1, "x"
    made.__class__ = _Child
    with pytest.raises(AttributeError):
        _ = made.c


def test_a_class_without_slots_is_refused() -> None:
    """The layout can only be shared through __slots__."""

    @dataclasses.dataclass(frozen=True)
    class Plain:
        a: int

    with pytest.raises(TypeError, match="no __slots__"):
        unfrozen_twin(Plain)


@pytest.mark.parametrize(
    ("twin", "cls"),
    [
        (_Unfrozen, VerifiedWebhook),
        (_UnfrozenClient, ClientIdentity),
        (_UnfrozenDecrypted, DecryptedJWE),
    ],
)
def test_the_package_twins_share_their_dataclass_layout(twin: type, cls: type) -> None:
    """Same bases and own slots on every Python (3.10's dataclass repeats the base's slots)."""
    assert twin.__bases__ == cls.__bases__
    assert twin.__dict__["__slots__"] == cls.__dict__["__slots__"]
    assert twin.__module__ == cls.__module__
