"""GET /health: answers once the server accepts requests, and says which generation serves GGUF models."""

from __future__ import annotations

from fastapi import APIRouter

from ..engine import EngineDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(engine: EngineDep) -> dict[str, str]:
    return {"status": "ok", "generation": engine.generation}
