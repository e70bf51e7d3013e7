"""Crash safety with real processes: the server restarted mid-stream, the daemon stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from recording import RecordingEngine, at_end
from testserver import start_test_server
from waiting import wait_until

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db
from feeds.checkpoints import checkpoint_id
from feeds.daemon import Daemon
from feeds.options import FeedOptions

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_no_change_is_lost_when_the_server_restarts_mid_stream(tmp_path):
    srv = start_test_server(tmp_path, persistent=True, restarts=True)  # on disk: data survives the restart
    try:
        couch = Couch(srv.url, retries=2, backoff=0.1, timeout=5)
        followed, polled = (couch.db(account_db(uuid.uuid4().hex)) for _ in range(2))
        followed.create(), polled.create()
        engine = RecordingEngine()
        config = load_config(env={}, couch_url=srv.url, var_dir=tmp_path, metrics_port=0, worker_id="w")
        options = FeedOptions(
            follow_cap=1,
            heartbeat_ms=500,
            poll_interval=0.1,
            discovery_interval=0.3,
            tick_interval=3600,
            backoff_cap=1.0,
        )
        daemon = Daemon(couch, config, engine, options=options).start()
        try:

            def write(db, names):
                for name in names:
                    db.put({"_id": name})

            first = [f"a{i}" for i in range(10)]
            writers = [threading.Thread(target=write, args=(db, first)) for db in (followed, polled)]
            for w in writers:
                w.start()
            for w in writers:
                w.join()
            srv.stop()
            srv.start()
            second = [f"b{i}" for i in range(10)]
            write(followed, second)
            write(polled, second)
            for db in (followed, polled):
                wait_until(lambda db=db: set(engine.ids(db.name)) == set(first + second), timeout=30)
            assert daemon.metrics.value("feed_errors") >= 1  # it did notice the outage
        finally:
            daemon.stop()
        for db in (followed, polled):
            assert at_end(db, db.get(checkpoint_id("billing"))["seq"])
    finally:
        srv.stop()


DAEMON_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from bookkeeper.config import load_config
    from bookkeeper.couch import Couch
    from feeds.daemon import Daemon
    from feeds.options import FeedOptions
    from recording import RecordingEngine, at_end

    class FileEngine(RecordingEngine):
        def handle_changes(self, db_name, rows):
            super().handle_changes(db_name, rows)
            with open({log!r}, "a") as f:
                f.writelines(json.dumps([db_name, row["id"]]) + "\\n" for row in rows)

    config = load_config(env={{}}, couch_url={url!r}, bookkeeper_db={bkdb!r}, metrics_port=0, worker_id="sig")
    options = FeedOptions(follow_cap=10, heartbeat_ms=500, discovery_interval=0.3, tick_interval=3600)
    sys.exit(Daemon(Couch({url!r}), config, FileEngine(), options=options).run())
""")


def test_sigterm_stops_cleanly_with_the_checkpoint_written(server, couch, account_dbs, prefix, tmp_path):
    db = account_dbs()
    log = tmp_path / "handled.jsonl"
    script = DAEMON_SCRIPT.format(
        root=str(ROOT), tests=str(Path(__file__).parent), log=str(log), url=server.url, bkdb=f"{prefix}bookkeeper"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        db.bulk_docs([{"_id": f"d{i}"} for i in range(5)])
        wait_until(lambda: log.exists() and log.read_text().count(db.name) == 5, timeout=20)
        db.put({"_id": "last"})
        wait_until(lambda: '"last"' in log.read_text(), timeout=10)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)  # not its 25 s `_db_updates` longpoll, nor a drain's whole batch
        assert proc.returncode == 0, output
    finally:
        if proc.poll() is None:
            proc.kill()
        couch.db(f"{prefix}bookkeeper").delete()
    assert at_end(db, db.get(checkpoint_id("billing"))["seq"])
