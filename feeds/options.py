"""The daemon's tuning knobs, with defaults fit for one embedded server or one CouchDB cluster."""

from __future__ import annotations

from dataclasses import dataclass

from .consumer import DEFAULT_CONSUMER


@dataclass(frozen=True)
class FeedOptions:
    """How the daemon tails, schedules and shares work.

    consumer: names the checkpoints (`_local/bookkeeper-<consumer>`); batch_size: `_changes` rows per engine call;
    follow_cap: databases tailed with their own continuous feed when the server has no `_db_updates` (the rest
    are polled round-robin on `update_seq`, each at most every poll_interval seconds); heartbeat_ms: continuous
    feed heartbeat (a silent feed is dropped after 2.5 of them); discovery_interval: seconds between `_all_dbs`
    diffs and lease renewals; drain_workers: threads reading `_changes` and calling the engine (different
    databases in parallel); tick_interval: seconds between periodic ticks; lease_buckets / lease_ttl: how
    accounts are shared among workers (use_leases False: this worker owns everything); use_db_updates: read
    `_db_updates` where the server has it (False: per-database feeds and polling, PouchDB Server's way, everywhere);
    checkpoint_interval:
    seconds a handled seq may wait in memory before its `_local` checkpoint is written (written by a flusher
    once dirty that long, and on stop; a crash re-delivers at most that much of a database's changes, handled
    again as one batch that writes nothing; 0: written after every batch)."""

    consumer: str = DEFAULT_CONSUMER
    batch_size: int = 500
    follow_cap: int = 200
    heartbeat_ms: int = 5000
    poll_interval: float = 2.0
    discovery_interval: float = 10.0
    drain_workers: int = 64
    tick_interval: float = 300.0
    lease_buckets: int = 64
    lease_ttl: float = 30.0
    use_leases: bool = True
    use_db_updates: bool = True
    db_updates_timeout_ms: int = 25000
    backoff_cap: float = 30.0
    checkpoint_interval: float = 300.0
