"""Reading what the gateway tells its operators: ``/metrics`` parsed into samples."""

from __future__ import annotations

from collections import Counter

import httpx
from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]


async def scrape(http: httpx.AsyncClient, **headers: str) -> dict[tuple[str, Labels], float]:
    """Every sample of ``GET /metrics``: (name, sorted labels) -> value."""
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def parse(text: str) -> dict[tuple[str, Labels], float]:
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delta(
    before: dict[tuple[str, Labels], float], after: dict[tuple[str, Labels], float], name: str
) -> Counter[Labels]:
    """How much each labelled series of ``name`` grew (series that did not move left out)."""
    grown: Counter[Labels] = Counter()
    for (sample, labels), value in after.items():
        if sample == name:
            moved = value - before.get((sample, labels), 0.0)
            if moved:
                grown[labels] = int(moved) if float(moved).is_integer() else moved
    return grown


def labels(**values: str) -> Labels:
    return tuple(sorted(values.items()))
