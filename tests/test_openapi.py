"""The OpenAPI document is complete, and a real node lives up to it: schemathesis generates
requests from the live document (bounded in examples) and checks that no response is a 5xx
and that every response matches its documented status, media type and schema."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.cluster import Cluster


@pytest.fixture(scope="module")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    c = Cluster(tmp_path_factory.mktemp("openapi") / "net", nodes=1).start_all()
    try:
        yield c.urls[0]
    finally:
        c.stop()


@pytest.fixture(scope="module")
def api_schema(live_node: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_node}/openapi.json")


def _untyped_objects(node: Any, path: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        extra = node.get("additionalProperties")
        if node.get("type") == "object" and not node.get("properties") and not extra:
            yield path
        for key, value in node.items():
            yield from _untyped_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _untyped_objects(value, f"{path}[{i}]")


def test_the_document_has_no_untyped_objects_and_every_error_is_problem_json(
    api_schema: Any,
) -> None:
    spec = api_schema.raw_schema
    assert list(_untyped_objects(spec)) == []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "default" in responses, (method, path)
            for status, response in responses.items():
                if status == "default" or status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], path
            assert operation.get("summary") or operation.get("description"), (method, path)


def _has_example(node: Any, components: dict[str, Any], depth: int = 0) -> bool:
    if depth > 16:
        return False
    if isinstance(node, dict):
        if "example" in node or "examples" in node:
            return True
        if "$ref" in node:
            return _has_example(components[node["$ref"].split("/")[-1]], components, depth + 1)
        return any(_has_example(v, components, depth + 1) for v in node.values())
    if isinstance(node, list):
        return any(_has_example(v, components, depth + 1) for v in node)
    return False


def test_every_request_and_success_response_has_an_example(api_schema: Any) -> None:
    spec = api_schema.raw_schema
    components = spec["components"]["schemas"]
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            parts = [("request", operation.get("requestBody"))] + [
                (status, response)
                for status, response in operation["responses"].items()
                if status.startswith("2") and status != "204"  # 204: no content
            ]
            missing += [
                f"{method} {path} {part}"
                for part, doc in parts
                if doc is not None and not _has_example(doc, components)
            ]
    assert missing == []


def test_the_live_node_answers_every_generated_request_as_documented(api_schema: Any) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9 yet: drive Hypothesis here
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(operation.as_strategy())
        def exercise(case: Any) -> None:
            # A schema cannot say "signed by a registered key": a well-formed but unsigned or
            # wrongly signed request is refused (400/401/403), which this check would flag.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            exercise()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # collect them all: one report for the whole document
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
