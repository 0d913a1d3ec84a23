"""The files a self-hoster uses: docker-compose.yml, .env.example, the README's table, Dockerfile.

(The image itself is built and smoke-run by scripts/docker-smoke, outside pytest.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {
    "TELEGRAM_BOT_TOKEN": "123456:AAE-secret-part-of-token",
    "TRACKINGMORE_API_KEY": "k" * 20,
}
_README_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)
_ENV_LINE = re.compile(r"^(#?)([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)


def readme_variables() -> list[str]:
    return _README_ROW.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def env_example() -> list[tuple[bool, str, str]]:
    """(commented out, name, value) of every variable line of .env.example."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return [(mark == "#", name, value) for mark, name, value in _ENV_LINE.findall(text)]


def test_compose_reads_env_file_keeps_data_on_the_named_volume_and_restarts() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["postino"]
    env_files = service["env_file"]
    assert ".env" in ([env_files] if isinstance(env_files, str) else env_files)
    assert "postino-data:/data" in service["volumes"]
    assert "postino-data" in compose["volumes"]
    assert service["restart"] == "unless-stopped"
    assert service["build"] == "."


def test_env_example_lists_exactly_the_readme_variables() -> None:
    documented = readme_variables()
    listed = [name for _, name, _ in env_example()]
    assert len(listed) == len(set(listed)), "a variable is listed twice in .env.example"
    assert sorted(listed) == sorted(documented), (
        "README's configuration table and .env.example must list the same variables: "
        f"only in README {sorted(set(documented) - set(listed))}, "
        f"only in .env.example {sorted(set(listed) - set(documented))}"
    )


def test_env_example_asks_only_for_the_secrets_and_shows_true_defaults() -> None:
    lines = env_example()
    assert [(name, value) for commented, name, value in lines if not commented] == [
        ("TELEGRAM_BOT_TOKEN", ""),
        ("TRACKINGMORE_API_KEY", ""),
    ]
    defaults = load_settings(REQUIRED)
    for commented, name, value in lines:
        if commented:
            uncommented = load_settings({**REQUIRED, name: value})
            assert uncommented == defaults, f"{name}={value} in .env.example is not the default"


@pytest.mark.parametrize(
    "pattern",
    [
        r"^FROM \$\{PYTHON_IMAGE\} AS build$",  # multi-stage
        r"^ARG PYTHON_IMAGE=python:3\.\d+-slim",
        r"^USER \$\{UID\}:\$\{UID\}$",
        r"^ARG UID=10001$",
        r"^VOLUME \[\"/data\"\]$",
        r'^    CMD \["python", "-m", "bot", "health"\]$',  # HEALTHCHECK
        r'^ENTRYPOINT \["python", "-m", "bot"\]$',  # exec form: SIGTERM reaches the bot
    ],
)
def test_dockerfile_has(pattern: str) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(pattern, dockerfile, re.MULTILINE)
