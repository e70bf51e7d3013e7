"""The chaos month: a seeded scenario (docs/contracts.md) over many accounts with device churn, trunk changes and
payments, and a resumable driver loop that walks it on a simulated clock exactly as `simulator.run` does.

Every event names its documents by id (`create` with an `_id`, `delete` of one `_id`), so replaying an event after
a crash is a no-op, and the disturbed and undisturbed runs create the same documents.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 4, 1, tzinfo=UTC)
PLAN = {
    "name": "Chaos",
    "plan": {
        "devices": {"sip_device": {"rate": 10, "activation_charge": 2.5}, "softphone": {"rate": 4}},
        "users": {"_all": {"as": "user", "rate": 8}},
        "limits": {"twoway_trunks": {"rate": 24.95}},
    },
}


EVENT_DAYS = (2, 5, 9, 13, 16, 20, 23, 27)  # events meet on a few moments: each moment costs a catch-up round


def scenario(accounts: int = 200, seed: int = 9) -> dict:
    """A month over `accounts` accounts: each starts with devices, users and trunks; during the month devices are
    added and removed, trunks change, and payments arrive (a few accounts run short and are topped up)."""
    rnd = random.Random(seed)
    spec: dict = {}
    events: list[dict] = []
    for n in range(accounts):
        label = f"a{n:04d}"
        docs = [
            {"_id": f"{label}-dev{k}", "pvt_type": "device", "device_type": rnd.choice(["sip_device", "softphone"])}
            for k in range(rnd.randint(1, 3))
        ]
        docs.append({"_id": f"{label}-user0", "pvt_type": "user", "priv_level": "user"})
        spec[label] = {
            "parent": "master",
            "plans": ["chaos"],
            "docs": docs,
            "balance": rnd.choice([40, 80, 150, 400]),
            "limits": {"twoway_trunks": rnd.randint(0, 2)},
        }
        live = [d["_id"] for d in docs if d["pvt_type"] == "device"]
        made = 0
        for _ in range(rnd.choice([0, 0, 1, 1, 2])):
            at = START + timedelta(days=rnd.choice(EVENT_DAYS), hours=9)
            kind = rnd.random()
            if kind < 0.45:
                made += 1
                doc = {"_id": f"{label}-new{made}", "pvt_type": "device", "device_type": "sip_device"}
                events.append({"at": at, "account": label, "create": doc})
                live.append(doc["_id"])
            elif kind < 0.6 and live:
                events.append({"at": at, "account": label, "delete": {"_id": live.pop(0)}})
            elif kind < 0.75:
                events.append({"at": at, "account": label, "limits": {"twoway_trunks": rnd.randint(0, 3)}})
            else:
                events.append({"at": at, "account": label, "credit": rnd.choice([20, 50, 120])})
    # a delete may have been drawn before its document's create: keep only deletes after their create
    created = {e["create"]["_id"]: e["at"] for e in events if "create" in e}
    events = [e for e in events if "delete" not in e or e["at"] > created.get(e["delete"]["_id"], START)]
    events.sort(key=lambda e: e["at"])
    for e in events:
        e["at"] = e["at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "start": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": UNTIL.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dialect": "4.3",
        "resellers": {"master": {"settings": {"currency": "USD", "billing_day": 1}, "plans": {"chaos": PLAN}}},
        "accounts": spec,
        "events": events,
    }


# -- building the world fast (bulk), the same documents `Simulation.build` writes


def build(sim, now=None, threads: int = 4) -> None:
    """`Simulation.build` in bulk: the master through `provision`, every other account's documents in one
    `_bulk_docs` per account DB and one each into `accounts` and `services`; then the opening credits."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from bookkeeper import designdocs, provision
    from bookkeeper.billing import BillingEngine
    from bookkeeper.couch import Couch
    from bookkeeper.dbnames import ACCOUNTS_DB, SERVICES_DB, account_db
    from bookkeeper.provision import _pvt

    s, now = sim.scenario, now or sim.scenario.start
    for label in s.order():
        sim.ids.setdefault(label, provision.new_account_id())
    master = sim.ids["master"]
    provision.create_account(sim.couch, sim.config, master, "Master", [], now, reseller=True, dialect=s.dialect)
    reseller = s.resellers["master"]
    provision.put_billing_settings(sim.couch, master, reseller.settings, now)
    for plan_id, plan in reseller.plans.items():
        provision.put_plan(sim.couch, master, plan_id, plan, now)
    labels = [label for label in s.order() if label != "master"]
    assert all(s.spec(label).parent == "master" and not s.spec(label).reseller for label in labels)
    local = threading.local()

    def couch() -> Couch:
        if not hasattr(local, "couch"):
            local.couch = Couch(sim.couch.url, namespace=sim.couch.namespace, auth=sim.couch.session.auth)
        return local.couch

    def one(label: str) -> tuple[dict, dict]:
        spec, account_id = s.spec(label), sim.ids[label]
        db = couch().db(account_db(account_id)).ensure()
        designdocs.install_kind(db, "account")
        doc = {
            "_id": account_id,
            "name": spec.name,
            "realm": f"{spec.name.lower().replace(' ', '-')}.example.com",
            "pvt_tree": [master],
            "pvt_enabled": True,
            **_pvt(account_id, now, "account"),
        }
        docs = [dict(doc)]
        if spec.limits is not None:
            docs.append({**spec.limits, "_id": "limits", **_pvt(account_id, now, "limits")})
        docs += [
            {"_id": d.get("_id") or provision.new_account_id(), **d, **_pvt(account_id, now, d.get("pvt_type"))}
            for d in spec.docs
        ]
        failed = {i: r for i, r in db.bulk_docs(docs).items() if r.get("error") and r["error"] != "conflict"}
        assert not failed, failed
        services = {
            "_id": account_id,
            **_pvt(account_id, now, "service"),
            "pvt_tree": [master],
            "pvt_reseller": False,
            "pvt_status": "good_standing",
            "pvt_vsn": 2,
            "plans": {p: {"vendor_id": master} for p in spec.plans},
            "quantities": {"account": {}, "cascade": {}},
        }
        return doc, services

    with ThreadPoolExecutor(threads) as pool:
        made = list(pool.map(one, labels))
    for name, docs in ((ACCOUNTS_DB, [a for a, _ in made]), (SERVICES_DB, [b for _, b in made])):
        for start in range(0, len(docs), 500):
            sim.couch.db(name).bulk_docs(docs[start : start + 500])
    sim.config = sim.config.model_copy(update={"master_account": master})
    sim.engine = BillingEngine(sim.couch, sim.config, sim.clock)

    def credit(label: str) -> None:
        from bookkeeper.ledger import Ledger

        if not hasattr(local, "ledger"):
            local.ledger = Ledger(couch(), dialect=s.dialect, clock=sim.clock)
        account_id = sim.ids[label]
        local.ledger.credit(
            account_id,
            s.spec(label).balance,
            "USD",
            kind="credit",
            reason="manual_addition",
            description="Opening balance",
            at=now,
            key=f"opening:{account_id}",
        )

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(credit, [label for label in labels if s.spec(label).balance > 0]))


