"""The import rule of DESIGN.md section 1: arrows point down only, private stays private."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import authcore

_PACKAGE = Path(authcore.__file__).parent

# Layer of each top-level name under authcore; a module may import its own layer or below.
# Areas of one layer do not import each other (except oauth, which sits above jose and mtls).
_LAYERS: dict[str, int] = {
    # bottom plumbing: errors, encodings, time, sans-IO HTTP, SQLite, the guarded fetch,
    # one-time values and GCRA decisions
    "__init__": 0,
    "errors": 0,
    "_ct": 0,
    "_frozen": 0,
    "_encoding": 0,
    "clock": 0,
    "http": 0,
    "_sqlite": 0,
    "_fetch": 0,
    "onetime": 0,
    "_kinds": 0,
    "_fork": 0,
    "_options": 0,
    "ratelimit": 0,
    # areas
    "apikeys": 1,
    "webhooks": 1,
    "jose": 1,
    "mtls": 1,
    "oauth": 2,
    # adapters implementing the areas' protocols
    "stores": 3,
    # combinations
    "authn": 4,
    # the tools on top
    "cli": 5,
    "_bench": 5,
    "__main__": 5,
}
_TOOLS = {"cli", "_bench", "__main__"}


def _top(module: str) -> str:
    """The top-level name of a dotted module under authcore (``jose`` for ``authcore.jose.jwt``)."""
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every authcore module imported anywhere in the file (also lazily or for typing)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("authcore")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "authcore":  # from authcore import jose, errors, ...
                found += [(node.lineno, f"authcore.{a.name}") for a in node.names]
            elif node.module.startswith("authcore."):
                found.append((node.lineno, node.module))
    return found


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def violations(root: Path = _PACKAGE) -> list[str]:
    """Every import that runs up the layers, across areas, or into another package's privates."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        importer = _module_name(path, root)
        mine = _top(importer) if importer != "authcore" else "__init__"
        if mine not in _LAYERS:
            found.append(f"{importer}: not placed in a layer")
            continue
        for line, target in _imports(path):
            theirs = _top(target) if target != "authcore" else "__init__"
            if theirs not in _LAYERS:
                continue  # a name such as __version__ imported from the package
            where = f"{path.relative_to(root.parent)}:{line}: {importer} -> {target}"
            if theirs == mine:
                continue
            if _LAYERS[theirs] > _LAYERS[mine]:
                found.append(f"{where} (upward)")
            elif _LAYERS[theirs] == _LAYERS[mine] and _LAYERS[mine] in {1, 3}:
                found.append(f"{where} (across areas)")
            elif mine not in _TOOLS and any(p.startswith("_") for p in target.split(".")[2:]):
                found.append(f"{where} (private module of another package)")
    return found


def test_imports_point_down_only() -> None:
    """No module imports a higher layer, a sibling area, or another package's private module."""
    assert violations() == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"jose/x.py": "from authcore.stores import memory\n"}, "upward"),
        ({"webhooks/x.py": "import authcore.jose\n"}, "across areas"),
        ({"stores/x.py": "from authcore.apikeys._model import KeyRecord\n"}, "private module"),
        ({"jose/x.py": "def f():\n    from authcore.oauth import pkce\n"}, "upward"),
    ],
)
def test_the_rule_catches_each_kind(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    """The check flags an upward, a sideways and a private import (so it can fail)."""
    root = tmp_path / "authcore"
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (target.parent / "__init__.py").touch()
        target.write_text(text)
    (root / "__init__.py").touch()
    assert any(expected in v for v in violations(root))
