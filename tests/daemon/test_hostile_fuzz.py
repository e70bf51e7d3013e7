"""Fuzzing a running daemon (issue: hostile input, "must show"): random JSON written as money, services, account,
device, plan, settings and lease documents of one victim account (its own plan and reseller) while `bookkeeper
run` serves it and two good accounts. The daemon stays up, `/health` tells the truth, the good accounts keep
being charged, and `ledger verify` finds their ledgers sound."""

from __future__ import annotations

import contextlib
import subprocess
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from deployment import BIN, PLAN, expected_prorate, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookkeeper import provision
from bookkeeper.accounts import CONFIG_DOC
from bookkeeper.couch import CouchError
from bookkeeper.dbnames import ACCOUNTS_DB, SERVICES_DB, account_db, modb, to_gregorian

pytestmark = pytest.mark.long(420)

EXAMPLES = 200
LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["credit", "debit", "ledger", "device", "soon", "1e3", "-5"])
)
JSON = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
FIELDS = {
    "money": [
        "amount",
        "pvt_amount",
        "pvt_type",
        "pvt_ledger_type",
        "source",
        "pvt_created",
        "bookkeeper_info",
        "period",
        "usage",
        "pvt_deleted",
        "description",
        "metadata",
    ],
    "services": ["quantities", "plans", "pvt_status", "pvt_tree", "pvt_reseller", "pvt_reseller_id"],
    "account": ["pvt_tree", "pvt_enabled", "pvt_reseller", "pvt_created", "pvt_trial_expires", "name"],
    "device": ["pvt_type", "device_type", "enabled", "pvt_deleted", "billing"],
    "plan": ["plan", "name", "pvt_type", "category", "bookkeepers"],
    "settings": [
        "currency",
        "billing_day",
        "timezone",
        "daily_categories",
        "vat_rate",
        "vat_disposition",
        "prorate_late_mrc",
        "charge_missed_days",
    ],
    "lease": ["owner", "expires", "pvt_type"],
}


def now():
    return datetime.now(UTC)


def test_random_documents_do_not_stop_the_daemon_or_its_good_accounts(deployment):
    d = deployment
    d.env["BOOKKEEPER_LEASE_TTL"] = "3"
    good = [d.account(devices=1), d.account(devices=1)]
    reseller = d.account(devices=0, reseller=True, plans={})
    provision.put_billing_settings(d.couch, reseller, {"currency": "USD"}, now())
    provision.put_plan(d.couch, reseller, "vp", PLAN, now())
    victim = d.account(devices=1, plans={"vp": reseller}, tree=[d.master, reseller])
    month = modb(victim, now().year, now().month)
    worker = d.start("w1")
    for account in good:
        wait_for(lambda account=account: d.debits(account, "mrc"), timeout=90)
    counter = iter(range(10**6))

    def put(db_name: str, doc_id: str, fields: dict, base: dict | None = None) -> None:
        db = d.couch.db(db_name)
        current = db.get_or_none(doc_id) or base or {}
        with contextlib.suppress(
            CouchError
        ):  # refused (e.g. the append-only rule): what the server refuses cannot hurt anyone
            db.put({**current, **fields, "_id": doc_id, **({"_rev": current["_rev"]} if "_rev" in current else {})})

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(st.data())
    def write_one(data):
        kind = data.draw(st.sampled_from(sorted(FIELDS)))
        fields = data.draw(st.dictionaries(st.sampled_from(FIELDS[kind]) | st.text(max_size=6), JSON, max_size=4))
        n = next(counter)
        stamp = now().strftime("%Y%m")
        if kind == "money":
            base = {
                "pvt_type": "ledger",
                "pvt_ledger_type": "credit",
                "amount": 10000,
                "pvt_created": to_gregorian(now()),
                "source": {"service": "adjustments", "id": f"fuzz{n}"},
            }
            put(month, f"{stamp}-fuzz{n}", fields, base)
        elif kind == "services":
            put(d.namespace + SERVICES_DB, victim, fields)
        elif kind == "account":
            put(account_db(victim), victim, fields)
            put(d.namespace + ACCOUNTS_DB, victim, fields)
        elif kind == "device":
            put(account_db(victim), f"fuzz-device-{n % 5}", fields, {"pvt_type": "device"})
        elif kind == "plan":
            put(account_db(reseller), "vp", fields)
        elif kind == "settings":
            put(account_db(reseller), CONFIG_DOC, fields)
        else:
            doc_id = f"lease-bucket:{n % 64:04d}" if n % 2 else f"lease-worker:ghost{n % 3}"
            put(d.namespace + d.config.bookkeeper_db, doc_id, fields)
        assert worker.poll() is None, "the daemon died"

    write_one()
    assert worker.poll() is None, "the daemon died"
    for account in good:  # good accounts keep being charged
        provision.add_docs(d.couch, account, [{"pvt_type": "device"}], now())
    for account in good:

        def charged(account=account):
            """the good account's prorated charge for its new device"""
            assert worker.poll() is None, "the daemon died"
            return d.debits(account, "prorate")

        [prorate] = wait_for(charged, timeout=90)
        assert prorate.amount == expected_prorate(Decimal(30))
    health = wait_for(lambda: d.health("w1").get("ok") and d.health("w1"), timeout=30)
    assert health["dead_threads"] == [] and health["unserved_buckets"] == [] and health["leases"] == 64
    for account in good:
        verified = subprocess.run(
            [str(BIN), "ledger", "verify", account], env=d.env, capture_output=True, text=True, timeout=120
        )
        assert (verified.returncode, verified.stdout) == (0, "sound\n"), verified.stderr
    assert worker.poll() is None and "Traceback" not in d.log("w1")
