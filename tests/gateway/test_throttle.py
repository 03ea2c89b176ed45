"""The leaky bucket of ``gateway.throttle`` (in process memory), step by step on a fake clock:
what a take is granted, what it leaves, how a bucket refills, and that full buckets are not
kept (a flood of one-off callers cannot grow the process)."""

from __future__ import annotations

import pytest

from gateway.throttle import MemoryBuckets, Take, ThrottleStatus

SIZE, RATE = 100.0, 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# (seconds to wait first, "take"/"give", points) -> (granted, level after)
STEPS = {
    "a-new-bucket-is-full": [((0, "take", 0), (True, 100))],
    "a-take-within-the-level": [((0, "take", 60), (True, 40))],
    "the-whole-bucket": [((0, "take", 100), (True, 0))],
    "more-than-it-holds-takes-nothing": [
        ((0, "take", 60), (True, 40)),
        ((0, "take", 41), (False, 40)),
    ],
    "refills-at-the-rate": [((0, "take", 100), (True, 0)), ((2.5, "take", 0), (True, 25))],
    "never-above-its-size": [((0, "take", 10), (True, 90)), ((60, "take", 0), (True, 100))],
    "a-refused-take-waits-for-the-refill": [
        ((0, "take", 100), (True, 0)),
        ((1, "take", 20), (False, 10)),
        ((1, "take", 20), (True, 0)),
    ],
    "give-back-returns-unused-points": [
        ((0, "take", 80), (True, 20)),
        ((0, "give", 30), (True, 50)),
    ],
    "give-back-never-above-its-size": [
        ((0, "take", 10), (True, 90)),
        ((0, "give", 50), (True, 100)),
    ],
}


@pytest.mark.parametrize("steps", STEPS.values(), ids=STEPS.keys())
async def test_each_step_of_a_bucket(
    steps: list[tuple[tuple[float, str, float], tuple[bool, float]]],
) -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    for (wait, action, points), (granted, level) in steps:
        clock.now += wait
        if action == "take":
            take = await buckets.take("k", points, size=SIZE, rate=RATE)
            assert (take.granted, take.status.currently_available) == (
                granted,
                pytest.approx(level),
            )
        else:
            status = await buckets.give_back("k", points, size=SIZE, rate=RATE)
            assert status.currently_available == pytest.approx(level)


@pytest.mark.parametrize(
    ("level", "cost", "seconds"),
    [(0, 10, 1), (0, 11, 2), (5, 10, 1), (9.9, 10, 1), (0, 100, 10), (0, 0.1, 1)],
)
def test_retry_after_is_the_whole_seconds_until_the_bucket_holds_the_cost(
    level: float, cost: float, seconds: int
) -> None:
    assert Take(False, ThrottleStatus(SIZE, level, RATE)).retry_after_s(cost) == seconds


async def test_callers_have_buckets_of_their_own() -> None:
    buckets = MemoryBuckets(clock=Clock())
    await buckets.take("spender", 100, size=SIZE, rate=RATE)
    assert (await buckets.take("other", 100, size=SIZE, rate=RATE)).granted


async def test_a_full_bucket_is_not_kept() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    await buckets.take("a", 0, size=SIZE, rate=RATE)
    assert len(buckets) == 0
    await buckets.take("a", 50, size=SIZE, rate=RATE)
    assert len(buckets) == 1
    clock.now += 5  # refilled
    await buckets.take("a", 0, size=SIZE, rate=RATE)
    assert len(buckets) == 0


async def test_past_the_most_kept_the_refilled_buckets_are_swept_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MemoryBuckets, "MAX_KEPT", 10)
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    for n in range(10):
        await buckets.take(f"anonymous:{n}", 50, size=SIZE, rate=RATE)
    await buckets.take("still-short", 100, size=SIZE, rate=RATE)  # 11th: nothing refilled yet
    assert len(buckets) == 11
    clock.now += 6  # the ten one-off callers refill (5 s); the 11th does not (10 s)
    await buckets.take("newcomer", 50, size=SIZE, rate=RATE)
    assert len(buckets) == 2
    assert (
        await buckets.take("still-short", 0, size=SIZE, rate=RATE)
    ).status.currently_available == pytest.approx(60)


async def test_a_table_of_short_buckets_is_not_walked_again_for_every_new_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MemoryBuckets, "MAX_KEPT", 100)
    buckets = MemoryBuckets(clock=Clock())  # time stands still: nothing ever refills
    sweeps: list[int] = []
    sweep = buckets._sweep

    def counted() -> None:
        sweeps.append(len(buckets))
        sweep()

    monkeypatch.setattr(buckets, "_sweep", counted)
    for n in range(300):
        await buckets.take(f"anonymous:{n}", 50, size=SIZE, rate=RATE)
    # at 100 kept, then only once a tenth more have come: 110, 120, ...
    assert sweeps == list(range(100, 300, 10))
