"""Two ways to send the registry's statements: the `falkordb` async client and the official
`neo4j` async driver. Both answer rows as tuples in the statement's RETURN order; both turn
"cannot reach the server" into one `Unreachable` line and a refused statement into a
`StoreError` naming the statement."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from graph.cypher.statements import Statement
from graph.errors import StoreError
from graph.errors import Unreachable

_CHECK = "check --db or $HUB_DB"
QUERY_SECONDS = 600.0
"""How long one statement may run on FalkorDB before the hub gives up on it (redis-py's own
default, 5 s, failed a read of every place of the small demo city and would fail a city's roll-up
recount); a server that does not answer at all is found by the 10 s connect timeout."""


@dataclass(frozen=True, slots=True)
class GraphUrl:
    """A graph store URL: `falkordb://[user:password@]host:port/graph`, `bolt://` or `neo4j://`
    `user:password@host:port[/database]`."""

    scheme: str
    host: str
    port: int
    graph: str
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, text: str) -> GraphUrl:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("falkordb", "bolt", "neo4j", "bolt+s", "neo4j+s", "bolt+ssc", "neo4j+ssc"):
            raise StoreError(f"{text!r} is not a graph store URL (falkordb://, bolt:// or neo4j://)")
        default_port = 6379 if scheme == "falkordb" else 7687
        try:
            port = parts.port or default_port
        except ValueError:
            raise StoreError(f"the graph store URL {cls.shown_text(text)} has a port that is not a number") from None
        graph = parts.path.strip("/")
        if scheme == "falkordb" and not graph:
            raise StoreError(f"the graph store URL {cls.shown_text(text)} names no graph: add /NAME (falkordb://host:port/hub)")
        if "/" in graph:
            raise StoreError(f"the graph store URL {cls.shown_text(text)} names a graph with a '/' in it")
        return cls(
            scheme=scheme,
            host=parts.hostname or "127.0.0.1",
            port=port,
            graph=graph or "neo4j",
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @staticmethod
    def shown_text(text: str) -> str:
        parts = urlsplit(text)
        if parts.password:
            return text.replace(f":{parts.password}@", ":***@", 1)
        return text

    def shown(self) -> str:
        auth = f"{self.user}:***@" if self.user else ""
        return f"{self.scheme}://{auth}{self.host}:{self.port}/{self.graph}"


class Transport(Protocol):
    url: GraphUrl

    async def run(self, statement: Statement, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement (atomic on its own) and return its rows."""

    async def drop(self) -> None:
        """Delete the whole graph (tests and `hub db reset`)."""

    async def close(self) -> None: ...


class FalkorTransport:
    """FalkorDB over its own protocol (RESP), through `falkordb.asyncio`."""

    def __init__(self, url: GraphUrl, max_connections: int = 16) -> None:
        from falkordb.asyncio import FalkorDB
        from redis.asyncio import BlockingConnectionPool

        self.url = url
        pool = BlockingConnectionPool(
            host=url.host, port=url.port, username=url.user, password=url.password,
            max_connections=max_connections, timeout=30, decode_responses=True,
            socket_connect_timeout=10, socket_timeout=QUERY_SECONDS,
        )
        self.pool = pool
        import redis.exceptions

        try:  # the client asks the server (synchronously) whether it is a cluster
            self.client = FalkorDB(connection_pool=pool)
        except (redis.exceptions.ConnectionError, OSError) as error:
            raise self.unreachable(error) from None
        self.graph = self.client.select_graph(url.graph)

    def unreachable(self, error: BaseException) -> Unreachable:
        return Unreachable(
            f"cannot reach the FalkorDB server at {self.url.host}:{self.url.port}: "
            f"{_words(error).rstrip('.')}; is it running (hub graph serve)? {_CHECK}"
        )

    async def run(self, statement: Statement, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        import redis.exceptions
        from falkordb.exceptions import SchemaVersionMismatchException

        for attempt in range(3):
            try:
                if statement.write:
                    result = await self.graph.query(statement.text, params or {})
                else:
                    result = await self.graph.ro_query(statement.text, params or {})
                return [tuple(row) for row in result.result_set]
            except SchemaVersionMismatchException:
                if attempt == 2:
                    raise
            except redis.exceptions.TimeoutError:
                raise StoreError(
                    f"the FalkorDB server at {self.url.host}:{self.url.port} did not answer {statement.name} "
                    f"within {QUERY_SECONDS:.0f} s"
                ) from None
            except (redis.exceptions.ConnectionError, OSError, asyncio.TimeoutError) as error:
                raise self.unreachable(error) from None
            except redis.exceptions.ResponseError as error:
                raise StoreError(f"the graph store refused {statement.name}: {_words(error)}") from None
        raise AssertionError("unreachable")

    async def drop(self) -> None:
        import redis.exceptions

        try:
            await self.graph.delete()
        except redis.exceptions.ResponseError:
            pass  # no such graph: nothing to delete

    async def close(self) -> None:
        await self.client.aclose()
        await self.pool.disconnect()


class BoltTransport:
    """Neo4j 5 through the official async driver; `neo4j://` routes in a cluster."""

    def __init__(self, url: GraphUrl) -> None:
        import neo4j

        self.url = url
        auth = (url.user, url.password or "") if url.user else None
        self.driver = neo4j.AsyncGraphDatabase.driver(f"{url.scheme}://{url.host}:{url.port}", auth=auth)
        self.database = url.graph

    async def run(self, statement: Statement, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        import neo4j
        import neo4j.exceptions

        try:
            records, _, _ = await self.driver.execute_query(
                statement.text,
                params or {},
                database_=self.database,
                routing_=neo4j.RoutingControl.WRITE if statement.write else neo4j.RoutingControl.READ,
            )
        except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.AuthError, OSError) as error:
            raise Unreachable(
                f"cannot reach the Neo4j server at {self.url.host}:{self.url.port}: {_words(error)}; {_CHECK}"
            ) from None
        except neo4j.exceptions.Neo4jError as error:
            raise StoreError(f"the graph store refused {statement.name}: {_words(error)}") from None
        return [tuple(record.values()) for record in records]

    async def drop(self) -> None:
        from graph.cypher.schema import DROP

        await self.run(DROP)

    async def close(self) -> None:
        await self.driver.close()


def _words(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def connect(url: str) -> Transport:
    """The transport a graph store URL names."""
    parsed = GraphUrl.parse(url)
    if parsed.scheme == "falkordb":
        return FalkorTransport(parsed)
    return BoltTransport(parsed)
