"""A lean HTTP/1.1 keep-alive client for load: POSTs of ready-made bodies on raw asyncio streams.

The bench drives `hub serve` from the same two cores the server runs on, so what the client
spends per request is taken from the server: httpx spends about as much CPU on a request as the
server spends answering `{ me { role } }`. This client writes each request as one buffer and
reads the status line, the headers it needs (Content-Length, or chunked transfer) and the body;
nothing else (no redirects, no cookies, no TLS, no compression). Every figure and its baseline
are taken with it alike.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class WireError(RuntimeError):
    """The server answered with something this client does not read, or closed the connection."""


class Wire:
    """One keep-alive connection to `base` (http://host:port)."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"{base!r}: the bench client speaks plain http://host:port")
        self.host = parts.hostname
        self.port = parts.port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __aenter__(self) -> Wire:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST `body` to `path`; the status and the response body."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        try:
            status_and_headers = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            await self.close()
            raise WireError("the server closed the connection before answering") from error
        lines = status_and_headers.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            answer = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            answer = await _chunked(reader)
        else:
            await self.close()
            raise WireError(f"an answer with neither Content-Length nor chunked transfer: {lines[0]}")
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, answer


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent by the hub
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
