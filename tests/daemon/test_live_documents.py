"""A running daemon bills by the documents as they are now (plans, settings), and one bad document holds only
the accounts that depend on it: reported once, shown on `/health`, while every other account goes on."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from deployment import BIN, PLAN, expected_prorate, wait_for

from bookkeeper import provision
from bookkeeper.accounts import CONFIG_DOC
from bookkeeper.dbnames import account_db

pytestmark = pytest.mark.slow


def now():
    return datetime.now(UTC)


def edit(deployment, owner: str, doc_id: str, **fields) -> None:
    db = deployment.couch.db(account_db(owner))
    db.put({**db.get(doc_id), **fields})


def test_a_rate_change_and_an_invalid_settings_document_take_effect_at_the_next_evaluation(deployment):
    acme = deployment.account(devices=1)
    deployment.start("w1")
    [mrc] = wait_for(lambda: deployment.debits(acme, "mrc"))
    assert mrc.amount == expected_prorate(Decimal(30))  # a new account: its first MRC is prorated
    wait_for(
        lambda: deployment.metrics("w1").get("bookkeeper_ticks_total")
    )  # the start-up tick is done: changes drive the rest
    edit(deployment, deployment.master, "rt", plan={"devices": {"sip_device": {"rate": 40}}})
    provision.add_docs(deployment.couch, acme, [{"pvt_type": "device"}], now())
    # the new rate is a rise of the monthly total like any other: 2 x 40 - 30 already charged = 50, prorated; in one
    # step when the device's change is handled first, or in two (40 - 30 = 10 at one device, then 80 - 40 = 40) when
    # the plan's change is: the two feeds' order is not fixed
    prorates = wait_for(
        lambda: any(e.quantity == 2 for e in deployment.debits(acme, "prorate")) and deployment.debits(acme, "prorate"),
        timeout=30,
    )
    rises = [Decimal(50)] if len(prorates) == 1 else [Decimal(10), Decimal(40)]
    assert sorted(e.amount for e in prorates) == sorted(expected_prorate(r) for r in rises)

    provision.put_billing_settings(deployment.couch, deployment.master, {"billing_day": 40}, now())
    provision.add_docs(deployment.couch, acme, [{"pvt_type": "device"}], now())
    # the last valid settings keep serving: 3 x 40 - 80 = 40 more, prorated over the same period
    wait_for(lambda: len(deployment.debits(acme, "prorate")) == len(prorates) + 1, timeout=30)
    [later] = [e for e in deployment.debits(acme, "prorate") if e.key not in {p.key for p in prorates}]
    assert later.amount == expected_prorate(Decimal(40)) and later.quantity == 3
    where = f"{account_db(deployment.master)}/{CONFIG_DOC}"
    stale = wait_for(lambda: deployment.health("w1").get("stale_settings"), timeout=15)
    assert list(stale) == [where] and "billing_day" in stale[where]
    assert deployment.metrics("w1")["bookkeeper_invalid_documents_total"] == 1
    assert "billing_day: must be 1..28, got 40" in deployment.log("w1")


def test_a_bad_plan_settings_or_device_document_holds_only_its_own_accounts(deployment):
    provision.put_plan(
        deployment.couch,
        deployment.master,
        "bad",
        {"name": "Bad", "plan": {"devices": {"sip_device": {"rate": "ten"}}}},
        now(),
    )
    reseller = deployment.account(devices=0, reseller=True, plans={})
    provision.put_billing_settings(deployment.couch, reseller, {"billing_day": 31}, now())
    provision.put_plan(deployment.couch, reseller, "rt", PLAN, now())
    bad_plan = deployment.account(devices=1, plans={"bad": deployment.master})
    bad_settings = deployment.account(devices=1, plans={"rt": reseller}, tree=[deployment.master, reseller])
    odd_device = deployment.account(devices=1)
    provision.add_docs(deployment.couch, odd_device, [{"_id": "odd", "device_type": "sip_device"}], now())
    edit(deployment, odd_device, "odd", pvt_type=["device"])
    good = deployment.account(devices=1)
    deployment.start("w1")

    for account in (good, odd_device):  # the odd device counts nothing; its account is billed for the other
        [mrc] = wait_for(lambda account=account: deployment.debits(account, "mrc"), timeout=60)
        assert mrc.amount == expected_prorate(Decimal(30)) and mrc.quantity == 1
    held = wait_for(lambda: len(deployment.health("w1").get("held") or {}) == 2 and deployment.health("w1")["held"])
    assert set(held) == {bad_plan, bad_settings}
    assert 'rate: not a number: "ten"' in held[bad_plan] and "billing_day: must be 1..28, got 31" in held[bad_settings]
    assert deployment.metrics("w1")["bookkeeper_accounts_held"] == 2

    provision.add_docs(deployment.couch, good, [{"pvt_type": "device"}], now())  # the shared feeds go on
    [prorate] = wait_for(lambda: deployment.debits(good, "prorate"), timeout=30)
    assert prorate.amount == expected_prorate(Decimal(30))
    log = deployment.log("w1")
    assert log.count(f"account {bad_plan} held") == 1, "a hold is reported once, not on every retry"
    assert "Traceback" not in log
    assert "time zones failed" not in log  # the other resellers' day starts are scheduled

    edit(deployment, deployment.master, "bad", plan={"devices": {"sip_device": {"rate": 10}}})
    provision.add_docs(deployment.couch, bad_plan, [{"pvt_type": "device"}], now())
    [mrc] = wait_for(lambda: deployment.debits(bad_plan, "mrc"), timeout=30)
    assert mrc.amount == expected_prorate(Decimal(20))  # 2 devices x 10, charged once the plan is fixed
    wait_for(lambda: set(deployment.health("w1")["held"]) == {bad_settings}, timeout=15)
    assert f"account {bad_plan} no longer held" in deployment.log("w1")
    assert not deployment.debits(bad_settings)


def test_the_daemon_logs_what_it_does_with_money_and_accounts_list_shows_standing(deployment):
    good = deployment.account(devices=1)
    poor = deployment.account(devices=1, balance=0)  # cannot pay its MRC: delinquent, blocked
    provision.put_plan(
        deployment.couch,
        deployment.master,
        "bad",
        {"name": "Bad", "plan": {"devices": {"sip_device": {"rate": "ten"}}}},
        now(),
    )
    held = deployment.account(devices=1, plans={"bad": deployment.master})
    deployment.start("w1")
    wait_for(lambda: deployment.debits(good, "mrc"))
    wait_for(lambda: f"blocked account {poor}" in deployment.log("w1"), timeout=30)
    log = deployment.log("w1")
    [line] = [entry for entry in log.splitlines() if "charges written" in entry and good in entry][:1]
    assert "INFO" in line and f"{good} 1 (mrc) {expected_prorate(Decimal(30))} USD" in line
    assert f"blocked account {poor}: delinquent, available funds 0" in log

    def listing(*args):
        run = subprocess.run(
            [str(BIN), "accounts", "list", *args, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env=deployment.env,
        )
        assert run.returncode == 0, run.stderr
        return {r["account"]: r for r in json.loads(run.stdout)}

    rows = wait_for(lambda: (r := listing()) and r[poor]["blocked"] and r)
    assert (rows[good]["standing"], rows[good]["blocked"], rows[good]["held"]) == ("good_standing", None, None)
    assert Decimal(str(rows[good]["balance"])) == Decimal(1000) - expected_prorate(Decimal(30))
    assert (rows[poor]["standing"], rows[poor]["blocked"], rows[poor]["balance"]) == ("delinquent", "bookkeeper", 0)
    assert 'rate: not a number: "ten"' in rows[held]["held"]
    assert set(listing("--delinquent")) == {poor} and set(listing("--blocked")) == {poor}
    assert set(listing("--reseller", deployment.master)) == set(rows)  # the master bills everyone here
