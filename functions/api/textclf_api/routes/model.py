"""``GET``/``HEAD /health`` (liveness and the model's version) and ``GET /model`` (its manifest)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from textclf.model import Predictor
from textclf.schemas import HealthOut


def model_router(predictor: Predictor) -> APIRouter:
    """The routes that describe the model ``predictor`` serves."""
    router = APIRouter()

    def health_response() -> Response:
        body = HealthOut(model_version=predictor.version, backend=predictor.backend).model_dump_json()
        return Response(body, media_type="application/json")

    @router.get("/health", response_model=HealthOut, summary="Liveness and model version")
    async def health() -> Response:
        return health_response()

    # Uptime monitors and load balancers probe with HEAD: 200, headers only. The response is GET's,
    # Content-Length included (RFC 9110 §9.3.2); the event source or HTTP server drops its body.
    @router.head("/health", summary="Liveness, headers only", response_class=Response)
    async def health_head() -> Response:
        return health_response()

    @router.get("/model", summary="The model's manifest: classes, metrics, version")
    async def model() -> dict[str, Any]:
        return predictor.manifest.to_json()

    return router
