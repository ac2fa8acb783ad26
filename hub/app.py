"""The ASGI app: `/graphql` (queries over POST and GET, GraphiQL for browsers), `/healthz`.

>>> app = create_app(store, owns_store=True)   # doctest: +SKIP
>>> uvicorn.run(app)                           # doctest: +SKIP

Who may read what is decided once per request by `scope_for` (today everybody reads the whole
tree; the authentication layer will map a request's principal to its scope here), and the
schema's resolvers then pass that scope into every read of the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from graph.scope import Scope
from graph.store import Store
from schema import Context, build_schema

STATIC = Path(__file__).parent / "static"
"""Front-end files the hub serves itself (installed with npm by static/vendor.sh): no page
needs a request that leaves the machine."""

ScopeFor = Callable[[HTTPConnection], Awaitable[Scope]]
"""Decides what the caller of a request may read."""


async def everything(_: HTTPConnection) -> Scope:
    """Until authentication lands, every caller reads the whole tree."""
    return Scope.everything()


class HubGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with the hub's per-request context: store, scope, fresh loaders."""

    def __init__(self, store: Store, scope_for: ScopeFor, *, graphiql: bool) -> None:
        super().__init__(build_schema(), graphql_ide="graphiql" if graphiql else None)
        self.store = store
        self.scope_for = scope_for

    async def render_graphql_ide(self, request: Request) -> Response:
        # strawberry's own page loads GraphiQL from unpkg; this one loads the same files from us
        return HTMLResponse((STATIC / "graphiql.html").read_text(encoding="utf-8"))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context.create(self.store, await self.scope_for(request))


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def home(_: Request) -> Response:
    return RedirectResponse(url="/graphql")


def create_app(
    store: Store,
    *,
    graphiql: bool = True,
    owns_store: bool = False,
    scope_for: ScopeFor = everything,
) -> Starlette:
    """The hub's app over `store`; it closes the store at shutdown only when `owns_store`."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owns_store:
                await store.close()

    routes = [
        Route("/graphql", HubGraphQL(store, scope_for, graphiql=graphiql)),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", home, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
