"""How the merge groups range outputs into S3 multipart parts (UploadPartCopy needs 5 MiB parts)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from textclf_fanout.copy import Segment, part_plan

MIN, MAX = 100, 1000  # small stand-ins for S3's 5 MiB and 5 GiB


def check(sizes: list[int]) -> list[list[Segment]]:
    parts = part_plan(sizes, MIN, MAX)
    # the segments, in order, are exactly the sources, end to end
    flat = [s for part in parts for s in part]
    expected = [(i, 0, n) for i, n in enumerate(sizes) if n]
    joined: list[tuple[int, int, int]] = []
    for s in flat:
        if joined and joined[-1][0] == s.source and joined[-1][2] == s.start:
            joined[-1] = (s.source, joined[-1][1], s.end)
        else:
            joined.append((s.source, s.start, s.end))
    assert joined == expected
    lengths = [sum(s.end - s.start for s in part) for part in parts]
    assert all(n >= MIN for n in lengths[:-1])  # S3: every part but the last
    assert all(n <= MAX for n in lengths)
    assert len(parts) <= 10_000
    # what is uploaded rather than copied stays under two parts' worth at a time
    assert all(n < 2 * MIN for part, n in zip(parts, lengths, strict=True) if len(part) > 1)
    return parts


def test_small_outputs_are_gathered_into_one_uploaded_part() -> None:
    assert check([10, 20, 30]) == [[Segment(0, 0, 10), Segment(1, 0, 20), Segment(2, 0, 30)]]
    assert check([]) == [] and check([0, 0]) == []


def test_big_outputs_are_copied_and_small_ones_topped_up() -> None:
    parts = check([150, 30, 400, 120])
    assert parts[0] == [Segment(0, 0, 150)]  # copied whole
    assert parts[1][0] == Segment(1, 0, 30)  # 30 bytes, topped up from the next output ...
    assert parts[1][1].source == 2 and parts[2] == [Segment(2, parts[1][1].end, 400)]  # ... the rest copied


def test_a_source_bigger_than_the_largest_part_is_split() -> None:
    parts = check([2500])
    assert [len(p) for p in parts] == [1, 1, 1]


@given(st.lists(st.integers(0, 2500), max_size=30))
@settings(max_examples=500, deadline=None)
def test_any_sizes_give_valid_parts(sizes: list[int]) -> None:
    check(sizes)
