"""The Lambda handler sets its event loop explicitly (Mangum would otherwise rely on a deprecated default)."""

from __future__ import annotations

import asyncio
import threading
import warnings
from types import ModuleType

from tests.helpers import LambdaContext, load_event
from textclf_api.gateway import create_handler


def test_handler_made_where_no_loop_was_ever_set_works_without_warnings(api_module: ModuleType) -> None:
    """As on Lambda: the main thread, which never had a loop set, builds the handler, then calls it.

    (On the main thread Python 3.12-3.13 warn there, and 3.14 raises; a fresh policy stands
    for a fresh interpreter.)
    """
    saved = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(None)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handler = create_handler(api_module.app)
            statuses = [
                handler(load_event("apigw-v2-health.json"), LambdaContext())["statusCode"] for _ in "ab"
            ]
            loop = asyncio.get_event_loop()
        assert [str(w.message) for w in caught] == []
        assert statuses == [200, 200] and not loop.is_closed()
        loop.close()
    finally:
        asyncio.set_event_loop_policy(saved)


def test_an_existing_loop_is_kept(api_module: ModuleType) -> None:
    loop = asyncio.new_event_loop()
    outcome: dict[str, bool] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        create_handler(api_module.app)
        outcome["same"] = asyncio.get_event_loop() is loop

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    loop.close()
    assert outcome == {"same": True}