# -- walking time, resumably

PROGRESS = "chaos_progress"


def attach(sim) -> None:
    """Give a Simulation whose world is already built its engine (a driver started again after a kill)."""
    from bookkeeper.billing import BillingEngine

    sim.config = sim.config.model_copy(update={"master_account": sim.ids["master"]})
    sim.engine = BillingEngine(sim.couch, sim.config, sim.clock)


def moments(sim) -> list[datetime]:
    """The scenario's start (the period start: every MRC) and each moment an event happens. The plan has no daily
    fee, so the day starts in between change nothing and are left out (they cost 200 evaluations each)."""
    return sorted({sim.scenario.start} | {e.at for e in sim.scenario.events})


def walk(sim, on_moment=None) -> int:
    """Walk the scenario as `Simulation.run` does (tick, events, catch-up, then the clock moves on), from the
    moment after the last one recorded in the progress document. Every step may be cut short by a SIGKILL and
    done again: events are idempotent, the engine is. Returns the number of moments walked in this call.

    Every evaluation at a moment comes after all of that moment's events are written (credits too: their
    evaluation follows the catch-up), so a replay after a kill evaluates what the undisturbed walk evaluated.
    Were a credit evaluated as it is applied, a kill between it and a later event of the same account would
    make the replay evaluate both changes at once, which may rightly charge differently (an MRC retried with
    the new device in it instead of before it) than the undisturbed walk that saw them one after the other."""
    from bookkeeper.dbnames import ACCOUNTS_DB, SERVICES_DB, account_db
    from feeds.catchup import catch_up

    state = sim.couch.db(sim.config.bookkeeper_db)
    progress = state.get_or_none(PROGRESS) or {"_id": PROGRESS, "done": ""}
    walked = 0
    for moment in moments(sim):
        if moment.isoformat() <= progress["done"]:
            continue
        sim.clock.set(moment)
        events = [e for e in sim.scenario.events if e.at == moment]
        if moment == sim.scenario.start:
            sim.engine.tick(moment)
            databases = sim._databases()
        else:
            databases = [ACCOUNTS_DB, SERVICES_DB, *sorted({account_db(sim.ids[e.account]) for e in events})]
        for event in events:
            apply(sim, event)
        catch_up(sim.couch, sim.engine, databases)
        for account_id in dict.fromkeys(sim.ids[e.account] for e in events if e.kind == "credit"):
            sim.engine.evaluate_with_reseller(account_id, moment)  # what the daemon's nudge does after a credit
        progress["done"] = moment.isoformat()
        state.put(progress)
        walked += 1
        if on_moment:
            on_moment(moment)
    return walked


def apply(sim, event) -> None:
    """`Simulation._apply`, made idempotent for events that name their document by id."""
    from bookkeeper import provision
    from bookkeeper.dbnames import account_db, to_gregorian

    account_id, now = sim.ids[event.account], event.at
    db = sim.couch.db(account_db(account_id))
    if event.kind == "create":
        assert event.count == 1 and event.body.get("_id")
        if db.get_or_none(event.body["_id"]) is None:
            provision.add_docs(sim.couch, account_id, [dict(event.body)], now)
    elif event.kind == "delete":
        doc = db.get(event.body["_id"])
        if not doc.get("pvt_deleted"):
            db.put({**doc, "pvt_deleted": True, "pvt_modified": to_gregorian(now)})
    elif event.kind == "limits":
        current = db.get_or_none("limits")
        if current is None or any(current.get(k) != v for k, v in event.body.items()):
            sim._apply(event)
    else:  # a keyed credit (a replay credits nothing); `walk` evaluates the account once the moment is applied
        sim.engine.ledger.credit(
            account_id,
            event.body,
            "USD",
            kind="manual",
            reason=event.reason or "manual_addition",
            description="Manual credit",
            at=now,
            key=f"sim:{account_id}:{event.index}",
        )


def simulation(scenario: dict, url: str, namespace: str, ids: dict | None = None):
    from bookkeeper.config import load_config
    from bookkeeper.couch import Couch
    from simulator.run import Simulation
    from simulator.scenario import parse_scenario

    couch = Couch(url, namespace=namespace)
    config = load_config(env={}, couch_url=url, namespace=namespace)
    return Simulation(parse_scenario(scenario, "chaos"), couch, config, ids=ids)
