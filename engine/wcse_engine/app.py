"""The HTTP app: the subset of the OpenAI API that wcse uses, one router per resource, OpenAI-shaped errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .engine import Engine
from .errors import install_error_handlers
from .routers import chat, files, fine_tuning, health, models


def create_app(engine: Engine) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine.job_manager.start()
        yield
        engine.job_manager.stop()

    # strict_content_type=False: a JSON body is read as JSON even when the client sent no content-type.
    app = FastAPI(title="wcse engine", lifespan=lifespan, strict_content_type=False)
    app.state.engine = engine
    install_error_handlers(app)
    for router in (health.router, models.router, chat.router, files.router, fine_tuning.router):
        app.include_router(router)
    return app
