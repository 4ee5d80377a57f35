"""The HTTP app: the subset of the OpenAI API that wcse uses, one router per resource, OpenAI-shaped errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .engine import Engine
from .errors import install_error_handlers
from .routers import chat, files, fine_tuning, health, models
from .security import SecurityMiddleware, SecurityPolicy


def create_app(engine: Engine, policy: SecurityPolicy | None = None) -> FastAPI:
    """The app; `policy` (default: from the environment, see security.py) refuses cross-site requests."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine.job_manager.start()
        yield
        engine.job_manager.stop()
        engine.stop_serving()

    # strict_content_type=False: FastAPI's own check is off; SecurityMiddleware refuses any body that is not
    # application/json (or a multipart upload) with a 415 before a route sees it.
    app = FastAPI(title="wcse engine", lifespan=lifespan, strict_content_type=False)
    app.state.engine = engine
    app.add_middleware(SecurityMiddleware, policy=policy or SecurityPolicy.from_env())
    install_error_handlers(app)
    for router in (health.router, models.router, chat.router, files.router, fine_tuning.router):
        app.include_router(router)
    return app
