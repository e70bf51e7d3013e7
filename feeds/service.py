"""`bookkeeper run`: the billing engine, the change-feed daemon, the payment hooks, auto top-up and, with an AMQP
URL, KAZOO 4.3's bookkeeper requests, wired together."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from bookkeeper.amqp.answers import attach
from bookkeeper.billing import BillingEngine, Evaluation
from bookkeeper.clock import SystemClock
from bookkeeper.config import Config
from bookkeeper.couch import Couch
from bookkeeper.databases import ensure_core
from bookkeeper.documents import generate_due
from bookkeeper.gateways import make_app, maybe_auto_topup, serve
from bookkeeper.reports import GAUGES, STANDING_GAUGE, MetricsCache, Reports

from .amqp import AmqpConsumer
from .daemon import Daemon
from .malloc import cap_arenas
from .metrics import Metrics
from .nudge import Nudger
from .options import FeedOptions

log = logging.getLogger(__name__)


def build(couch: Couch, config: Config) -> tuple[BillingEngine, Daemon]:
    """The engine (auto top-up after charges, invoices of closed periods after each tick) and its daemon."""
    ensure_core(couch, config)
    metrics = Metrics()
    engine = BillingEngine(couch, config, SystemClock(), metrics=metrics)
    metrics.gauge(
        "invalid_money_documents",
        "Invalid money documents seen, not counted (logged with their ids).",
        lambda: len(engine.ledger.totals.invalid),
    )

    def after_charges(evaluation: Evaluation) -> None:
        if evaluation.written:
            maybe_auto_topup(
                couch,
                engine.ledger,
                evaluation.account_id,
                evaluation.decision.available_after,
                engine.clock.now(),
                directory=engine.directory,
                enabled=config.auto_topup,
            )

    billing = MetricsCache(Reports(couch, engine.ledger, engine.directory))
    for key, text in GAUGES.items():
        metrics.labeled(f"billing_{key}", text, ("reseller", "currency"), functools.partial(billing.series, key))
    metrics.labeled("billing_accounts", STANDING_GAUGE, ("reseller", "currency", "standing"), billing.standing)

    def after_tick(now, owns) -> None:  # generate_due logs what it could not generate and retries next tick
        generate_due(couch, engine.ledger, now, owns, directory=engine.directory)
        billing.refresh(now)

    engine.after_charges = after_charges
    engine.after_tick = after_tick
    options = FeedOptions(
        follow_cap=config.feed_follow_cap,
        discovery_interval=config.feed_discovery_interval,
        poll_interval=config.feed_poll_interval,
        tick_interval=config.feed_tick_interval,
        drain_workers=config.feed_drain_workers,
        lease_ttl=config.lease_ttl,
        checkpoint_interval=config.feed_checkpoint_interval,
    )
    return engine, Daemon(couch, config, engine, options=options, metrics=metrics, holds=engine.holds)


def ready_line(couch_url: str, worker_id: str, metrics_port: int, hooks_port: int) -> str:
    """The one line that says the daemon is up and where to look: Fauxton, metrics, health, hooks."""
    return (
        f"ready: worker {worker_id}; Fauxton {couch_url}/_utils/; metrics http://127.0.0.1:{metrics_port}"
        f"/metrics (health /health); hooks http://127.0.0.1:{hooks_port}/hooks/<gateway>/<reseller_id>"
    )


def run(couch: Couch, config: Config, on_ready: Callable[[str], None] | None = None) -> int:
    """Run until SIGTERM/SIGINT: feeds, scheduler, metrics, the hooks server (a credit re-evaluates) and, when
    `amqp_url` is set, the consumer of KAZOO's bookkeeper requests. `on_ready(line)` gets the `ready_line` once
    everything is up."""
    cap_arenas()
    engine, daemon = build(couch, config)
    nudger = Nudger(engine.evaluate_with_reseller).start()
    hooks = serve(
        make_app(couch, config, after_credit=nudger.nudge, ledger=engine.ledger),
        config.hooks_host,
        config.hooks_port,
    )
    log.info("payment hooks on port %d", hooks.port)
    consumer = None
    if config.amqp_url:
        consumer = AmqpConsumer(
            config.amqp_url,
            attach(engine),
            bookkeeper_type=config.amqp_bookkeeper_type,
            queue=config.amqp_queue,
            metrics=daemon.metrics,
            workers=config.amqp_workers,
            node=f"{config.amqp_bookkeeper_type}@{daemon.worker_id}",
        ).start()

    def started(d: Daemon) -> None:
        assert on_ready is not None and d.metrics_server is not None, "called once metrics are served"
        on_ready(ready_line(couch.url, d.worker_id, d.metrics_server.port, hooks.port))

    try:
        return daemon.run(on_started=None if on_ready is None else started)
    finally:
        if consumer is not None:
            consumer.stop()
        hooks.stop()
        nudger.stop()


def run_once(couch: Couch, config: Config) -> dict:
    """Catch up every feed and everything due, then return: {databases, charges_written}."""
    _, daemon = build(couch, config)
    seqs = daemon.run_once()
    return {"databases": len(seqs), "charges_written": daemon.metrics.value("charges_written")}
