"""POST /v1/chat/completions: n samples of one prompt in a single batched generation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ..engine import EngineDep
from ..schemas import ChatCompletionRequest

router = APIRouter(prefix="/v1/chat", tags=["chat"])


@router.post("/completions")
async def chat_completions(request: ChatCompletionRequest, engine: EngineDep) -> dict[str, Any]:
    engine.require_model(request.model)
    # Generation blocks for seconds; a worker thread keeps the event loop (health, job polls) responsive.
    return await run_in_threadpool(engine.generator.chat_completion, request)
