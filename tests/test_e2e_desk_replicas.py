"""The web desk with replicas on one PostgreSQL database: a login link made by one replica
opens on another, and what is done through one replica's API shows in the other's rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import _assert_no_secrets, _stop
from fakes.telegram import FakeTelegram
from harness import BotProcess, free_port, wait_for
from parcels import s10
from webdesk import ask, desk_link, row_of, rows, session

pytestmark = [pytest.mark.e2e, pytest.mark.full]

ALICE = 1001
CODE = s10(11)


@pytest.fixture
def two(
    bot_env: dict[str, str], postgres_url: str, tmp_path: Path, fake_tg: FakeTelegram
) -> Iterator[tuple[str, str]]:
    ports = (free_port(), free_port())
    # Both announce the first one's address: links are made by whichever leads.
    public = f"http://127.0.0.1:{ports[0]}"
    started = []
    for name, port in zip(("one", "two"), ports, strict=True):
        env = {
            **bot_env,
            "DATABASE_URL": postgres_url,
            "REPLICA_NAME": name,
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "PUBLIC_BASE_URL": public,
        }
        bot = BotProcess(env, tmp_path, name)
        started.append(bot)
        bot.start()
    try:
        for bot in started:
            wait_for(
                lambda b=bot: b.log_count("leads (poll cycle") or b.log_count("stands by"),
                f"{bot.name}'s role",
            )
        yield (public, f"http://127.0.0.1:{ports[1]}")
    finally:
        errors = [error for bot in started if (error := _stop(bot))]
        _assert_no_secrets(started)
        assert not errors, "\n".join(errors)


def test_a_link_made_on_one_replica_opens_on_the_other_and_changes_show_on_both(
    two: tuple[str, str], fake_tg: FakeTelegram
) -> None:
    one, other = two
    ask(fake_tg, ALICE, CODE)
    link = desk_link(fake_tg, ALICE)
    via_other = session(other, link)  # made by the leader, opened on the other replica
    shipment = row_of(via_other, ALICE, CODE)
    renamed = via_other.post(
        f"/desk/api/chats/{ALICE}/shipments/{shipment['id']}/rename", json={"label": "Libri"}
    )
    assert renamed.status_code == 200
    # the same session on the first replica: it sees the change at once
    via_one = session(one, desk_link(fake_tg, ALICE))
    via_one.cookies = via_other.cookies
    assert row_of(via_one, ALICE, CODE)["label"] == "Libri"
    assert "Libri" in ask(fake_tg, ALICE, "/list")["text"]
    assert [r["code"] for r in rows(via_one, ALICE)] == [CODE]
