"""The hooks' HTTP server, built for slow and hostile clients: asyncio reads each request whole (parsed by h11)
within a time limit for its request line and headers and another for its body, and only then hands it to a small
pool of threads that run the WSGI app (the Flask app of `web`). A slow client costs one coroutine and its
buffers, never a worker thread, so hundreds of them delay nobody else's notification; one that is too slow gets
408 and is disconnected. Each connection carries one request (`Connection: close`). Stoppable from another
thread.
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import h11

log = logging.getLogger(__name__)

READ = 64 * 1024


class HookServer:
    """A WSGI `app` on (host, port; 0 = a free port), served from a background thread until `stop()`."""

    def __init__(
        self,
        app,
        host: str,
        port: int,
        *,
        max_body: int,
        max_headers: int,
        header_timeout: float,
        body_timeout: float,
        threads: int,
        max_connections: int,
    ):
        self.app, self.max_body, self.max_headers = app, max_body, max_headers
        self.header_timeout, self.body_timeout, self.max_connections = header_timeout, body_timeout, max_connections
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=1024)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="hooks-app")
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="hooks-http", daemon=True)
        self.thread.start()
        ready.wait()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting, let the requests in hand finish (up to the time limits), release the port."""
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self.thread.join(timeout=self.header_timeout + self.body_timeout + 10)
        self.pool.shutdown(wait=True)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve(ready))
        finally:
            self._loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self.sock, limit=READ)
        ready.set()
        async with server:
            await self._stopped.wait()
            server.close()
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.connections > self.max_connections:
                return
            conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_headers)
            try:
                answer = await self._answer(conn, reader, writer)
            except h11.RemoteProtocolError:
                answer = _plain(400, b"malformed request\n")
            except TimeoutError:
                answer = _plain(408, b"request too slow\n")
            except (ConnectionError, OSError):
                return
            await asyncio.wait_for(self._send(conn, writer, *answer), self.header_timeout)
        except (TimeoutError, ConnectionError, OSError, h11.LocalProtocolError):
            pass
        finally:
            self.connections -= 1
            writer.close()

    async def _answer(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        """Read one request within the time limits; the app's (status, headers, body)."""
        async with asyncio.timeout(self.header_timeout):
            request = await _next(conn, reader)
        if not isinstance(request, h11.Request):
            raise h11.RemoteProtocolError("no request")
        length = dict(request.headers).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return _plain(413, b"request too large\n")
        body = bytearray()
        async with asyncio.timeout(self.body_timeout):
            while True:
                event = await _next(conn, reader)
                if isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > self.max_body:
                        return _plain(413, b"request too large\n")
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise h11.RemoteProtocolError("unexpected end of the request")
        peer = writer.get_extra_info("peername") or ("", 0)
        environ = self._environ(request, bytes(body), peer)
        return await asyncio.get_running_loop().run_in_executor(self.pool, _call, self.app, environ)

    def _environ(self, request: h11.Request, body: bytes, peer) -> dict:
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        environ = {
            "REQUEST_METHOD": request.method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("latin-1"),
            "REMOTE_ADDR": str(peer[0]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in request.headers:
            key = name.decode("latin-1").upper().replace("-", "_")
            text = value.decode("latin-1")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = text
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = f"{environ[f'HTTP_{key}']},{text}" if f"HTTP_{key}" in environ else text
        return environ

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "connection", "transfer-encoding")]
        kept += [("Content-Length", str(len(body))), ("Connection", "close")]
        writer.write(conn.send(h11.Response(status_code=status, headers=kept)))
        writer.write(conn.send(h11.Data(data=body)) if body else b"")
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()


async def _next(conn: h11.Connection, reader: asyncio.StreamReader):
    """The connection's next h11 event, reading as needed."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        data = await reader.read(READ)
        conn.receive_data(data)
        if not data and conn.their_state is not h11.DONE:
            raise ConnectionError("closed by the client")


def _plain(status: int, text: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "text/plain")], text


def _call(app, environ: dict) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run the WSGI app on one request; its status, headers and whole body."""
    started: dict = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = int(status.split(" ", 1)[0]), list(headers)

    try:
        chunks = app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
    except Exception:  # the Flask app answers its own errors; this is a bug in it
        log.exception("hooks: the app raised on %s", environ.get("PATH_INFO"))
        return _plain(500, b"internal error\n")
    return started["status"], started["headers"], body
