"""Counters and gauges in Prometheus text format, served with `/health` by a tiny stdlib HTTP server.

The engine counts through the same object (`metrics.count("charges_written", n)`, `"poison_documents"`)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

PREFIX = "bookkeeper_"
COUNTERS = {
    "changes_handled": "Changes handed to the engine and checkpointed.",
    "charges_written": "Charge documents written by the engine.",
    "poison_documents": "Malformed documents skipped for quantities.",
    "invalid_documents": "Invalid documents reported (once each): held accounts, settings kept at their last valid.",
    "engine_errors": "Batches or ticks the engine raised on (retried).",
    "feed_errors": "Feed, poll or checkpoint requests that failed (retried).",
    "ticks": "Scheduler ticks run.",
}


class Metrics:
    """Thread-safe counters plus gauges read from callbacks at scrape time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + n

    def value(self, name: str) -> int:
        with self._lock:
            return self._counters.get(name, 0)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self._gauges[name] = (help_text, read)

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4)."""
        lines = []
        with self._lock:
            counters = dict(self._counters)
        for name, value in counters.items():
            lines += [f"# HELP {PREFIX}{name}_total {COUNTERS.get(name, name)}",
                      f"# TYPE {PREFIX}{name}_total counter", f"{PREFIX}{name}_total {value}"]
        for name, (help_text, read) in self._gauges.items():
            try:
                value = float(read())
            except Exception:  # a gauge that cannot be read is left out of this scrape
                log.exception("gauge %s", name)
                continue
            lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} gauge",
                      f"{PREFIX}{name} {value:g}"]
        return "\n".join(lines) + "\n"


class MetricsServer:
    """`GET /metrics` (Prometheus text) and `GET /health` (200 and JSON, 503 when `health()` says not ok)."""

    def __init__(self, metrics: Metrics, port: int, health: Callable[[], dict], host: str = "0.0.0.0"):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] == "/metrics":
                    self._send(200, "text/plain; version=0.0.4; charset=utf-8", outer.metrics.render())
                elif self.path.split("?")[0] == "/health":
                    status = outer.health()
                    self._send(200 if status.get("ok") else 503, "application/json", json.dumps(status))
                else:
                    self._send(404, "text/plain", "not found\n")

            def _send(self, code: int, content_type: str, body: str):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.metrics, self.health = metrics, health
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
