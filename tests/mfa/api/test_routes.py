"""One definition per endpoint (issue 12): every path and method is declared once, the OpenAPI
document is generated from those declarations, and every ``/v1`` route is served by
``LeanRoute`` without FastAPI's dependency solver, with FastAPI's answers.

The first test failed before: begin, the sink read and verify were declared twice, as a
Starlette "fast route" with its own body parser and as an ``APIRoute`` kept for the document.
"""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, field_validator

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

from mfa.api import lean_route
from mfa.api.lean_route import LeanRoute
from mfa.api.problems import install_problem_handlers


def _declared(routes: list[Any]) -> Iterator[Any]:
    """Every route object of the app, inside included routers too."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _declared(nested.routes)
        else:
            yield route


def _api_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in _declared(app.routes) if isinstance(r, APIRoute)]


def test_no_path_and_method_is_declared_twice(app: FastAPI) -> None:
    declared = Counter(
        (route.path, method)
        for route in _declared(app.routes)
        for method in getattr(route, "methods", None) or ()
    )
    twice = sorted(key for key, count in declared.items() if count > 1)
    assert not twice, f"declared more than once: {twice}"


def test_every_v1_route_is_lean_and_served_without_the_dependency_solver(app: FastAPI) -> None:
    """A ``/v1`` route added with a header parameter or a ``Depends`` chain would silently
    go back to FastAPI's solver, and the sign-in path would lose its speed."""
    routes = [r for r in _api_routes(app) if r.path.startswith("/v1/")]
    assert len(routes) >= 15
    slow = [f"{sorted(r.methods)} {r.path}" for r in routes if not _lean(r)]
    assert not slow, f"served by FastAPI's dependency solver: {slow}"


def _lean(route: APIRoute) -> bool:
    return isinstance(route, LeanRoute) and route.lean


def test_the_openapi_document_lists_every_route_with_its_request_schema(
    client: TestClient, app: FastAPI
) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = spec["paths"].get(route.path, {}).get(method.lower())
            assert operation is not None, f"{method} {route.path} is not documented"
            documented = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
            for field in route.dependant.path_params:
                assert ("path", field.alias) in documented, (route.path, field.alias)
            for field in route.dependant.query_params:
                if field.field_info.include_in_schema:
                    assert ("query", field.alias) in documented, (route.path, field.alias)
            if route.body_field is None:
                assert "requestBody" not in operation, f"{method} {route.path}"
                continue
            body = operation["requestBody"]
            assert body["required"] is True
            ref = body["content"]["application/json"]["schema"]["$ref"]
            model = route.body_field.field_info.annotation
            assert ref == f"#/components/schemas/{model.__name__}"
            assert schemas[model.__name__]["properties"]


def test_the_sign_in_path_is_documented_as_before(client: TestClient) -> None:
    """The bodies, parameters and answers clients generate code from."""
    spec = client.get("/openapi.json").json()
    verify = spec["paths"]["/v1/auth/{auth_id}/verify"]["post"]
    (auth_id,) = verify["parameters"]
    assert auth_id["in"] == "path" and auth_id["required"] is True
    assert auth_id["schema"]["maxLength"] == 160 and "pattern" in auth_id["schema"]
    assert verify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/VerdictPublic"
    )
    begin = spec["paths"]["/v1/auth"]["post"]
    assert set(begin["responses"]) >= {"201", "401", "403", "422", "429", "502", "503"}
    sink = {p["name"]: p for p in spec["paths"]["/v1/sink/messages"]["get"]["parameters"]}
    assert set(sink) == {"to", "limit"}  # ``local`` is for the servers' fan-out only
    assert sink["to"]["required"] is True and sink["to"]["schema"]["maxLength"] == 512
    assert sink["limit"]["required"] is False


# --- LeanRoute on its own: FastAPI's answers, without FastAPI's solver ---------------------


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int = 1


class ItemPublic(BaseModel):
    name: str
    size: int
    note: str | None = None


class Watched(BaseModel):
    """Records the thread its body was validated on."""

    text: str

    @field_validator("text")
    @classmethod
    def _where(cls, value: str) -> str:
        THREADS.append(threading.current_thread())
        return value


THREADS: list[threading.Thread] = []


async def _tag(request: Request) -> str:
    return str(request.app.state.tag)


async def _session() -> AsyncIterator[str]:
    yield "opened"


Tag = Annotated[str, Depends(_tag)]


