"""The reseller tree, settings fallback, services docs and blocking, against a real server."""

from datetime import UTC, datetime

import pytest

from bookkeeper import provision
from bookkeeper.accounts import BLOCK_MARKER, Directory, master_account_id, written_by_us
from bookkeeper.dbnames import account_db
from bookkeeper.errors import InputError

START = datetime(2026, 3, 1, tzinfo=UTC)


def test_reseller_is_the_nearest_reseller_ancestor_else_master(world):
    master = world.account("Master")
    reseller = world.account("Reseller", [master], reseller=True)
    sub = world.account("Sub", [master, reseller])
    customer = world.account("Customer", [master, reseller, sub])
    direct = world.account("Direct", [master])
    assert master_account_id(world.couch) == master
    directory = Directory(world.couch, master)
    assert directory.reseller_of(directory.account(customer)) == reseller
    assert directory.reseller_of(directory.account(sub)) == reseller
    assert directory.reseller_of(directory.account(direct)) == master
    assert directory.reseller_of(directory.account(reseller)) == master  # billed by its own reseller
    assert sorted(directory.descendants(reseller)) == sorted([sub, customer])


def test_settings_fall_back_key_by_key_to_the_master_then_defaults(world):
    master = world.account("Master")
    reseller = world.account("Reseller", [master], reseller=True)
    provision.put_billing_settings(
        world.couch, master, {"currency": "USD", "billing_day": 5, "timezone": "America/New_York"}, START
    )
    provision.put_billing_settings(world.couch, reseller, {"currency": "EUR", "billing_day": 15}, START)
    directory = Directory(world.couch, master)
    own = directory.reseller_settings(reseller)
    assert (own.currency, own.billing_day, own.timezone, own.block_on_negative) == ("EUR", 15, "America/New_York", True)
    assert directory.reseller_settings(master).billing_day == 5


def test_invalid_settings_name_the_document_and_field(world):
    master = world.account("Master")
    provision.put_billing_settings(world.couch, master, {"billing_day": 31}, START)
    with pytest.raises(InputError) as err:
        Directory(world.couch, master).reseller_settings(master)
    assert str(err.value) == f"{account_db(master)}/configs_bookkeeper: billing_day: must be 1..28, got 31"


def test_block_cascades_to_descendants_and_unblock_never_lifts_an_admins_block(world):
    master = world.account("Master")
    parent = world.account("Parent", [master])
    child = world.account("Child", [master, parent])
    admin_blocked = world.account("Admin-blocked child", [master, parent])
    for db in (world.couch.db("accounts"), world.couch.db(account_db(admin_blocked))):
        doc = db.get(admin_blocked)
        db.put({**doc, "pvt_enabled": False})  # an administrator's block
    directory = Directory(world.couch, master)
    now = datetime(2026, 3, 2, tzinfo=UTC)

    assert sorted(directory.set_enabled(parent, False, now)) == sorted([parent, child])
    for account in (parent, child):
        for db in (world.couch.db("accounts"), world.couch.db(account_db(account))):
            doc = db.get(account)
            assert doc["pvt_enabled"] is False and doc[BLOCK_MARKER] is True
            assert written_by_us(doc)

    assert sorted(directory.set_enabled(parent, True, now)) == sorted([parent, child])
    assert world.couch.db("accounts").get(child)["pvt_enabled"] is True
    assert BLOCK_MARKER not in world.couch.db("accounts").get(child)
    kept = world.couch.db("accounts").get(admin_blocked)
    assert kept["pvt_enabled"] is False and BLOCK_MARKER not in kept


@pytest.mark.parametrize("dialect", ["4.3", "4.2"])
def test_services_doc_carries_quantities_the_way_each_kazoo_reads_them(world, dialect):
    world.config = world.config.model_copy(update={"dialect": dialect})
    master = world.account("Master")
    acct = world.account("Acct", [master])
    directory = Directory(world.couch, master, dialect)
    account = directory.account(acct)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    directory.save_services([(account, ({"devices": {"sip_device": 2}}, {}, "delinquent"))], now)
    doc = world.couch.db("services").get(acct)
    assert doc["pvt_status"] == "delinquent"
    if dialect == "4.3":
        assert doc["quantities"]["account"] == {"devices": {"sip_device": 2}}
    else:
        assert doc["quantities"] == {"devices": {"sip_device": 2}} and doc["pvt_dirty"] is False
    rev = doc["_rev"]
    directory.save_services([(directory.account(acct), ({"devices": {"sip_device": 2}}, {}, "delinquent"))], now)
    assert world.couch.db("services").get(acct)["_rev"] == rev  # nothing changed: not rewritten
    stale = Directory(world.couch, master, dialect).account(acct)
    world.couch.db("services").put({**doc, "note": "an admin's edit"})
    directory.save_services([(stale, ({"devices": {"sip_device": 3}}, {}, "good_standing"))], now)
    doc = world.couch.db("services").get(acct)  # the conflict was read again and redone over the edit
    assert doc["note"] == "an admin's edit" and doc["pvt_status"] == "good_standing"


def test_quantities_are_recounted_from_the_account_db(world):
    master = world.account("Master")
    acct = world.account("Acct", [master])
    provision.add_docs(
        world.couch,
        acct,
        [
            {"pvt_type": "device"},
            {"pvt_type": "device", "device_type": "softphone"},
            {"pvt_type": "device", "enabled": False},
            {"pvt_type": "device", "pvt_deleted": True},
            {"pvt_type": "user", "priv_level": "admin"},
        ],
        START,
    )
    provision.put_limits(world.couch, acct, {"twoway_trunks": 3}, START)
    assert Directory(world.couch, master).quantities(acct) == {
        "devices": {"sip_device": 1, "softphone": 1},
        "users": {"admin": 1},
        "limits": {"twoway_trunks": 3},
    }
