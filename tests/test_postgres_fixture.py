"""The PostgreSQL fixtures start a real server: logins, a fresh database per test, a crash."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg
import pytest
from postgres import HOST, PASSWORD, USER, PostgresServer, require_postgres, run_async

pytestmark = pytest.mark.full

# Database names the tests of this worker were given, in order (one server per worker).
_SEEN: list[str] = []


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def test_table_round_trip(postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute("CREATE TABLE parcels (code text PRIMARY KEY, note text)")
        await connection.execute("INSERT INTO parcels VALUES ($1, $2)", "RR123456789IT", "ciao")
        row = await connection.fetchrow("SELECT code, note FROM parcels")
        assert row is not None
        assert (row["code"], row["note"]) == ("RR123456789IT", "ciao")
        assert await connection.fetchval("SELECT current_user") == USER
    finally:
        await connection.close()


async def test_wrong_password_is_refused(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=HOST,
            port=postgres_server.port,
            user=USER,
            password=PASSWORD + "-wrong",
            database=_dbname(postgres_url),
        )


@pytest.mark.parametrize("turn", [1, 2])
async def test_each_test_gets_a_fresh_database(
    turn: int, postgres_server: PostgresServer, postgres_url: str
) -> None:
    name = _dbname(postgres_url)
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("SELECT current_database()") == name
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        assert tables == 0, "the database is not fresh"
        await connection.execute("CREATE TABLE marker (turn int)")
        await connection.execute("INSERT INTO marker VALUES ($1)", turn)
        databases = {
            row["datname"] for row in await connection.fetch("SELECT datname FROM pg_database")
        }
    finally:
        await connection.close()
    assert name not in _SEEN
    # The database of the previous test on this server was dropped at its teardown (with
    # FORCE); under xdist that test may have run on another worker's server instead.
    assert not databases & set(_SEEN)
    _SEEN.append(name)


async def test_two_databases_are_distinct(postgres_server: PostgresServer) -> None:
    # Called from inside the test's event loop: the helper runs its own loop in a thread.
    first = postgres_server.create_database("t_distinct_first")
    second = postgres_server.create_database("t_distinct_second")
    assert first != second
    one = await asyncpg.connect(first)
    two = await asyncpg.connect(second)
    try:
        await one.execute("CREATE TABLE only_here (x int)")
        assert await one.fetchval("SELECT to_regclass('only_here') IS NOT NULL")
        assert await two.fetchval("SELECT to_regclass('only_here') IS NULL")
        # WITH (FORCE): the drops terminate the connections still open on them.
        postgres_server.drop_database("t_distinct_first")
        postgres_server.drop_database("t_distinct_second")
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await two.fetchval("SELECT 1")
    finally:
        one.terminate()
        two.terminate()
        postgres_server.drop_database("t_distinct_first")
        postgres_server.drop_database("t_distinct_second")


def test_kill_then_restart_keeps_data() -> None:
    require_postgres()
    # Commits must reach the kernel before they return, or the kill loses them.
    server = PostgresServer(settings={"synchronous_commit": "on"})
    try:
        url = server.start().create_database("survivor")

        async def write() -> None:
            connection = await asyncpg.connect(url)
            await connection.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
            await connection.close()

        async def read() -> int:
            connection = await asyncpg.connect(url)
            try:
                value: int = await connection.fetchval("SELECT x FROM kept")
                return value
            finally:
                await connection.close()

        run_async(write())
        server.kill()
        assert not server.alive
        with pytest.raises(OSError):
            run_async(read())
        server.start()
        assert run_async(read()) == 7
        directory = server.directory
    finally:
        server.stop()
    assert directory is not None
    assert not directory.exists()
