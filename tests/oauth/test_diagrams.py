"""The documentation's state diagrams are generated from the transition tables."""

from __future__ import annotations

from pathlib import Path

from authcore.oauth import lifecycle as lc
from tests._docs_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def test_generated_diagrams_are_current() -> None:
    """docs/guides/oauth_states.inc equals what the generator renders now."""
    assert load_script("gen_oauth_diagrams").main(["--check"]) == 0


def test_every_transition_is_drawn() -> None:
    """Each table entry appears in the generated text."""
    text = (ROOT / "docs" / "guides" / "oauth_states.inc").read_text(encoding="utf-8")
    for table in (lc.CODE_TRANSITIONS, lc.REFRESH_TRANSITIONS, lc.DEVICE_TRANSITIONS):
        for (source, event), target in table.items():
            assert f'"{source.name}" -> "{target.name}" [label="{event.__name__}"]' in text
