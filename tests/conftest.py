"""Shared fixtures: the conformance-vector locator (DESIGN.md section 7)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

# This machine is noisy and has 2 cores: no per-example deadline (timings are never asserted),
# and no health check failing a test because generating data was slow.
settings.register_profile(
    "authcore", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "authcore"))

if TYPE_CHECKING:
    from collections.abc import Callable

_DEFAULT_VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


# Resolved once at import, while the working directory is still the one pytest started in
# (tests may chdir), so a relative AUTHCORE_VECTORS such as ../shared/vectors works.
_CONFIGURED = os.environ.get("AUTHCORE_VECTORS")
_VECTORS = Path(_CONFIGURED).resolve() if _CONFIGURED else _DEFAULT_VECTORS


def vectors_dir() -> Path:
    """Where the public vectors are: ``$AUTHCORE_VECTORS`` or ``../shared/vectors``."""
    return _VECTORS


def vector_file(*parts: str) -> Path:
    """Return the path of a vector file, or skip (fail under AUTHCORE_REQUIRE_VECTORS=1)."""
    path = vectors_dir().joinpath(*parts)
    if not path.exists():
        message = f"conformance vector {path} is not available (set AUTHCORE_VECTORS)"
        if os.environ.get("AUTHCORE_REQUIRE_VECTORS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def vectors() -> Callable[..., Path]:
    """A function from path parts under the vectors folder to an existing file."""
    return vector_file
