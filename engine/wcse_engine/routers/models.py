"""GET /v1/models and /v1/models/{id}: registry models plus every succeeded job's fine-tuned model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..engine import EngineDep
from ..errors import model_not_found

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("")
def list_models(engine: EngineDep) -> dict[str, Any]:
    return {"object": "list", "data": engine.model_objects()}


@router.get("/{model_id:path}")  # fine-tuned ids contain ':' and may contain '/'
def get_model(model_id: str, engine: EngineDep) -> dict[str, Any]:
    for model in engine.model_objects():
        if model["id"] == model_id:
            return model
    raise model_not_found(model_id)
