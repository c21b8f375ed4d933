"""FastAPI application factory for a validator node."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import operations, problems
from api.auth import NonceCache
from api.authz import REFUSAL_BURST, REFUSALS_PER_KEY
from api.routers import admin, agency, auditor, peers, proofs, resident, rights
from api.submit_path import SubmitFastPath, submit_route
from node.ratelimit import RateLimiter
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
    app.state.key_reads = RateLimiter.per_second(node.config.reads_per_key)
    app.state.key_refusals = RateLimiter(REFUSALS_PER_KEY, REFUSAL_BURST)
    problems.install(app)
    for router in (agency.router, proofs.router, resident.router, rights.router, auditor.router,
                   admin.router, peers.router):  # fmt: skip
        app.include_router(router)
    app.add_middleware(SubmitFastPath, node=node, route=submit_route())
    # outermost: limits apply first
    operations.install(
        app,
        node.config.reads_per_client,
        node.check_envelope_headers,
        operations.signed_check(node),
    )

    return app
