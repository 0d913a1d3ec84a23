"""The registrar against the fake TrackingMore over real HTTP and a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.trackingmore import FakeTrackingMore

from bot.carrier import CarrierQuotaError, TrackingMoreClient
from bot.storage import Storage
from bot.tracking.recorder import ChangeRecorder
from bot.tracking.registrar import Registrar

POSTE = "poste-italiane"
CHAT = 7


def codes(start: int, count: int) -> list[tuple[str, str]]:
    return [(POSTE, f"CP{n:09d}IT") for n in range(start, start + count)]


@pytest.fixture
async def storage(database: Path | str) -> AsyncIterator[Storage]:
    opened = await Storage.open(database)
    await opened.chats.touch_chat(CHAT, "private", None, "en")
    yield opened
    await opened.close()


@pytest.fixture
async def carrier(fake_tm: FakeTrackingMore) -> AsyncIterator[TrackingMoreClient]:
    client = TrackingMoreClient(fake_tm.base_url, fake_tm.api_key)
    yield client
    await client.aclose()


async def follow(storage: Storage, keys: list[tuple[str, str]]) -> None:
    for courier, code in keys:
        await storage.follows.follow(CHAT, courier, code, None, CHAT, "Ada")


def batches(fake_tm: FakeTrackingMore) -> list[list[str]]:
    return [r["numbers"] for r in fake_tm.requests if r["endpoint"] in ("batch", "create")]


async def test_askers_share_numbers_and_fill_batches_across_each_other(
    fake_tm: FakeTrackingMore, storage: Storage, carrier: TrackingMoreClient
) -> None:
    first, second = codes(0, 50), codes(40, 40)  # ten numbers in common
    await follow(storage, first + second)
    registrar = Registrar(storage, carrier, ChangeRecorder(storage, lambda: None))
    fake_tm.fail_next("timeout:0.5", endpoint="batch")  # the first call stays in flight

    first_asker = asyncio.create_task(registrar.register(first, notify=False))
    await asyncio.sleep(0.2)  # 40 sent; the other 10 wait for more to fill their batch
    second_result = await registrar.register(second, notify=False)
    first_result = await first_asker

    sent = batches(fake_tm)
    assert sorted(len(numbers) for numbers in sent) == [40, 40]  # not 40 + 10 + 30
    assert sorted(n for numbers in sent for n in numbers) == sorted(
        c for _, c in first + codes(50, 30)
    )
    assert first_result.unreachable == second_result.unreachable == set()
    assert first_result.refused == second_result.refused == set()
    for courier, code in first + second:
        shipment = await storage.shipments.get_shipment(courier, code)
        assert shipment is not None and shipment.registered
    await registrar.close()


async def test_an_asker_that_stops_waiting_gets_the_state_told_later(
    fake_tm: FakeTrackingMore, storage: Storage, carrier: TrackingMoreClient
) -> None:
    [key] = codes(100, 1)
    fake_tm.script(key[1], status="transit")
    await follow(storage, [key])
    wakes: list[None] = []
    registrar = Registrar(storage, carrier, ChangeRecorder(storage, lambda: wakes.append(None)))
    fake_tm.fail_next("timeout:0.6", endpoint="create")

    result = await registrar.register([key], notify=False, wait_at_most=0.1)

    assert result.unreachable == {key}
    assert await storage.outbox.outbox_backlog() == 0
    for _ in range(50):  # the call goes on without the asker
        shipment = await storage.shipments.get_shipment(*key)
        if shipment is not None and shipment.registered:
            break
        await asyncio.sleep(0.05)
    assert shipment is not None and shipment.status == "transit"
    # The chat was told "confirmed later": the state comes as a notification.
    assert [n.notice.status for n in await storage.outbox.due_notifications()] == ["transit"]
    # ... and the sender was woken for it at once, not at its next idle check.
    assert len(wakes) == 1
    await registrar.close()


async def test_quota_exhausted_stops_sending_and_reports_the_error(
    fake_tm: FakeTrackingMore, storage: Storage, carrier: TrackingMoreClient
) -> None:
    keys = codes(200, 130)
    await follow(storage, keys)
    registrar = Registrar(storage, carrier, ChangeRecorder(storage, lambda: None))
    fake_tm.fail_next("meta4190", times=10, endpoint="batch")

    result = await registrar.register(keys, notify=True)

    assert result.unreachable == set(keys)
    assert [type(e) for e in result.errors] == [CarrierQuotaError]
    # Each call in flight at the first refusal is answered; nothing is sent after it.
    assert len(batches(fake_tm)) <= 3
    assert all(
        not s.registered for s in [await storage.shipments.get_shipment(*k) for k in keys] if s
    )
    await registrar.close()


async def test_a_number_trackingmore_refuses_is_reported_refused(
    fake_tm: FakeTrackingMore, storage: Storage, carrier: TrackingMoreClient
) -> None:
    fake_tm.refuse_courier("nessuno")
    good, bad = codes(300, 1)[0], ("nessuno", "CP000000301IT")
    await follow(storage, [good, bad])
    registrar = Registrar(storage, carrier, ChangeRecorder(storage, lambda: None))

    result = await registrar.register([good, bad, good], notify=False)

    assert result.refused == {bad} and result.unreachable == set()
    assert [sorted(n) for n in batches(fake_tm)] == [sorted([good[1], bad[1]])]
    await registrar.close()


async def test_closing_answers_every_asker(
    fake_tm: FakeTrackingMore, storage: Storage, carrier: TrackingMoreClient
) -> None:
    keys = codes(400, 3)
    await follow(storage, keys)
    registrar = Registrar(storage, carrier, ChangeRecorder(storage, lambda: None))
    fake_tm.fail_next("timeout:5", endpoint="batch")
    asker = asyncio.create_task(registrar.register(keys, notify=True))  # waits for ever
    await asyncio.sleep(0.2)

    await registrar.close()

    result = await asyncio.wait_for(asker, 1)
    assert result.unreachable == set(keys)
    assert all(
        not s.registered for s in [await storage.shipments.get_shipment(*k) for k in keys] if s
    )


async def test_codes_a_chat_is_adding_are_left_to_it_by_the_poller(
    storage: Storage, carrier: TrackingMoreClient
) -> None:
    registrar = Registrar(storage, carrier, ChangeRecorder(storage, lambda: None))
    keys = codes(300, 3)
    with registrar.reserved(set(keys[:2])):
        assert registrar.unreserved(keys) == keys[2:]
        with registrar.reserved({keys[0]}):  # two chats adding the same code
            assert registrar.unreserved(keys) == keys[2:]
        assert registrar.unreserved(keys) == keys[2:]
    assert registrar.unreserved(keys) == keys
    await registrar.close()
