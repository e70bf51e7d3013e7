"""A real RabbitMQ of our own (free ports, own node name, data dir and epmd; stopped after), a KAZOO-shaped world
in the test server, our consumer answering through the billing engine, and KAZOO's side of the protocol.

Without `rabbitmq-server` the tests are skipped with the way to install it, except in CI (`CI=true`), where a
missing broker fails them."""

from __future__ import annotations

import pika
import pytest
from amqp_world import OURS, World, require_broker
from worlds import world_fixture

from bookkeeper.amqp.answers import attach
from bookkeeper.amqp.broker import LocalBroker
from bookkeeper.amqp.kazoo import KazooClient
from feeds.amqp import STANDING_SUFFIX, AmqpConsumer
from feeds.metrics import Metrics


@pytest.fixture(scope="session")
def rabbit(tmp_path_factory):
    require_broker()
    broker = LocalBroker(tmp_path_factory.mktemp("rabbit")).start()
    yield broker
    broker.stop()


world = world_fixture(World)


@pytest.fixture
def consumer(world, rabbit):
    """Our consumer on the test broker, answering through the world's engine; its queue removed after."""
    running = AmqpConsumer(
        rabbit.url,
        attach(world.engine),
        bookkeeper_type=OURS,
        queue=f"{world.namespace}bk",
        metrics=Metrics(),
        workers=4,
    ).start()
    assert running.wait_connected(20), "the consumer did not connect to the broker"
    yield running
    running.stop()
    connection = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    for queue in (f"{world.namespace}bk", f"{world.namespace}bk{STANDING_SUFFIX}"):
        connection.channel().queue_delete(queue)
    connection.close()


@pytest.fixture
def broker(tmp_path):
    """A broker of the test's own (it may be restarted)."""
    require_broker()
    own = LocalBroker(tmp_path / "rabbit").start()
    yield own
    own.stop()


@pytest.fixture
def deployment(own_server, config):
    """The world on a server of the test's own, for `bookkeeper run` as a process."""
    made = World(own_server.url, config)
    yield made
    made.cleanup()


@pytest.fixture
def kazoo(rabbit):
    client = KazooClient(rabbit.url)
    yield client
    client.close()
