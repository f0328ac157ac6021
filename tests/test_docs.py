"""Every Python example in README.md and docs/ runs as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_FENCE_RE = re.compile(r"^( *)```python\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
_DIRECTIVE_RE = re.compile(r"^(\s*)\.\. code-block:: python\s*$")


def markdown_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text (also indented inside list items)."""
    return [textwrap.dedent(body) for _, body in _FENCE_RE.findall(text)]


def rst_blocks(text: str) -> list[str]:
    """The bodies of `.. code-block:: python` directives of a reST text."""
    lines = text.splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE_RE.match(lines[i])
        i += 1
        if match is None:
            continue
        indent = len(match.group(1))
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1  # directive options
        body: list[str] = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n") + "\n")
    return blocks


def _documents() -> list[Path]:
    docs = sorted((ROOT / "docs").rglob("*.rst")) + sorted((ROOT / "docs").rglob("*.md"))
    return [ROOT / "README.md", *(p for p in docs if "_build" not in p.parts)]


def _blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return markdown_blocks(text) if path.suffix == ".md" else rst_blocks(text)


@pytest.mark.parametrize("path", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document's Python blocks run top to bottom in one namespace."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, block in enumerate(_blocks(path), start=1):
        code = compile(block, f"{path.name}[block {number}]", "exec")
        exec(code, namespace)  # noqa: S102 - executing our own documentation is the point


def test_readme_has_examples() -> None:
    """The README carries at least one executed example."""
    assert _blocks(ROOT / "README.md")


def test_rst_extraction_finds_indented_blocks() -> None:
    """The reST extractor returns directive bodies and skips options."""
    text = "Intro\n\n.. code-block:: python\n   :caption: x\n\n   a = 1\n\n   b = a + 1\n\nAfter\n"
    assert rst_blocks(text) == ["a = 1\n\nb = a + 1\n"]


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run executes exactly the command the README gives for the tests."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- test-command:start -->")[1].split("<!-- test-command:end -->")[0]
    command = re.search(r"```console\n\s*(.+?)\n", section)
    assert command is not None
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command:start" in ci
    assert os.access(ROOT / ".ci" / "run", os.R_OK)


def _ci_function(name: str) -> str:
    """The text of one shell function of .ci/run (from `name() {` to its closing brace)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(rf"^{name}\(\) {{\n.*?^}}\n", ci, re.MULTILINE | re.DOTALL)
    assert match is not None, name
    return match.group(0)


@pytest.mark.parametrize(("status", "expected"), [(0, 0), (1, 1), (5, 1)])
def test_ci_fails_when_pytest_collects_nothing(status: int, expected: int) -> None:
    """.ci/run's test wrapper fails on pytest's exit code 5 (no tests) as on any failure."""
    bash = shutil.which("bash")
    assert bash is not None
    script = f"set -euo pipefail\n{_ci_function('run_tests')}run_tests bash -c 'exit {status}'\n"
    result = subprocess.run(
        [bash, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == expected
    assert ("collected no tests" in result.stderr) == (status == 5)


def test_ci_runs_every_pytest_step_through_the_wrapper() -> None:
    """Each step of .ci/run that runs the tests goes through run_tests."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [
        line.strip() for line in ci.splitlines() if re.search(r"test_command\"|tox\[@\]", line)
    ]
    runs = [line for line in steps if not line.startswith(("tox=", "[", "step"))]
    assert any("test_command" in line for line in runs), steps  # the README's command
    assert sum("tox[@]" in line for line in runs) >= 3, steps  # tests, oldest, py3XX
    assert all(line.startswith("run_tests ") for line in runs), runs
