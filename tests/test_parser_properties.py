"""Property tests: the TrackingMore parser takes any JSON without raising."""

from __future__ import annotations

from typing import Any

from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.carrier import parse_tracking
from bot.core.times import parse_carrier_time

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=30,
)
checkpoint = st.fixed_dictionaries(
    {},
    optional={
        "checkpoint_date": json_values | st.text(),
        "tracking_detail": json_values | st.text(),
        "location": json_values,
        "checkpoint_delivery_status": json_values | st.sampled_from(["transit", "delivered"]),
        "checkpoint_delivery_substatus": json_values,
    },
)
tracking = st.fixed_dictionaries(
    {
        "tracking_number": st.text(min_size=1, max_size=40) | json_values,
        "delivery_status": st.sampled_from(["transit", "pickup", "weird", ""]) | json_values,
    },
    optional={
        "courier_code": json_values,
        "substatus": json_values,
        "id": json_values,
        "origin_info": json_values
        | st.fixed_dictionaries({"trackinfo": st.lists(checkpoint | json_values, max_size=6)}),
        "destination_info": json_values
        | st.fixed_dictionaries({"trackinfo": st.lists(checkpoint, max_size=6)}),
        "track_info": st.lists(checkpoint, max_size=4) | json_values,
    },
)


@settings(max_examples=examples(300), deadline=None)
@given(tracking | json_values)
def test_parse_tracking_never_raises(obj: Any) -> None:
    snapshot = parse_tracking(obj)
    if snapshot is not None:
        assert snapshot.code and snapshot.status
        times = [c.occurred_at for c in snapshot.checkpoints if c.occurred_at]
        assert times == sorted(times, reverse=True)
        assert len({c.fingerprint for c in snapshot.checkpoints}) == len(snapshot.checkpoints)


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(tracking | json_values, max_size=5))
def test_parse_trackings_keeps_only_identified(items: list[Any]) -> None:
    parsed = [parse_tracking(item) for item in items]
    assert all(s.code and s.status for s in parsed if s is not None)


@settings(max_examples=examples(300), deadline=None)
@given(json_values | st.text())
def test_carrier_time_parser_never_raises(raw: Any) -> None:
    parsed = parse_carrier_time(raw)
    assert parsed is None or parsed.tzinfo is None
