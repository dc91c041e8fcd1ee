"""The dependency rules of docs/architecture.md, checked on every import in postier/."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "postier"
PROTOCOLS = {"imap", "smtp", "pop3", "web", "queue"}
PURE_NAMES = {"wire.py", "parser.py", "commands.py", "protocol.py", "responses.py", "replies.py",
              "events.py", "paths.py",
              "selected.py"}
FORBIDDEN_IN_PURE = {"asyncio", "socket", "ssl", "postier.store"}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_pure(name: str, path: Path) -> bool:
    parts = name.split(".")
    return (path.name in PURE_NAMES or "parsing" in parts
            or (len(parts) > 1 and parts[1] in {"mime", "mailauth"})
            or name == "postier.auth.sasl")


def _hits(imports: set[str], prefixes: set[str]) -> list[str]:
    return sorted(i for i in imports for p in prefixes if i == p or i.startswith(p + "."))


def test_pure_modules_do_no_io_and_know_no_store() -> None:
    problems = [f"{name} imports {_hits(_imports(path), FORBIDDEN_IN_PURE)}"
                for name, path in _modules()
                if _is_pure(name, path) and _hits(_imports(path), FORBIDDEN_IN_PURE)]
    assert problems == []


def test_only_the_composition_root_names_a_backend() -> None:
    backends = {"postier.store.sqlite", "postier.store.postgres"}
    problems = [name for name, path in _modules()
                if _hits(_imports(path), backends)
                and name not in {"postier.server", "postier.cli"}
                and not name.startswith(tuple(backends))]
    assert problems == []


def test_backends_do_not_know_protocols() -> None:
    protocol_packages = {f"postier.{p}" for p in PROTOCOLS}
    problems = [name for name, path in _modules()
                if name.startswith("postier.store") and _hits(_imports(path), protocol_packages)]
    assert problems == []


def test_protocols_do_not_import_each_other() -> None:
    problems = []
    for name, path in _modules():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in PROTOCOLS:
            continue
        others = {f"postier.{p}" for p in PROTOCOLS - {parts[1]}}
        allowed = {"postier.smtp.client"} if parts[1] == "queue" else set()
        bad = [i for i in _hits(_imports(path), others)
               if not any(i == a or i.startswith(a + ".") for a in allowed)]
        if bad:
            problems.append(f"{name} imports {bad}")
    assert problems == []
