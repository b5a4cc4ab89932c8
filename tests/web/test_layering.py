"""The web layer is a door: it parses, calls a service and writes what it returns. So no module of
``chat/web`` imports the store, the crypto or the database driver (they are the services' business)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "chat" / "web"
FORBIDDEN = ("chat.store", "chat.crypto", "sqlalchemy", "sqlmodel")


def imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth (a function-level import counts too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("path", sorted(WEB.glob("*.py")), ids=lambda p: p.name)
def test_web_module_imports_neither_store_nor_crypto_nor_sqlalchemy(path: Path) -> None:
    assert sorted(n for n in imported(path) if _forbidden(n)) == []


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The check itself works: each way of spelling such an import is caught."""
    sample = tmp_path / "sample.py"
    sample.write_text("from chat.store import conversations\nimport sqlalchemy.exc\n"
                      "def f():\n    from chat import crypto\n    from chat.crypto.tokens import token_hash\n")
    assert sorted(n for n in imported(sample) if _forbidden(n)) == [
        "chat.crypto", "chat.crypto.tokens", "chat.crypto.tokens.token_hash", "chat.store", "chat.store.conversations",
        "sqlalchemy.exc",
    ]
