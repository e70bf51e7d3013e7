"""Metrics in Prometheus text, served with a health check; JSON-lines logging."""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request

import pytest

from feeds.logformat import JsonFormatter
from feeds.metrics import Metrics, MetricsServer


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
        assert "# TYPE bookkeeper_charges_written_total counter\nbookkeeper_charges_written_total 3\n" in text
        assert "bookkeeper_feed_lag_seconds 1.5\n" in text
        assert "bookkeeper_changes_handled_total 0\n" in text
        with urllib.request.urlopen(base + "/health") as resp:
            assert json.loads(resp.read()) == {"ok": True, "worker": "w1"}
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/nothing")
        assert err.value.code == 404
    finally:
        server.stop()


def test_unhealthy_is_503():
    server = MetricsServer(Metrics(), 0, lambda: {"ok": False}, host="127.0.0.1").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health")
        assert err.value.code == 503
    finally:
        server.stop()


def test_json_lines_carry_extra_fields_and_exceptions():
    record = logging.makeLogRecord({"name": "feeds", "levelname": "WARNING", "msg": "db %s", "args": ("x",),
                                    "db": "accounts"})
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    out = json.loads(line)
    assert "\n" not in line and out["msg"] == "db x" and out["db"] == "accounts" and "boom" in out["exc"]
