"""FastAPI application factory."""

from fastapi import FastAPI

from api import dev_routes, log_routes, problems
from node.devnode import DevNode


def create_dev_app(node: DevNode) -> FastAPI:
    app = FastAPI(title="Shanhe node (development)", version="0.1.0")
    app.state.node = node
    app.state.engine = node.engine
    problems.install(app)
    app.include_router(log_routes.router)
    app.include_router(dev_routes.router)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
