"""A large generated file through the real handler: every row accounted for, memory flat in file size.

Runs ``bench/batch.py``'s measurement: a moto server on 127.0.0.1 in its own process
(so S3's memory is not counted) and the handler in a fresh interpreter whose peak RSS
is read from ``getrusage``. Memory is asserted, never time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.batch import measure

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PART_MIB = 5  # the smallest multipart part S3 allows, so the large file goes up in several parts


def test_200k_rows_are_all_accounted_for_with_flat_memory(model_dir: Path) -> None:
    small = measure(rows=10_000, bad_every=1000, part_mib=PART_MIB, model_dir=model_dir)
    large = measure(rows=200_000, bad_every=1000, part_mib=PART_MIB, model_dir=model_dir)

    assert large["rows"] == {"read": 200_000, "scored": 199_800, "rejected": 200}
    assert small["rows"] == {"read": 10_000, "scored": 9_990, "rejected": 10}
    assert large["bytes"] > 2 * PART_MIB * 1024 * 1024 and large["bytes"] > 19 * small["bytes"]
    # Ten times the rows (and several multipart parts) must not cost more memory than one
    # part buffer plus its copy on the way out, far less than the input itself.
    input_mb = large["bytes"] / 1024 / 1024
    extra = large["rss_growth_mb"] - small["rss_growth_mb"]
    print(f"RSS growth: 10k rows {small['rss_growth_mb']:.1f} MB, 200k rows {large['rss_growth_mb']:.1f} MB")
    assert extra < min(2 * PART_MIB + 4, input_mb / 2), (small, large)
