"""FastAPI application factory for a validator node."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import (
    case_routes,
    chain_routes,
    log_routes,
    operations,
    problems,
    resident_routes,
    tx_routes,
)
from api.auth import NonceCache
from node.service import Node


def create_app(node: Node) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(title=f"Shanhe node {node.signer.name}", version="0.1.0", lifespan=lifespan)
    app.state.node = node
    app.state.engine = node.engine
    app.state.nonces = NonceCache()
    problems.install(app)
    app.include_router(chain_routes.router)
    app.include_router(log_routes.router)
    app.include_router(tx_routes.router)
    app.include_router(tx_routes.p2p)
    app.include_router(resident_routes.router)
    app.include_router(case_routes.router)
    operations.install(app, node.config.reads_per_client)

    return app
