"""The layout's rules, read from the code itself: which package may import which, no import
cycles, all SQL in storage, only the composition root wires services and schedules jobs,
and no module past the size a reader can hold."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bot"
MAX_MODULE_LINES = 400

# What each package may import of the project (besides itself). Data flows one way:
# Telegram → handlers → engine (tracking) → storage ← engine ← carrier; storage → outbound →
# Telegram. `app` (the composition root: bot.app and its modules) and `__main__` may import
# anything.
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "core": set(),
    "storage": {"core"},
    "carrier": {"core"},
    "tracking": {"core", "storage", "carrier"},
    "texts": {"core", "storage", "tracking"},
    "outbound": {"core", "storage", "tracking", "texts"},
    "imaging": {"core"},
    "handlers": {
        "core",
        "storage",
        "carrier",
        "tracking",
        "texts",
        "outbound",
        "config",
        "imaging",
    },
    "ops": {"core", "storage", "carrier", "tracking", "config"},
    "web": {"core", "storage", "tracking", "texts", "config"},
}
NO_TELEGRAM = ("core", "storage", "carrier", "tracking", "imaging", "web")
# The classes whose instances make up the running bot: built in bot/app.py only.
SERVICES = {
    "ChangeRecorder",
    "CourierDirectory",
    "ChatSender",
    "AdminAlerts",
    "AutomaticBackups",
    "Digests",
    "Notifier",
    "Poller",
    "PushedChanges",
    "Registrar",
    "Tracker",
    "WebServer",
    "TelegramWebhook",
    "Heartbeat",
    "Metrics",
    "AccessPolicy",
    "ChatRoles",
    "TrackingMoreClient",
    "Leadership",
    "AdvisoryLeaderLock",
    "SharedPace",
    "OutboxSignal",
}
# `doctor` is a command of its own, not the running bot: it checks the key with a client of its own.
SERVICE_EXCEPTIONS = {("bot.ops.doctor", "TrackingMoreClient")}
SQL_STARTS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", "PRAGMA ", "CREATE TABLE", "BEGIN")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    @property
    def package(self) -> str:
        """`core` for bot.core.times, `app` for bot.app, `config` for bot.config."""
        return self.name.split(".")[1] if self.name.count(".") else ""

    @property
    def tree(self) -> ast.Module:
        return _parse(self.path)


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def modules() -> list[Module]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(Module(".".join(parts), path))
    return found


def imports_of(module: Module) -> Iterator[str]:
    """Every module name it imports, at any depth (inside functions and TYPE_CHECKING too)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:  # `from bot.texts import render` imports bot.texts.render
                yield f"{node.module}.{alias.name}"


def project_imports(module: Module, known: set[str]) -> set[str]:
    return {name for name in imports_of(module) if name in known and name != module.name}


def test_packages_import_only_what_lies_below_them() -> None:
    found = modules()
    known = {m.name for m in found}
    wrong = []
    for module in found:
        allowed = ALLOWED.get(module.package)
        if allowed is None:  # bot.app, bot.__main__, bot itself
            continue
        for name in project_imports(module, known):
            target = name.split(".")[1] if name.count(".") else ""
            if target not in allowed | {module.package}:
                wrong.append(f"{module.name} imports {name}")
    assert not wrong, "\n".join(sorted(wrong))


def test_engine_storage_carrier_and_core_never_import_telegram() -> None:
    wrong = [
        f"{module.name} imports {name}"
        for module in modules()
        if module.package in NO_TELEGRAM
        for name in imports_of(module)
        if name == "telegram" or name.startswith("telegram.")
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    found = modules()
    known = {m.name for m in found}
    graph = {m.name: project_imports(m, known) for m in found}
    # A package's __init__ is imported by its submodules implicitly; that is no cycle.
    cycles = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append(" → ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


def test_sql_lives_under_storage() -> None:
    wrong = []
    for module in modules():
        if module.package == "storage":
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.lstrip().upper()
                if text.startswith(SQL_STARTS) and ("?" in text or " FROM " in text or ";" in text):
                    wrong.append(f"{module.name}:{node.lineno}: {node.value.strip()[:60]!r}")
        if "sqlite3" in set(imports_of(module)) or "aiosqlite" in set(imports_of(module)):
            wrong.append(f"{module.name} imports sqlite3/aiosqlite")
    assert not wrong, "\n".join(wrong)


def _called_names(module: Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                yield func.id, node.lineno
            elif isinstance(func, ast.Attribute):
                yield func.attr, node.lineno


def test_only_the_composition_root_builds_services_and_schedules_jobs() -> None:
    wrong = []
    for module in modules():
        if module.package == "app":  # the composition root: bot.app and its modules
            continue
        for name, line in _called_names(module):
            if name in SERVICES and (module.name, name) not in SERVICE_EXCEPTIONS:
                wrong.append(f"{module.name}:{line} builds {name}")
            if name in ("run_repeating", "run_once", "run_daily", "run_monthly", "run_custom"):
                wrong.append(f"{module.name}:{line} schedules a job ({name})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", modules(), ids=lambda m: m.name)
def test_module_is_small_enough_to_read(module: Module) -> None:
    lines = len(module.path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module.path.relative_to(ROOT)} has {lines} lines"


def test_the_checks_see_the_code() -> None:
    """The rules above would pass on an empty tree; make sure they read the real one."""
    found = {m.name for m in modules()}
    assert {"bot.app", "bot.core.codes", "bot.storage.changes", "bot.tracking.poller"} <= found
    app = next(m for m in modules() if m.name == "bot.app.assemble")
    assert "Poller" in {name for name, _ in _called_names(app)}
    assert "bot.tracking.poller" in set(imports_of(app))
