"""KAZOO's side of the bookkeeper protocol, as `kz_amqp_worker:call/4` plays it: an exclusive reply queue bound to
`targeted` under its own name (the `Server-ID` of every request), requests published on `bookkeepers` with a
fresh `Msg-ID` and KAZOO's default headers, replies matched by `Msg-ID`. For tests, `bench/amqp.py` and smoke
checks of a deployment; one thread only (pika's blocking connection)."""

from __future__ import annotations

import json
import secrets
import time

import pika

from . import protocol


class KazooClient:
    """Publishes bookkeeper requests and collects the replies (`replies[msg_id] = (received monotonic, reply)`,
    `headers[msg_id]` = the reply's AMQP headers)."""

    def __init__(self, url: str, app_name: str = "kazoo_services", node: str = "kazoo_apps@kazoo.test"):
        self.app_name, self.node = app_name, node
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(protocol.EXCHANGE, protocol.EXCHANGE_TYPE)
        self.channel.exchange_declare(protocol.TARGETED, protocol.TARGETED_TYPE)
        self.queue = self.channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        self.channel.queue_bind(self.queue, protocol.TARGETED, self.queue)
        self.channel.basic_consume(self.queue, self._on_reply, auto_ack=True)
        self.replies: dict[str, tuple[float, dict]] = {}
        self.headers: dict[str, dict] = {}

    def _on_reply(self, channel, method, properties, body: bytes) -> None:
        message = json.loads(body)
        self.replies[message.get("Msg-ID")] = (time.monotonic(), message)
        self.headers[message.get("Msg-ID")] = properties.headers or {}

    def message(self, kind: str, fields: dict, msg_id: str | None = None, server_id: str | None = None) -> dict:
        """A `<kind>_req` as KAZOO builds it: the fields, then the default headers and Server-ID (this client's
        queue, or `server_id`, e.g. KAZOO's `pid://<pid>/<queue>` form)."""
        return {
            **fields,
            "Msg-ID": msg_id or secrets.token_hex(16),
            "Server-ID": server_id or self.queue,
            "Event-Category": protocol.CATEGORY,
            "Event-Name": f"{kind}_req",
            "App-Name": self.app_name,
            "App-Version": "4.3.0",
            "Node": self.node,
        }

    def publish(self, kind: str, message: dict) -> None:
        """Publish as KAZOO does: not persistent, JSON, a timestamp."""
        self.channel.basic_publish(
            protocol.EXCHANGE,
            protocol.routing_key(kind),
            json.dumps(message).encode(),
            pika.BasicProperties(content_type="application/json", delivery_mode=1, timestamp=int(time.time())),
        )

    def wait(self, msg_id: str, timeout: float) -> dict | None:
        """The reply to `msg_id`, or None after `timeout` seconds (KAZOO's timeout path)."""
        deadline = time.monotonic() + timeout
        while msg_id not in self.replies and time.monotonic() < deadline:
            self.connection.process_data_events(time_limit=min(0.05, max(0.0, deadline - time.monotonic())))
        found = self.replies.get(msg_id)
        return found[1] if found else None

    def call(self, kind: str, fields: dict, timeout: float = 10.0) -> dict | None:
        message = self.message(kind, fields)
        self.publish(kind, message)
        return self.wait(message["Msg-ID"], timeout)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()
