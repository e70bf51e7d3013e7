"""The AMQP side of `bookkeeper run`: KAZOO 4.3's bookkeeper requests, answered through the billing engine.

One thread owns a pika `BlockingConnection` (pika's channels are not thread-safe): it declares KAZOO's two
exchanges and two shared queues (every worker consumes from them, as KAZOO's braintree app does from its own):
`<queue>` bound to `bookkeepers.<kind>.request` for update, sale, refund and collect_recurring, and
`<queue>_standing` for standing, each on its own channel with its own prefetch and its own pool of threads, so a
standing_req (KAZOO waits 2 s, before every call) is never queued behind evaluations in hand: not in the broker
(the other channel's unacked updates do not count against its prefetch) and not in our pool. It consumes with
manual acks. Requests of another `Bookkeeper-Type` are acked and left alone. When an answer is ready, the
connection thread
publishes the reply to `targeted` under the request's `Server-ID` and only then acks the request, so a request
whose work was written but whose ack was lost (a broker restart, our crash) is delivered again and answered from
what was written: every effect has a deterministic id (charges) or is found again at the gateway (sales and
refunds by order id). A lost connection is reopened with jittered backoff, the exchanges, queue and bindings
declared again. KAZOO's requests are not persistent and expire in the queue after `MESSAGE_TTL_MS` (KAZOO has
given up on them by then): one lost inside the broker is KAZOO's timeout path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pika
from pika.exceptions import AMQPError

from bookkeeper import __version__
from bookkeeper.amqp import protocol
from bookkeeper.amqp.answers import FAULT, Answers
from bookkeeper.backoff import backoff_delay
from bookkeeper.errors import InputError

log = logging.getLogger(__name__)
APP_NAME = "couch-bookkeeper"
MESSAGE_TTL_MS = 20_000  # KAZOO's longest wait for a bookkeeper (update_req, sale_req)
STANDING_SUFFIX = "_standing"  # the standing queue is `<queue>_standing`
STANDING_PREFETCH = 8  # standing requests in hand per answering thread: the broker's round trip per ack (slow on a
# busy machine) must not limit how many are answered a second


class AmqpConsumer:
    """Consumes KAZOO bookkeeper requests of `bookkeeper_type` from `url` until `stop()`."""

    def __init__(
        self,
        url: str,
        answers: Answers,
        *,
        bookkeeper_type: str,
        queue: str,
        metrics=None,
        workers: int = 16,
        node: str | None = None,
    ):
        self.url, self.answers, self.bookkeeper_type, self.queue = url, answers, bookkeeper_type, queue
        self.metrics, self.workers = metrics, workers
        self.node = node or f"{APP_NAME}@{socket.gethostname()}"
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="amqp-answer")
        self._standing_pool = ThreadPoolExecutor(workers, thread_name_prefix="amqp-standing")
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._inflight = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="amqp", daemon=True)

    # -- life cycle
    def start(self) -> AmqpConsumer:
        self._thread.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop consuming, finish and acknowledge the requests in hand, close the connection."""
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):  # already closed
                connection.add_callback_threadsafe(lambda: None)  # wake the connection thread
        self._thread.join(timeout)
        self._pool.shutdown(wait=True)
        self._standing_pool.shutdown(wait=True)

    def _count(self, name: str, n: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.count(name, n)

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                self._session()
                attempt = 0
            except (AMQPError, OSError) as exc:
                self._connected.clear()
                attempt += 1
                delay = backoff_delay(attempt, base=0.5, cap=10.0)
                log.warning(
                    "AMQP connection %s: %s; reconnecting in %.1f s",
                    self._safe_url(),
                    exc or exc.__class__.__name__,
                    delay,
                )
                self._stopping.wait(delay)
            except Exception:  # a bug: keep the daemon's AMQP side alive, loudly
                self._connected.clear()
                log.exception("AMQP consumer failed; reconnecting")
                self._stopping.wait(5.0)

    def _safe_url(self) -> str:
        params = pika.URLParameters(self.url)
        return f"{params.host}:{params.port}"

    def _session(self) -> None:
        params = pika.URLParameters(self.url)
        params.heartbeat = 10
        params.blocked_connection_timeout = 30
        params.client_properties = {"connection_name": self.node}
        connection = pika.BlockingConnection(params)
        self._connection = connection
        try:
            channel, standing = connection.channel(), connection.channel()
            channel.exchange_declare(protocol.EXCHANGE, protocol.EXCHANGE_TYPE)
            channel.exchange_declare(protocol.TARGETED, protocol.TARGETED_TYPE)
            standing_queue = self.queue + STANDING_SUFFIX
            for ch, queue, kinds, prefetch in (
                (channel, self.queue, [k for k in protocol.KINDS if k != "standing"], self.workers * 2),
                (standing, standing_queue, ["standing"], self.workers * STANDING_PREFETCH),
            ):
                ch.queue_declare(queue, arguments={"x-message-ttl": MESSAGE_TTL_MS})
                for kind in kinds:
                    ch.queue_bind(queue, protocol.EXCHANGE, protocol.routing_key(kind))
                ch.basic_qos(prefetch_count=prefetch)
                ch.basic_consume(queue, lambda c, method, props, body: self._on_message(connection, c, method, body))
            # a queue declared by an earlier version got standing too: one copy of each request, on its own queue
            channel.queue_unbind(self.queue, protocol.EXCHANGE, protocol.routing_key("standing"))
            self._count("amqp_connections")
            self._connected.set()
            log.info("consuming KAZOO bookkeeper requests (type %s) from %s", self.bookkeeper_type, self._safe_url())
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=0.5)
            deadline = time.monotonic() + 30
            while self._inflight and time.monotonic() < deadline:  # let the answers in hand be sent and acked
                connection.process_data_events(time_limit=0.1)
        finally:
            self._connected.clear()
            self._connection = None
            if connection.is_open:
                with contextlib.suppress(AMQPError):
                    connection.close()

    # -- one request
    def _on_message(self, connection, channel, method, body: bytes) -> None:
        received = time.monotonic()
        try:
            request = protocol.parse(method.routing_key, body)
        except InputError as exc:
            if _type_of(body) == self.bookkeeper_type:
                log.error("refused a KAZOO request: %s", exc)
                self._count("amqp_rejected")
            else:
                self._count("amqp_ignored")
            channel.basic_ack(method.delivery_tag)
            return
        if request["Bookkeeper-Type"] != self.bookkeeper_type:
            self._count("amqp_ignored")
            channel.basic_ack(method.delivery_tag)
            return
        if method.redelivered:
            self._count("amqp_redelivered")
        with self._lock:
            self._inflight += 1
        pool = self._standing_pool if request.kind == "standing" else self._pool
        pool.submit(self._answer, connection, channel, method.delivery_tag, request, received)

    def _answer(self, connection, channel, tag: int, request: protocol.Request, received: float) -> None:
        """On the pool: the answer; then, on the connection thread, the reply and the ack."""
        try:
            answer = self.answers.answer(request)
        except Exception:
            log.exception("%s_req for %s", request.kind, request.get("Account-ID"))
            self._count("amqp_failed")
            answer = {
                **self.answers.echo(request),
                "Status": "fatal",
                "Reason": FAULT,
                "Message": "Temporary billing error, please try again later.",
            }
        message = protocol.reply(request, answer, app_name=APP_NAME, app_version=__version__, node=self.node)
        try:
            connection.add_callback_threadsafe(lambda: self._send(channel, tag, request, message, received))
        except Exception:  # the connection is gone: the broker delivers the request again
            with self._lock:
                self._inflight -= 1
            self._lost(request)

    def _send(self, channel, tag: int, request: protocol.Request, message: dict, received: float) -> None:
        """The reply, counted as answered once published; then the ack (a reply whose ack is lost with its
        connection is answered again when the broker delivers the request again)."""
        try:
            routing, headers = request.reply_to
            channel.basic_publish(
                protocol.TARGETED,
                routing,
                protocol.encode(message),
                pika.BasicProperties(content_type="application/json", headers=headers),
            )
            self._count(f"amqp_{request.kind}_requests")
            if self.metrics is not None:
                self.metrics.observe(f"amqp_{request.kind}_seconds", time.monotonic() - received)
            channel.basic_ack(tag)
        except AMQPError:
            self._lost(request)
        finally:
            with self._lock:
                self._inflight -= 1

    def _lost(self, request: protocol.Request) -> None:
        log.warning(
            "reply to %s_req %s lost with its connection; the broker delivers it again", request.kind, request.msg_id
        )
        self._count("amqp_unacked")


def _type_of(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("Bookkeeper-Type")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
