"""Counters and gauges in Prometheus text format, served with `/health` by a tiny stdlib HTTP server.

The engine counts through the same object (`metrics.count("charges_written", n)`, `"poison_documents"`); the
AMQP consumer also observes latencies (`metrics.observe("amqp_standing_seconds", s)`, a Prometheus histogram)."""

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
COUNTERS.update({f"amqp_{kind}_requests": f"KAZOO {kind}_req messages of our bookkeeper type answered."
                 for kind in ("update", "standing", "sale", "refund", "collect_recurring")})
COUNTERS.update({
    "amqp_ignored": "KAZOO bookkeeper requests for another bookkeeper type, acknowledged and left alone.",
    "amqp_rejected": "Bookkeeper requests KAZOO's own validation would refuse (dropped, logged).",
    "amqp_failed": "Requests whose handling raised (answered fatal/bookkeeper_fault).",
    "amqp_redelivered": "Requests the broker delivered again (answered from what was written).",
    "amqp_unacked": "Replies and acks lost with their connection (the broker redelivers the request).",
    "amqp_connections": "Connections to the broker opened (the first, then every reconnection).",
})
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
HISTOGRAMS = {f"amqp_{kind}_seconds": f"Seconds from receiving a KAZOO {kind}_req to publishing the reply."
              for kind in ("update", "standing", "sale", "refund", "collect_recurring")}


class Metrics:
    """Thread-safe counters plus gauges read from callbacks at scrape time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self._histograms: dict[str, list] = {}  # name -> [count per bucket..., +Inf count, sum]

    def observe(self, name: str, seconds: float) -> None:
        """Add one observation to histogram `name` (buckets BUCKETS)."""
        with self._lock:
            h = self._histograms.setdefault(name, [0] * (len(BUCKETS) + 1) + [0.0])
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    h[i] += 1
            h[len(BUCKETS)] += 1
            h[-1] += seconds

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
            histograms = {name: list(h) for name, h in self._histograms.items()}
        for name, value in counters.items():
            lines += [f"# HELP {PREFIX}{name}_total {COUNTERS.get(name, name)}",
                      f"# TYPE {PREFIX}{name}_total counter", f"{PREFIX}{name}_total {value}"]
        for name, h in histograms.items():
            lines += [f"# HELP {PREFIX}{name} {HISTOGRAMS.get(name, name)}", f"# TYPE {PREFIX}{name} histogram"]
            lines += [f'{PREFIX}{name}_bucket{{le="{bound:g}"}} {h[i]}' for i, bound in enumerate(BUCKETS)]
            lines += [f'{PREFIX}{name}_bucket{{le="+Inf"}} {h[len(BUCKETS)]}', f"{PREFIX}{name}_sum {h[-1]:g}",
                      f"{PREFIX}{name}_count {h[len(BUCKETS)]}"]
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
