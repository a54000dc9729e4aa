"""``POST /predict`` and ``POST /predict/batch``: texts in, labels and scores out.

The routes are :class:`DirectRoute`s: they read and validate their body with pydantic-core in
one step (:func:`textclf_api.jsonbody.read_json_body`) and return pre-encoded JSON, skipping
FastAPI's per-request dependency solving, response validation and exit stacks (which cost more
than the prediction adds; docs/performance-log.md). Their models still document them in the
OpenAPI document, and their errors keep FastAPI's shape (the app's problem handlers turn them
into problem documents).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import request_response as starlette_request_response

from textclf.model import Prediction, Predictor
from textclf.schemas import BatchPredictionOut, PredictionOut
from textclf_api.jsonbody import read_json_body
from textclf_api.metrics import METRICS_KEY, RequestMetrics
from textclf_api.problems import BODY_PROBLEMS

logger = logging.getLogger(__name__)


class DirectRoute(APIRoute):
    """A route whose endpoint takes the :class:`Request` and returns a :class:`Response`.

    FastAPI still documents it from its ``response_model`` and ``openapi_extra``, and
    its errors go through the app's exception handlers, but no dependency solving,
    body parsing or response serialisation runs per request: the endpoint does its own
    (see :func:`read_json_body`). Without dependencies there is nothing for FastAPI's
    per-request exit stacks to close, so the endpoint is wrapped as Starlette wraps
    its own routes.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.dependant.dependencies:
            raise TypeError(f"{path}: a DirectRoute cannot have dependencies")
        self.app = starlette_request_response(endpoint)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


def _request_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema_ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema_ref}}}}


def predictions_router(
    predictor: Predictor, predict_in: type[BaseModel], batch_in: type[BaseModel], *, log_texts: bool
) -> APIRouter:
    """The prediction routes for ``predictor``, with the request models that carry the limits.

    ``log_texts`` (``LOG_USER_TEXT=true``) logs each request's texts and labels at INFO.
    """
    router = APIRouter()
    version = predictor.version

    def _out(pred: Prediction) -> PredictionOut:
        # model_construct: the predictor's output is already well-formed, validating it again
        # would cost more than the rest of the route
        return PredictionOut.model_construct(
            label=pred["label"], scores=pred["scores"], model_version=version
        )

    def _predict(request: Request, texts: list[str]) -> list[Prediction]:
        started = time.perf_counter()
        preds = predictor.predict(texts)
        metrics: RequestMetrics | None = request.scope.get(METRICS_KEY)
        if metrics is not None:
            metrics.predicted([p["label"] for p in preds], (time.perf_counter() - started) * 1000)
        if log_texts:
            logger.info("prediction", extra={"texts": list(texts), "labels": [p["label"] for p in preds]})
        return preds

    async def predict(request: Request) -> Response:
        body = await read_json_body(request, predict_in)
        return _json(_out(_predict(request, [body.text])[0]))  # type: ignore[attr-defined]

    async def predict_batch(request: Request) -> Response:
        body = await read_json_body(request, batch_in)
        preds = _predict(request, body.texts)  # type: ignore[attr-defined]
        out = BatchPredictionOut.model_construct(predictions=[_out(p) for p in preds], model_version=version)
        return _json(out)

    for path, endpoint, body_model, out_model, summary in (
        ("/predict", predict, predict_in, PredictionOut, "Classify one text"),
        ("/predict/batch", predict_batch, batch_in, BatchPredictionOut, "Classify several texts"),
    ):
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            response_model=out_model,
            summary=summary,
            responses=BODY_PROBLEMS,
            openapi_extra=_request_body_doc(body_model),
            route_class_override=DirectRoute,
        )
    return router
