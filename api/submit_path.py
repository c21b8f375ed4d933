"""``POST /v1/tx``, the busiest endpoint, without FastAPI's per-request machinery.

Around the ~0.1 ms a node spends admitting a submitted transaction, routing, dependency
solving and the request and response models cost another ~0.2 ms: a fifth of the whole
cluster's CPU under load (docs/benchmarks.md). A well-formed submission (JSON, exactly
``{"body": {...}, "signature": "..."}``) goes straight to ``agency.accept``, the route's own
code, and gets the same answers; anything else goes on to the FastAPI route, so its errors
stay exactly as documented. The route remains what OpenAPI describes. This sits inside
``operations.Accounting``: body and JSON limits and request metrics apply as to any route,
and the body arrives decoded (once, by the bounded decoder).
"""

from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api.operations import CLIENT_JSON, JSON_VALUE, is_json, replay_body
from api.problems import Problem, problem_response
from api.routers import agency
from node.service import Node
from signing import bounded_json

SUBMIT_PATH = "/v1/tx"


def submit_route() -> BaseRoute:
    """The FastAPI route this path stands in for."""
    for route in agency.router.routes:
        if getattr(route, "path", None) == SUBMIT_PATH and "POST" in getattr(route, "methods", ()):
            return route
    raise LookupError(f"no POST {SUBMIT_PATH} route")


class SubmitFastPath:
    def __init__(self, app: ASGIApp, node: Node, route: BaseRoute) -> None:
        self.app, self.node, self.route = app, node, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != SUBMIT_PATH
            or scope["method"] != "POST"
            or not is_json(_content_type(scope))
        ):
            await self.app(scope, receive, send)
            return
        if JSON_VALUE in scope:
            value = scope[JSON_VALUE]
        else:  # not behind operations.Accounting (tests): decode with the same limits
            body, receive = await _buffer(receive)
            value = bounded_json.decode(body, CLIENT_JSON)
        raw = _transaction(value)
        if raw is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # what the request metrics are labelled by
        try:
            out = agency.accept(self.node, raw)
            response = JSONResponse(out.model_dump(), status_code=202)
        except Problem as exc:
            response = problem_response(exc.status, exc.kind, exc.title, exc.detail, **exc.extra)
        await response(scope, receive, send)


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value)
    return b""


def _transaction(raw: Any) -> dict[str, Any] | None:
    """The decoded body if it has the transaction's shape exactly (what the route's model
    would pass unchanged), else None."""
    if (
        type(raw) is dict
        and len(raw) == 2
        and type(raw.get("body")) is dict
        and type(raw.get("signature")) is str
    ):
        return raw
    return None


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (``operations.Accounting`` has bounded it), and a channel that hands it
    on again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, replay_body(body, receive)
