"""Interval arithmetic of availability, checked against a second-by-second reference."""

import random

import pytest

from scheduling import intervals


def covered(pieces) -> set[int]:
    return {t for start, end in pieces for t in range(start, end)}


def runs(seconds: set[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive seconds: what merged intervals must look like."""
    out: list[tuple[int, int]] = []
    for t in sorted(seconds):
        if out and out[-1][1] == t:
            out[-1] = (out[-1][0], t + 1)
        else:
            out.append((t, t + 1))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_subtract_takes_unmerged_cuts_and_leaves_maximal_pieces(seed):
    """Cuts as the database returns held time: overlapping, touching, empty, ties in any order."""
    rng = random.Random(seed)
    for _ in range(300):
        base = intervals.merge(
            (a, a + rng.randrange(-2, 12)) for a in (rng.randrange(0, 60) for _ in range(rng.randrange(6)))
        )
        cuts = [
            (a, a + rng.randrange(-2, 10)) for a in (rng.randrange(-5, 70) for _ in range(rng.randrange(10)))
        ]
        rng.shuffle(cuts)
        cuts.sort(key=lambda cut: cut[0])  # by start only, as the selector sorts them
        got = intervals.subtract(base, [("provider", start, end) for start, end in cuts])
        assert got == runs(covered(base) - covered(cuts)), (base, cuts)


def test_back_to_back_cuts_leave_no_sliver_and_a_gap_between_them_stays_whole():
    base = [(0, 100)]
    cuts = [(None, 10, 20), (None, 20, 30), (None, 30, 30), (None, 50, 60)]
    assert intervals.subtract(base, cuts) == [(0, 10), (30, 50), (60, 100)]
    # A cut across the gap between two working windows takes from both, and nothing from the next.
    assert intervals.subtract([(0, 10), (20, 30), (40, 50)], [(None, 5, 25)]) == [(0, 5), (25, 30), (40, 50)]
