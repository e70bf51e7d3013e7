"""The hooks server under slow clients (issue: hostile input, point 9): 200 slowloris connections do not delay a
valid notification; a request whose headers or body take too long gets 408 and is disconnected."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
from stripe import WebhookSignature
from test_yoomoney_stripe import WHSEC, event, session

from bookkeeper.gateways import make_app, serve
from bookkeeper.gateways.server import HookServer

pytestmark = pytest.mark.slow


def slow_clients(port: int, n: int) -> list[socket.socket]:
    """`n` connections that start a request and never finish it: half stop inside the headers, half inside a body."""
    out = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2:
            s.sendall(b"POST /hooks/stripe/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n{")
        else:
            s.sendall(b"POST /hooks/stripe/x HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        out.append(s)
    return out


def test_200_slow_connections_do_not_delay_a_valid_notification(world):
    world.configure("stripe", {"webhook_secret": WHSEC, "currency": "USD"})
    server = serve(make_app(world.couch, world.config), "127.0.0.1", 0)
    held = slow_clients(server.port, 200)
    try:
        payload = json.dumps(event("checkout.session.completed", session(world)))
        header = WebhookSignature.generate_signature_header(payload, WHSEC)
        started = time.monotonic()
        resp = requests.post(
            f"{server.url}/hooks/stripe/{world.reseller}",
            data=payload,
            timeout=10,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        elapsed = time.monotonic() - started
        assert resp.status_code == 200 and resp.json()["booked"][0]["result"] == "credited"
        assert elapsed < 3, f"a valid notification waited {elapsed:.1f}s behind slow clients"
        for s in held[:20]:  # the slow ones trickle on: still nobody waits
            s.sendall(b"x")
        assert requests.get(f"{server.url}/health", timeout=5).json() == {"ok": True}
    finally:
        for s in held:
            s.close()
        server.stop()


def test_headers_and_body_have_time_limits(world):
    app = make_app(world.couch, world.config)
    server = HookServer(
        app,
        "127.0.0.1",
        0,
        max_body=1024,
        max_headers=1024,
        header_timeout=1.0,
        body_timeout=1.0,
        threads=2,
        max_connections=100,
    )
    try:
        for start in (
            b"POST /hooks/stripe/x HTTP/1.1\r\nHost: a\r\n",  # headers never end
            b"POST /hooks/stripe/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{",
        ):  # nor the body
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(start)
            started = time.monotonic()
            for _ in range(8):  # a byte every 0.3 s: never idle, but too slow
                time.sleep(0.3)
                try:
                    s.sendall(b"a")
                except OSError:
                    break
            answer = s.recv(1024)
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            assert time.monotonic() - started < 3
            s.close()
        big = requests.post(f"{server.url}/hooks/stripe/x", data=b"x" * 2000, timeout=5)
        assert big.status_code == 413
    finally:
        server.stop()
