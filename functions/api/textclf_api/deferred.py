"""FastAPI's own pydantic models, built when first used rather than while FastAPI is imported.

``import fastapi`` creates some fifty pydantic models that describe an OpenAPI document
(``fastapi.openapi.models``), and pydantic builds each one's validator and serializer as the class
is created: a large share of a Lambda cold start, for models that only ``GET /openapi.json``
(and so ``/docs``) ever uses. Pydantic's ``defer_build`` setting builds a model on first use
instead; FastAPI sets it on none of them (fastapi/fastapi#10546 proposed it, for Lambda, and was
closed), and pydantic has no public way to change the default. :func:`models_built_on_first_use`
changes that default only while the block inside it runs, so FastAPI's models are deferred and
every model of ours (declared outside the block, with its own ``model_config``) is not affected.
A deferred model is built the first time it validates, serialises or gives its JSON schema, once,
exactly as it would have been at import (the OpenAPI document is the same; tests compare it).

The default lives in pydantic's private ``pydantic._internal._config.config_defaults``; with a
pydantic that does not have it, the block changes nothing and models are built as usual (slower
to start, same behaviour). ``tests/unit/test_deferred.py`` pins both cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _defaults() -> dict[str, Any] | None:
    try:
        from pydantic._internal import _config
    except ImportError:
        return None
    defaults = getattr(_config, "config_defaults", None)
    return defaults if isinstance(defaults, dict) and "defer_build" in defaults else None


@contextmanager
def models_built_on_first_use() -> Iterator[bool]:
    """Within the block, pydantic models created without a ``defer_build`` setting of their own
    are built on first use. Yields whether that default could be changed; restores it on exit,
    exception or not."""
    defaults = _defaults()
    if defaults is None:
        yield False
        return
    previous = defaults["defer_build"]
    defaults["defer_build"] = True
    try:
        yield True
    finally:
        defaults["defer_build"] = previous
