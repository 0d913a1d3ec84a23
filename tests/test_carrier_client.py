"""The TrackingMore client against the fake TrackingMore over real HTTP."""

from __future__ import annotations

import asyncio

from fakes.trackingmore import FakeTrackingMore

from bot.carrier import TrackingMoreClient, tracking_signature

CODE, OTHER = "RR123456785IT", "EE123456785IT"


def test_unchanged_answers_are_recognised_without_parsing(fake_tm: FakeTrackingMore) -> None:
    fake_tm.script(CODE, status="transit", registered=True)
    fake_tm.script(OTHER, status="transit", registered=True)

    async def run() -> None:
        client = TrackingMoreClient(fake_tm.base_url, fake_tm.api_key)
        try:
            first = await client.get("poste-italiane", [CODE, OTHER, "ZZ999999999IT"])
            assert sorted(s.code for s in first.snapshots) == [OTHER, CODE]
            assert first.unknown == ["ZZ999999999IT"] and first.unchanged == []
            known = {s.code: s.signature for s in first.snapshots}

            fake_tm.move(CODE, "pickup", "In consegna", "ROMA", time="2026-11-21 08:05:00")
            second = await client.get("poste-italiane", [CODE, OTHER], known)
            assert [s.code for s in second.snapshots] == [CODE]
            assert second.snapshots[0].signature != known[CODE]
            assert second.unchanged == [OTHER]
        finally:
            await client.aclose()

    asyncio.run(run())


def test_signature_follows_status_and_checkpoints() -> None:
    base = {
        "delivery_status": "transit",
        "origin_info": {
            "trackinfo": [{"checkpoint_date": "2026-11-20 09:30", "tracking_detail": "A"}]
        },
    }
    same = {**base, "update_at": "2026-11-26T10:00:00+00:00", "id": "x"}
    assert tracking_signature(base) == tracking_signature(same)  # bookkeeping fields ignored
    moved = {**base, "delivery_status": "pickup"}
    more = {
        **base,
        "destination_info": {
            "trackinfo": [{"checkpoint_date": "2026-11-21", "tracking_detail": "B"}]
        },
    }
    signatures = {tracking_signature(o) for o in (base, moved, more)}
    assert len(signatures) == 3
