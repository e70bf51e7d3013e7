"""`bookkeeper plans ...` as a user runs it: quote and validate need no server; list/show/assign/unassign use one."""

import json
import uuid
from pathlib import Path

from click.testing import CliRunner

from bookkeeper import designdocs
from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db
from cli import main

GOLDEN = Path(__file__).parent / "golden"


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_quote_golden_readme_prints_recurring():
    args = [
        "plans",
        "quote",
        "--plan",
        str(GOLDEN / "quote-readme.plan.json"),
        "--quantities",
        str(GOLDEN / "quote-readme.quantities.json"),
        "--cascade",
        str(GOLDEN / "quote-readme.cascade.json"),
    ]
    out = json.loads(run(*args, "--json").output)
    assert out["summary"]["recurring"] == 165.92
    assert [(i["item"], i["total"]) for i in out["items"]] == [("did_us", 14), ("user", 151.92)]
    table = run(*args)
    assert table.exit_code == 0 and "recurring 165.92" in table.output


def test_quote_activation_charges_against_current(tmp_path):
    plan = tmp_path / "p.json"
    plan.write_text('{"_id": "p", "plan": {"devices": {"sip_device": {"rate": 1, "activation_charge": 3}}}}')
    (tmp_path / "q.json").write_text('{"devices": {"sip_device": 3}}')
    (tmp_path / "c.json").write_text('{"devices": {"sip_device": 1}}')
    out = json.loads(
        run(
            "plans",
            "quote",
            "--plan",
            str(plan),
            "--quantities",
            str(tmp_path / "q.json"),
            "--current",
            str(tmp_path / "c.json"),
            "--json",
        ).output
    )
    assert out["summary"] == {"today": 6, "recurring": 3}


def test_validate_ok_and_one_line_error(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"_id": "plan_x", "name": "X", "plan": {"devices": {"sip_device": {"rate": 10}}}}')
    bad.write_text('{"_id": "plan_x", "plan": {"devices": {"sip_device": {"rate": "ten"}}}}')
    ok = run("plans", "validate", str(good))
    assert (ok.exit_code, ok.output) == (0, "ok\n")
    failed = CliRunner().invoke(main, ["plans", "validate", str(bad)])
    assert failed.exit_code == 2
    assert failed.stderr == f'error: {bad} (plan_x): plan.devices.sip_device.rate: not a number: "ten"\n'


def test_list_show_assign_unassign(server):
    couch = Couch(server.url)
    namespace = f"t{uuid.uuid4().hex[:8]}-"
    reseller, account = uuid.uuid4().hex, uuid.uuid4().hex
    env = {"BOOKKEEPER_NAMESPACE": namespace, "BOOKKEEPER_MASTER_ACCOUNT": reseller}
    rdb = couch.db(account_db(reseller))
    rdb.create()
    services = couch.db(namespace + "services")
    services.create()
    accounts = couch.db(namespace + "accounts")
    accounts.create()
    try:
        for known, tree in ((reseller, []), (account, [reseller])):  # commands refuse accounts not in `accounts`
            accounts.put({"_id": known, "pvt_type": "account", "name": "Acme", "pvt_tree": tree})
        designdocs.install(rdb, "bookkeeper_services")
        rdb.put(
            {
                "_id": "gold",
                "pvt_type": "service_plan",
                "name": "Gold",
                "category": "Base",
                "plan": {"devices": {"sip_device": {"rate": 12.5}}},
            }
        )
        base = ["--couch-url", server.url]
        listed = json.loads(run(*base, "plans", "list", "--json", env=env).output)
        assert listed == [{"id": "gold", "name": "Gold", "category": "Base"}]
        shown = json.loads(run(*base, "plans", "show", "gold", "--json", env=env).output)
        assert shown["plan"]["devices"]["sip_device"]["rate"] == 12.5
        assigned = run(*base, "plans", "assign", account, "gold", "--json", env=env)
        assert json.loads(assigned.output) == {"gold": {"vendor_id": reseller}}
        doc = services.get(account)  # created as KAZOO 4.3 creates one (the one builder: accounts.new_services_doc)
        assert (doc["pvt_type"], doc["plans"]) == ("service", {"gold": {"vendor_id": reseller}})
        assert (doc["pvt_vsn"], doc["pvt_tree"], doc["pvt_reseller_id"], doc["pvt_status"], doc["pvt_reseller"]) == (
            2,
            [reseller],
            reseller,
            "good_standing",
            False,
        )
        assert json.loads(run(*base, "plans", "unassign", account, "gold", "--json", env=env).output) == {}
        missing = CliRunner().invoke(main, [*base, "plans", "unassign", account, "gold"], env=env)
        assert missing.exit_code == 2 and missing.stderr == f"error: services/{account}: plans.gold: not assigned\n"
        unknown = CliRunner().invoke(main, [*base, "plans", "assign", uuid.uuid4().hex, "gold"], env=env)
        assert unknown.exit_code == 2 and "no such account" in unknown.stderr
    finally:
        rdb.delete()
        services.delete()
        accounts.delete()
