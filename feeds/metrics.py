"""The daemon's counters and gauges (prometheus_client), served with `/health` on one small HTTP server.

The engine counts through the same object (`metrics.count("charges_written", n)`, `"poison_documents"`); gauges are
callbacks read at scrape time; the AMQP consumer observes latencies (`metrics.observe("amqp_standing_seconds", s)`).
Each `Metrics` has its own registry, so several daemons in one process (tests) never share a series."""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.request
from collections.abc import Callable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)

PREFIX = "bookkeeper_"
COUNTERS = {
    "changes_handled": "Changes handed to the engine and checkpointed.",
    "charges_written": "Charge documents written by the engine.",
    "billing_states_rebuilt": "Billing states rebuilt from the ledger: missing, or older than the ledger.",
    "poison_documents": "Malformed documents skipped for quantities.",
    "invalid_documents": "Invalid documents reported (once each): held accounts, settings kept at their last valid.",
    "engine_errors": "Batches or ticks the engine raised on (retried).",
    "feed_errors": "Feed, poll or checkpoint requests that failed (retried).",
    "feed_rechecks": "Drains queued again after a notice, on a cluster without _db_updates (a copy may lag).",
    "ticks": "Scheduler ticks run.",
    "couch_outages": "Times CouchDB stopped answering the daemon's rounds (logged once each).",
    "couch_recoveries": "Times CouchDB answered again after an outage (logged; every tailed database caught up).",
}
COUNTERS.update(
    {
        f"amqp_{kind}_requests": f"KAZOO {kind}_req messages of our bookkeeper type answered."
        for kind in ("update", "standing", "sale", "refund", "collect_recurring")
    }
)
COUNTERS.update(
    {
        "amqp_ignored": "KAZOO bookkeeper requests for another bookkeeper type, acknowledged and left alone.",
        "amqp_rejected": "Bookkeeper requests KAZOO's own validation would refuse (dropped, logged).",
        "amqp_failed": "Requests whose handling raised (answered fatal/bookkeeper_fault).",
        "amqp_redelivered": "Requests the broker delivered again (answered from what was written).",
        "amqp_unacked": "Replies and acks lost with their connection (the broker redelivers the request).",
        "amqp_connections": "Connections to the broker opened (the first, then every reconnection).",
    }
)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
HISTOGRAMS = {
    f"amqp_{kind}_seconds": f"Seconds from receiving a KAZOO {kind}_req to publishing the reply."
    for kind in ("update", "standing", "sale", "refund", "collect_recurring")
}


class Metrics:
    """Counters (created on first use; the known ones at 0 from the start) and gauges read from callbacks."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._counters: dict[str, Counter] = {}
        for name in COUNTERS:
            self._counter(name)
        self._histograms = {
            name: Histogram(f"{PREFIX}{name}", text, buckets=BUCKETS, registry=self.registry)
            for name, text in HISTOGRAMS.items()
        }

    def _counter(self, name: str) -> Counter:
        with self._lock:
            if name not in self._counters:
                self._counters[name] = Counter(f"{PREFIX}{name}", COUNTERS.get(name, name), registry=self.registry)
            return self._counters[name]

    def observe(self, name: str, seconds: float) -> None:
        """Add one observation to histogram `name` (one of HISTOGRAMS)."""
        self._histograms[name].observe(seconds)

    def count(self, name: str, n: int = 1) -> None:
        self._counter(name).inc(n)

    def value(self, name: str) -> int:
        value = self.registry.get_sample_value(f"{PREFIX}{name}_total")
        return int(value or 0)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A gauge whose value is `read()` at each scrape (NaN, logged, when it cannot be read)."""
        Gauge(f"{PREFIX}{name}", help_text, registry=self.registry).set_function(lambda: _read(name, read))

    def labeled(
        self,
        name: str,
        help_text: str,
        labels: tuple[str, ...],
        read: Callable[[], list[tuple[tuple[str, ...], float]]],
    ) -> None:
        """A gauge with one series per label values, `read()` at each scrape as [(label values, value)]."""
        self.registry.register(_Labeled(f"{PREFIX}{name}", help_text, labels, read))

    def render(self) -> str:
        """The Prometheus text exposition."""
        return generate_latest(self.registry).decode()


class _Labeled:
    """A collector of one labeled gauge family read from a callback (nothing, logged, when it cannot be read)."""

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...], read):
        self.name, self.help_text, self.labels, self.read = name, help_text, labels, read

    def describe(self):
        return [GaugeMetricFamily(self.name, self.help_text, labels=list(self.labels))]

    def collect(self):
        family = GaugeMetricFamily(self.name, self.help_text, labels=list(self.labels))
        try:
            for values, value in self.read():
                family.add_metric(list(values), float(value))
        except Exception:
            log.exception("gauge %s", self.name)
        yield family


def _read(name: str, read: Callable[[], float]) -> float:
    try:
        return float(read())
    except Exception:  # a gauge that cannot be read shows NaN in this scrape
        log.exception("gauge %s", name)
        return float("nan")


class MetricsServer:
    """`GET /metrics` (Prometheus text) and `GET /health` (200 and JSON, 503 when `health()` says not ok)."""

    def __init__(self, metrics: Metrics, port: int, health: Callable[[], dict], host: str = "127.0.0.1"):
        self.metrics, self.health = metrics, health
        exposition = make_wsgi_app(metrics.registry)

        def app(environ, start_response):
            path = environ.get("PATH_INFO", "")
            if path == "/metrics":
                return exposition(environ, start_response)
            if path == "/health":
                status = self.health()
                body = json.dumps(status).encode()
                start_response(
                    "200 OK" if status.get("ok") else "503 Service Unavailable",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                )
                return [body]
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]

        server_class = _IPv6Server if ":" in host else ThreadingWSGIServer  # as the hooks server chooses
        self.httpd = make_server(host, port, app, server_class, handler_class=_QuietHandler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def samples(text: str) -> dict[str, float]:
    """A Prometheus text exposition as {sample: value}: a sample without labels by its name
    (`bookkeeper_ticks_total`), one with labels as `name{label="value",...}` in their order."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def scrape(port: int, host: str = "127.0.0.1") -> dict[str, float]:
    """The `samples` a daemon's `/metrics` serves; {} while it does not answer (not started yet, or gone)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
            return samples(resp.read().decode())
    except OSError:
        return {}


class _IPv6Server(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass
