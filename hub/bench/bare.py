"""A bare Starlette app answering POST /graphql with a fixed JSON body: the floor under the hub's
own request rate. Run as `python -m hub.bench.bare BODY_FILE PORT`."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_bare_app(body: bytes) -> Starlette:
    async def answer(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/graphql", answer, methods=["POST"]), Route("/healthz", health)])


if __name__ == "__main__":
    uvicorn.run(
        create_bare_app(Path(sys.argv[1]).read_bytes()),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_level="warning",
        access_log=False,
    )
