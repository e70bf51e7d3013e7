"""Metrics in Prometheus text, served with a health check; JSON-lines logging."""

from __future__ import annotations

import json
import logging
import math
import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from feeds.logformat import JsonFormatter
from feeds.metrics import Metrics, MetricsServer, samples, scrape


def test_endpoint_serves_prometheus_text_and_health():
    metrics = Metrics()
    metrics.count("charges_written", 3)
    metrics.gauge("feed_lag_seconds", "Lag.", lambda: 1.5)
    server = MetricsServer(metrics, 0, lambda: {"ok": True, "worker": "w1"}, host="127.0.0.1").start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + "/metrics") as resp:
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = resp.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["bookkeeper_charges_written"].type == "counter"
        samples = scrape(server.port)
        assert samples["bookkeeper_charges_written_total"] == 3
        assert samples["bookkeeper_changes_handled_total"] == 0
        assert samples["bookkeeper_feed_lag_seconds"] == 1.5
        with urllib.request.urlopen(base + "/health") as resp:
            assert json.loads(resp.read()) == {"ok": True, "worker": "w1"}
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/nothing")
        assert err.value.code == 404
    finally:
        server.stop()


def test_a_gauge_that_cannot_be_read_is_nan_not_a_failed_scrape():
    metrics = Metrics()
    metrics.gauge("broken", "Raises.", lambda: 1 / 0)
    served = samples(metrics.render())
    assert math.isnan(served["bookkeeper_broken"])
    assert served["bookkeeper_ticks_total"] == 0


def test_unhealthy_is_503():
    server = MetricsServer(Metrics(), 0, lambda: {"ok": False}, host="127.0.0.1").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health")
        assert err.value.code == 503
    finally:
        server.stop()


def test_json_lines_carry_extra_fields_and_exceptions():
    record = logging.makeLogRecord(
        {"name": "feeds", "levelname": "WARNING", "msg": "db %s", "args": ("x",), "db": "accounts"}
    )
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    out = json.loads(line)
    assert "\n" not in line and out["msg"] == "db x" and out["db"] == "accounts" and "boom" in out["exc"]
