"""observe_many against prometheus_client's own Histogram.observe: the same buckets and sum, value for value."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import generate_latest

from rekap.tabulator.metrics import LATENCY_BUCKETS, observe_many

# The bounds themselves, and just either side of them, are where a search could differ from `<=`.
EDGES = [x for bound in LATENCY_BUCKETS for x in (bound, math.nextafter(bound, 0), math.nextafter(bound, math.inf))]
VALUES = st.lists(st.one_of(st.sampled_from([0.0, *EDGES, math.inf]), st.floats(0, 400, allow_nan=False)))


def exposition(values: list[float], *, many: bool) -> bytes:
    """The histogram as Prometheus scrapes it, but for when it was made."""
    registry = CollectorRegistry()
    histogram = Histogram("h", "a histogram", buckets=LATENCY_BUCKETS, registry=registry)
    if many:
        observe_many(histogram, values)
    else:
        for value in values:
            histogram.observe(value)
    return b"".join(line for line in generate_latest(registry).splitlines(keepends=True) if b"_created" not in line)


@given(VALUES)
def test_observe_many_is_observe_value_by_value(values: list[float]) -> None:
    assert exposition(values, many=True) == exposition(values, many=False)


def test_observe_many_counts_each_bound_in_its_own_bucket() -> None:
    text = exposition([0.01, 0.0100001, 300.0, 301.0], many=True).decode()
    assert 'h_bucket{le="0.01"} 1.0' in text
    assert 'h_bucket{le="0.025"} 2.0' in text
    assert 'h_bucket{le="300.0"} 3.0' in text
    assert 'h_bucket{le="+Inf"} 4.0' in text
