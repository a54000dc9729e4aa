"""The smoke set: a few held-out examples per class, shipped in the model folder.

A deployment's pre-traffic hook (``functions/pre_traffic/textclf_hook``) classifies them with the new API
version before it takes any traffic, and compares its accuracy with the one recorded
here at training time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textclf.smoke import SMOKE_FILE, SMOKE_FORMAT, SmokeExample, SmokeSet


def write_smoke_set(
    folder: Path, pipeline: Any, texts: Sequence[str], labels: Sequence[str], per_class: int = 5
) -> SmokeSet:
    """Write ``folder/smoke.json`` (:class:`textclf.smoke.SmokeSet`, the class the hook reads it
    with): up to ``per_class`` held-out examples of each class (the first ones of the test split,
    so the same data and seed give the same set) and the fitted ``pipeline``'s accuracy on them.
    Returns what was written."""
    chosen: dict[str, list[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        picked = chosen.setdefault(str(label), [])
        if len(picked) < per_class:
            picked.append(text)
    examples = [SmokeExample(text=t, label=label) for label in sorted(chosen) for t in chosen[label]]
    predicted = pipeline.predict([e.text for e in examples]) if examples else []
    correct = sum(str(p) == e.label for p, e in zip(predicted, examples, strict=True))
    smoke = SmokeSet(
        format=SMOKE_FORMAT,
        accuracy=round(correct / len(examples), 6) if examples else None,
        per_class=per_class,
        examples=examples,
    )
    text = json.dumps(smoke.model_dump(mode="json"), indent=1, ensure_ascii=False)
    (folder / SMOKE_FILE).write_text(text + "\n", encoding="utf-8")
    return smoke