def _lean_app() -> FastAPI:
    router = APIRouter(prefix="/items", route_class=LeanRoute)

    @router.post("/{item_id}", status_code=201, response_model=ItemPublic)
    async def create(item_id: str, body: Item, tag: Tag, limit: int = 5) -> dict[str, Any]:
        return {"name": f"{tag}:{item_id}:{body.name}", "size": body.size * limit, "x": 1}

    @router.get("/search", response_model=list[ItemPublic], response_model_exclude_none=True)
    async def search(q: Annotated[str, Query(max_length=5)]) -> list[dict[str, Any]]:
        return [{"name": q, "size": 0, "note": None}]

    @router.get("/header")
    async def header(x_token: Annotated[str, Header()]) -> dict[str, str]:
        return {"token": x_token}

    @router.get("/session")
    async def session(value: Annotated[str, Depends(_session)]) -> dict[str, str]:
        return {"session": value}

    @router.delete("/{item_id}", status_code=204, response_class=Response)
    async def delete(item_id: str) -> Response:
        return Response(status_code=204)

    @router.post("/watched/text")
    async def watched(body: Watched) -> dict[str, int]:
        return {"length": len(body.text)}

    app = FastAPI()
    app.state.tag = "t"
    install_problem_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture
def lean() -> Iterator[TestClient]:
    with TestClient(_lean_app(), raise_server_exceptions=False) as client:
        yield client


def test_a_plain_route_answers_as_fastapi_would(lean: TestClient) -> None:
    answer = lean.post("/items/a?limit=3", json={"name": "n", "size": 2})
    assert answer.status_code == 201
    assert answer.json() == {"name": "t:a:n", "size": 6, "note": None}  # the response model
    assert lean.get("/items/search", params={"q": "abc"}).json() == [{"name": "abc", "size": 0}]
    deleted = lean.delete("/items/a")
    assert deleted.status_code == 204 and deleted.content == b""


def _fields(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in answer.json()["errors"]]


def test_bad_input_is_a_422_naming_the_field(lean: TestClient) -> None:
    assert _fields(lean.post("/items/a", json={"name": "n", "sise": 2})) == ["sise"]
    assert _fields(lean.post("/items/a", json={"size": "big"})) == ["name", "size"]
    assert _fields(lean.post("/items/a?limit=many", json={"name": "n"})) == ["limit (query)"]
    assert _fields(lean.get("/items/search")) == ["q (query)"]
    assert _fields(lean.get("/items/search", params={"q": "toolong"})) == ["q (query)"]
    json_header = {"Content-Type": "application/json"}
    assert _fields(lean.post("/items/a", content=b"{not json", headers=json_header)) == ["body"]
    assert _fields(lean.post("/items/a", content=b"", headers=json_header)) == ["body"]


def test_a_body_that_is_not_declared_json_is_refused_like_fastapi_does(lean: TestClient) -> None:
    form = lean.post("/items/a", content=b'{"name": "n"}', headers={"Content-Type": "text/plain"})
    assert _fields(form) == ["body"]
    assert "Content-Type: application/json" in form.json()["detail"]
    vendor = {"Content-Type": "application/vnd.api+json"}
    assert lean.post("/items/a", content=b'{"name": "n"}', headers=vendor).status_code == 201


def test_what_only_fastapi_can_solve_is_solved_by_fastapi(lean: TestClient) -> None:
    app: Any = lean.app
    routes = {r.path: r for r in _declared(app.routes) if isinstance(r, LeanRoute)}
    assert routes["/items/{item_id}"].lean and routes["/items/search"].lean
    assert not routes["/items/header"].lean and not routes["/items/session"].lean
    assert lean.get("/items/header", headers={"X-Token": "k"}).json() == {"token": "k"}
    assert _fields(lean.get("/items/header")) == ["x-token (header)"]
    assert lean.get("/items/session").json() == {"session": "opened"}


def test_a_large_body_is_validated_off_the_event_loop(lean: TestClient) -> None:
    THREADS.clear()
    assert lean.post("/items/watched/text", json={"text": "short"}).json() == {"length": 5}
    large = "x" * (lean_route.OFF_LOOP_BODY + 1)
    assert lean.post("/items/watched/text", json={"text": large}).json() == {"length": len(large)}
    small_thread, large_thread = THREADS
    assert large_thread is not small_thread  # a worker thread, not the loop's
