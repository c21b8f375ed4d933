"""RFC 9457 problem+json for every error, with a stable ``type`` URI per reason."""

import asyncio
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://shanhe.example/problems/"
MEDIA_TYPE = "application/problem+json"


class ProblemDoc(BaseModel):
    """RFC 9457 problem details, as every error is answered (``application/problem+json``)."""

    type: str = Field(examples=["https://shanhe.example/problems/forbidden"])
    title: str = Field(examples=["Not allowed"])
    status: int = Field(examples=[403])
    detail: str | None = Field(default=None, examples=["not_party"])


SIGNED_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDoc, "description": text, "content": {MEDIA_TYPE: {}}}
    for status, text in (
        (401, "no valid, fresh, unused RFC 9421 signature by a registered key"),
        (403, "the authorization matrix refuses it (recorded in the access log)"),
        (404, "no such record"),
        (410, "the resident was erased (PIPL art. 47): nothing about them is served"),
    )
}
"""The refusals every signed read may answer."""

CASE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{status: doc for status, doc in SIGNED_RESPONSES.items() if status != 404},
    403: {
        **SIGNED_RESPONSES[403],
        "description": "the authorization matrix refuses it (recorded in the access log); a "
        "case id that does not exist is answered the same, so ids cannot be probed",
    },
}
"""The refusals of a case's endpoints: no 404, an unknown case is a 403 like another's."""


class Problem(Exception):
    """Raised at the HTTP edge; rendered as problem+json."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str = "",
        *,
        not_before: float | None = None,
        **extra: Any,
    ):
        super().__init__(detail or title)
        self.status, self.kind, self.title, self.detail, self.extra = (
            status,
            kind,
            title,
            detail,
            extra,
        )
        self.not_before = not_before
        """``time.monotonic()`` before which the answer is not sent (refusals: equal timing)."""


def problem_response(
    status: int, kind: str, title: str, detail: str = "", **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"X-Problem-Type": kind}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _document_problems(app: FastAPI) -> None:
    """Every error is problem+json: say so in the OpenAPI document (FastAPI would describe its
    own validation error shape, which this API never sends) and add a ``default`` response."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["ProblemDoc"] = ProblemDoc.model_json_schema()
        problem = {"content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDoc"}}}}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status.startswith(("4", "5")):
                        response.update(problem)
                        if status == "422":
                            response["description"] = "a parameter or the body is not valid"
                responses["default"] = {"description": "any other error", **problem}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document_problems(app)

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        if exc.not_before is not None and (wait := exc.not_before - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        return problem_response(exc.status, exc.kind, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem_response(
            422, "invalid-request", "Request is not valid", "see errors", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {400: "malformed-body", 404: "not-found", 405: "method-not-allowed"}
        kind = kinds.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(500, "internal-error", "Internal error")
