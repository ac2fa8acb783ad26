"""The ASGI app: `/graphql` (queries over POST and GET, GraphiQL for browsers), `/healthz`,
`/static`, behind the gate (hub.gate) that authenticates, rate-limits and bounds every request.

>>> app = create_app(store, keys=keys, owns_store=True)   # doctest: +SKIP
>>> uvicorn.run(app)                                       # doctest: +SKIP

The gate decides who the caller is and what it may read (`Caller`: principal and scope); the
schema's resolvers then pass that scope into every read of the store, so no path reaches past it.
"""

from __future__ import annotations

import gc
import contextlib
import dataclasses
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from connectors.config import ConnectorSet
from connectors.relay import to_bus
from graph.ciphers.keyring import Keyring
from graph.events import EventBus
from graph.scope import Scope
from graph.security import Principal, Role
from graph.shared import LocalGeneration
from graph.store import Store
from graph.credit.service import Credit
from graph.funds.service import Funds
from graph.votes.service import Votes
from hub.auth.authentication import Authenticator, Caller
from hub.auth.tokens import TokenError
from hub.background import Background, Simulation
from hub.credit import credit_service
from hub.funds.page import funds_routes
from hub.gate import Gate, failed_response
from hub.cluster import prefix, turns_of, watch_writes
from hub.limits import Limits, limiter
from hub.map import MapSettings, map_routes
from hub.open311 import open311_routes
from hub.scheduler import Scheduler
from hub.settings import DEFAULT_SHARED_CACHE_SECONDS, Settings
from hub.shared import shared_routes, ship
from hub.sockets import WatchedConnection
from hub.vote import vote_routes
from schema import Context, build_schema
from schema.shared.running import shared_state
from schema.shared.safelist import SafelistGuard

STATIC = Path(__file__).parent / "static"
"""Front-end files the hub serves itself (installed with npm by static/vendor.sh): no page
needs a request that leaves the machine."""


NOBODY = Caller(Principal(Role.OWNER, "-", "anonymous", "-"), Scope.of_codes([]))


ACKNOWLEDGED = cast(UnsetType, UNSET)
"""What `on_ws_connect` returns to acknowledge a connection with no payload."""
PLAIN_HTTP_SUBSCRIPTION = (
    "a subscription needs a stream: open a WebSocket to /graphql (graphql-transport-ws), or POST "
    'with the header Accept: multipart/mixed;subscriptionSpec="1.0"'
)


def _subscribes(query: str | None, operation_name: str | None) -> bool:
    """Whether the operation a request would run is a subscription (parsed only when the
    document mentions one, so other requests pay nothing)."""
    if not query or "subscription" not in query:
        return False
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return False  # the schema's own validation says what is wrong with it
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


MAX_SUBSCRIPTIONS = 20
"""Operations one WebSocket connection may run at once."""


class HubGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with the hub's per-request context: store, caller, fresh loaders.

    Subscriptions run over a WebSocket (graphql-transport-ws) or as a multipart HTTP response
    (`Accept: multipart/mixed;subscriptionSpec="1.0"`, what GraphiQL sends); a plain POST of one
    is refused with a 400 that says so. A WebSocket opened with an Authorization header was
    authenticated by the gate; one opened without (a browser's) must carry the token in its
    `connection_init` payload as `{"Authorization": "Bearer hub1…"}` and is closed with 4403
    when it is missing or refused — and later, when its token is revoked or expires
    (hub.sockets).
    """

    graphql_transport_ws_handler_class = WatchedConnection

    def __init__(
        self,
        store: Store,
        *,
        graphiql: bool,
        introspection: bool,
        limits: Limits,
        connectors: ConnectorSet | None = None,
        bus: EventBus | None = None,
        authenticator: Authenticator | None = None,
        shared_cache_seconds: float = DEFAULT_SHARED_CACHE_SECONDS,
        votes: Votes | None = None,
        funds: Funds | None = None,
        credit: Credit | None = None,
    ) -> None:
        schema = build_schema(
            depth=limits.depth, aliases=limits.aliases, tokens=limits.tokens, introspection=introspection
        )
        # the safelist guard stands where every document enters, whatever the transport
        schema.extensions = (*schema.extensions, SafelistGuard)
        shared_state(schema).cache.seconds = shared_cache_seconds
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
        )
        self.store = store
        self.connectors = connectors
        self.bus = bus
        self.authenticator = authenticator
        self.votes = votes
        self.funds = funds
        self.credit = credit

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed = await super().parse_http_body(request)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if item.protocol == "http" and _subscribes(item.query, item.operation_name):
                raise HTTPException(400, PLAIN_HTTP_SUBSCRIPTION)
        return parsed

    def parse_json(self, data: str | bytes) -> Any:
        # strawberry catches only JSONDecodeError (bytes that are not UTF-8 raise another
        # ValueError) and then calls `.get` on whatever was parsed: `null` or `"x"` gave a 500
        try:
            parsed = self.decode_json(data)
        except ValueError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, 'The request body must be a JSON object: {"query": "...", "variables": {...}}')
        return parsed

    async def render_graphql_ide(self, request: Request) -> Response:
        # strawberry's own page loads GraphiQL from unpkg; this one loads the same files from us
        return HTMLResponse((STATIC / "graphiql.html").read_text(encoding="utf-8"))

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # The gate sets the caller; the only requests it lets through without one are public
        # (the GraphiQL page), and those read with an empty scope: nothing, if anything at all.
        caller: Caller = request.scope.get("state", {}).get("caller", NOBODY)
        reason = request.headers.get("x-hub-reason")
        return Context.create(
            self.store,
            caller.scope,
            principal=caller.principal,
            reason=urllib.parse.unquote(reason)[:200] if reason else None,
            connectors=self.connectors,
            bus=self.bus,
            votes=self.votes,
            funds=self.funds,
            credit=self.credit,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if context.principal is not NOBODY.principal:
            return ACKNOWLEDGED  # the gate authenticated the handshake's header
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        if self.authenticator is None or not isinstance(header, str):
            raise ConnectionRejectionError({"reason": "send the token in connection_init: {\"Authorization\": \"Bearer …\"}"})
        try:
            caller = await self.authenticator.authenticate(header)
        except TokenError as error:
            await self.authenticator.refused(error, client="websocket")
            raise ConnectionRejectionError({"reason": str(error)}) from None
        context.authenticate(caller.principal, caller.scope)
        return ACKNOWLEDGED


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def home(_: Request) -> Response:
    return RedirectResponse(url="/graphql")


def create_app(
    store: Store,
    *,
    keys: Keyring,
    graphiql: bool = True,
    introspection: bool = True,
    owns_store: bool = False,
    limits: Limits | None = None,
    authenticator: Authenticator | None = None,
    connectors: ConnectorSet | None = None,
    run_schedules: bool = False,
    bus: EventBus | None = None,
    background: Settings | None = None,
    simulation: Simulation | None = None,
    shared_cache_seconds: float | None = None,
    map_settings: MapSettings | None = None,
    credit: Credit | None = None,
    freeze_heap: bool = False,
) -> Gate:
    """The hub's app over `store`; it closes the store at shutdown only when `owns_store`.

    `connectors` are shown to the API (admin and city roles); without a launcher of their own
    (a broker's), runs asked for through the API go as asyncio tasks in this server, and with
    `run_schedules` the connectors' schedules run here too (hub.scheduler).

    With `background` settings the server also runs device ingestion (from their MQTT broker,
    if any), the escalation sweep and, given a `simulation`, the demo's simulated devices
    (hub.background), all announcing on `bus`, which the subscriptions listen to.

    `/map` is the street office's map page (hub.map), with `map_settings` or, when not given,
    those of the environment (`HUB_MAP_TILES`); `/vote` is the owners' voting page (hub.vote);
    `/funds` the maintenance-fund page (hub.funds.page), checking heads with `keys`' public key.
    """
    limits = limits or Limits.default()
    bus = bus or EventBus()
    authenticator = authenticator or Authenticator(store, keys)
    votes = Votes(store, keys, bus=bus)
    funds = Funds(store, keys)
    # firms' credit with the configured weights and the plugged readers (hub.credit)
    credit = credit or credit_service(store, background.credit_weights if background is not None else None)
    scheduler: Scheduler | None = None
    running = (
        None
        if background is None
        else Background(store, bus, background, simulation=simulation, votes=votes, funds=funds, credit=credit)
    )
    # the processes of one hub share its Redis, if it has one (hub.cluster)
    redis, keys_at = (background.cluster_redis, prefix(background.queue)) if background is not None else (None, "")
    if connectors is not None and connectors.launcher is None:
        scheduler = Scheduler(
            store, connectors.specs, announce=to_bus(bus), lease_for=connectors.lease_for, turns=turns_of(redis, keys_at)
        )
        connectors = dataclasses.replace(connectors, launcher=scheduler)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await ship(store, graphql.schema)
        if scheduler is not None and run_schedules:
            scheduler.start()
        if running is not None:
            await running.start()
        if freeze_heap:
            # what the server loaded to start (modules, schema, caches) lives as long as it does:
            # moved out of the collector's sight, a full collection no longer rescans it, which
            # was most of a request's p99 (BENCHMARKS.md, dispatch); only for a serving process
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if running is not None:
                await running.stop()
            if scheduler is not None:
                await scheduler.stop()
            if owns_store:
                await store.close()

    graphql = HubGraphQL(
        store,
        graphiql=graphiql,
        introspection=introspection,
        limits=limits,
        connectors=connectors,
        bus=bus,
        authenticator=authenticator,
        votes=votes,
        funds=funds,
        credit=credit,
        shared_cache_seconds=shared_cache_seconds
        if shared_cache_seconds is not None
        else (background.shared_cache_seconds if background is not None else DEFAULT_SHARED_CACHE_SECONDS),
    )
    # cached shared-query answers are checked against the store's write generation (graph.shared)
    generation = running.generation if running is not None else LocalGeneration()
    if running is None:
        watch_writes(store, generation)
    shared_state(graphql.schema).generation = generation
    routes = [
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", home, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *open311_routes(store),
        *shared_routes(graphql),
        *map_routes(map_settings or MapSettings.from_env()),
        *vote_routes(),
        *funds_routes(keys.sm2_public),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={Exception: failed_response})
    return Gate(
        app,
        authenticator,
        limits,
        callers=limiter(limits, redis, keys_at + "rate:token:"),
        strangers=limiter(limits, redis, keys_at + "rate:address:"),
    )
