"""Helpers for the batch function's integration tests: one file's result, and its row counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.integration.conftest import Batch


def run(batch: Batch, key: str, body: bytes) -> dict[str, Any]:
    """Upload ``body`` as ``key``, invoke the function on its event, return the one file's result."""
    result: dict[str, Any] = batch.upload_and_invoke(key, body)["results"][0]
    return result


def counts(summary: dict[str, Any]) -> tuple[int, int, int]:
    """(read, scored, rejected) of a summary, after checking they add up (read = scored + rejected)."""
    rows = summary["rows"]
    assert rows["read"] == rows["scored"] + rows["rejected"]
    assert sum(summary["rejected_by_reason"].values()) == rows["rejected"]
    return rows["read"], rows["scored"], rows["rejected"]
