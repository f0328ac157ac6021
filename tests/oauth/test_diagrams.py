"""The documentation's state diagrams are generated from the transition tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from authcore.oauth import lifecycle as lc

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "gen_oauth_diagrams", ROOT / "docs" / "gen_oauth_diagrams.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_diagrams_are_current() -> None:
    """docs/guides/oauth_states.inc equals what the generator renders now."""
    module = _generator()
    assert module.main(["--check"]) == 0  # type: ignore[attr-defined]


def test_every_transition_is_drawn() -> None:
    """Each table entry appears in the generated text."""
    text = (ROOT / "docs" / "guides" / "oauth_states.inc").read_text(encoding="utf-8")
    for table in (lc.CODE_TRANSITIONS, lc.REFRESH_TRANSITIONS, lc.DEVICE_TRANSITIONS):
        for (source, event), target in table.items():
            assert f'"{source.name}" -> "{target.name}" [label="{event.__name__}"]' in text
