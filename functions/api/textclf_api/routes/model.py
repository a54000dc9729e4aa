"""``GET``/``HEAD /health`` (liveness and the model's version) and ``GET /model`` (its manifest)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from textclf.model import Predictor
from textclf.schemas import HealthOut


def model_router(predictor: Predictor) -> APIRouter:
    """The routes that describe the model ``predictor`` serves."""
    router = APIRouter()

    @router.get("/health", response_model=HealthOut, summary="Liveness and model version")
    async def health() -> HealthOut:
        return HealthOut(model_version=predictor.version, backend=predictor.backend)

    # Uptime monitors and load balancers probe with HEAD: 200, headers only.
    @router.head("/health", summary="Liveness, headers only", response_class=Response)
    async def health_head() -> Response:
        return Response(status_code=200)

    @router.get("/model", summary="The model's manifest: classes, metrics, version")
    async def model() -> dict[str, Any]:
        return predictor.manifest.to_json()

    return router
