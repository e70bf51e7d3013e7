"""Validation errors, merging, quantities from documents, custom counters, exact JSON."""

from decimal import Decimal

import pytest

from bookkeeper.errors import InputError
from bookkeeper.plans import (
    Counter,
    add_quantities,
    apply_manual,
    cascade_sum,
    counter_quantities,
    dumps,
    load_counters,
    load_plan,
    load_quantities,
    loads,
    merge_plans,
    price,
    quantities_of,
    resolve_substitutes,
    subtract_quantities,
)

D = Decimal


@pytest.mark.parametrize(
    "doc,message",
    [
        (
            {"_id": "plan_x", "plan": {"devices": {"sip_device": {"rate": "ten"}}}},
            'plan_x: plan.devices.sip_device.rate: not a number: "ten"',
        ),
        (
            {"_id": "plan_x", "plan": {"devices": {"sip_device": {"rates": {"five": 1}}}}},
            'plan_x: plan.devices.sip_device.rates.five: tier key is not a whole number: "five"',
        ),
        (
            {"_id": "plan_x", "merge": {"strategy": "greedy"}},
            'plan_x: merge.strategy: unknown merge strategy "greedy" (simple, recursive, cumulative)',
        ),
        (
            {"_id": "plan_x", "plan": {"devices": {"sip_device": {"minimum": -1}}}},
            "plan_x: plan.devices.sip_device.minimum: must not be negative: -1",
        ),
        (
            {"_id": "plan_x", "plan": {"devices": {"sip_device": {"step": 0}}}},
            "plan_x: plan.devices.sip_device.step: must be at least 1: 0",
        ),
        ({"_id": "plan_x", "plan": {"devices": []}}, "plan_x: plan.devices: not an object: []"),
        (["not", "a", "plan"], 'plan: not an object: ["not", "a", "plan"]'),
    ],
)
def test_validation_errors_name_document_and_field(doc, message):
    with pytest.raises(InputError) as err:
        load_plan(doc)
    assert str(err.value) == message


def test_negative_quantity_is_an_error():
    with pytest.raises(InputError, match=r"^q.json: devices.sip_device: negative quantity: -2$"):
        load_quantities({"devices": {"sip_device": -2}}, "q.json")


def test_bad_json_names_the_file():
    with pytest.raises(InputError, match=r"^plan.json: not valid JSON"):
        loads("{", "plan.json")


def test_unknown_fields_are_kept_and_numbers_exact():
    doc = {
        "_id": "p",
        "x_note": {"a": 1},
        "plan": {"devices": {"sip_device": {"rate": D("0.1"), "as": "phone", "my_field": [1]}}},
    }
    assert load_plan(doc).dump() == doc
    assert (
        dumps(load_plan(loads('{"plan": {"c": {"i": {"rate": 0.1}}}}', "p")).dump(), None)
        == '{"plan": {"c": {"i": {"rate": 0.1}}}}'
    )


def plan(pid, items, **extra):
    return load_plan({"_id": pid, "plan": items, **extra})


def test_recursive_priority_and_undefined_priority_wins():
    low = plan(
        "low", {"devices": {"sip_device": {"rate": 1, "minimum": 2}}}, merge={"strategy": "recursive", "priority": 1}
    )
    high = plan("high", {"devices": {"sip_device": {"rate": 5}}}, merge={"strategy": "recursive", "priority": 9})
    none = plan("none", {"devices": {"sip_device": {"rate": 7}}}, merge={"strategy": "recursive"})
    [merged] = merge_plans([high, low])
    assert merged.plan.plan["devices"]["sip_device"].dump() == {"rate": 5, "minimum": 2}
    assert merged.plan.id == "single"
    [merged] = merge_plans([none, high, low])
    assert merged.plan.plan["devices"]["sip_device"].rate == 7


def test_strategy_priority_cumulative_beats_simple():
    simple = plan("s", {"devices": {"sip_device": {"rate": 1}}}, merge={"strategy": "simple", "priority": 99})
    cumulative = plan("c", {"devices": {"sip_device": {"rate": 3}}}, merge={"strategy": "cumulative"})
    [merged] = merge_plans([cumulative, simple])
    assert merged.plan.plan["devices"]["sip_device"].rate == 3
    [merged] = merge_plans([cumulative, simple], priorities={"simple": 60, "cumulative": 50})
    assert merged.plan.plan["devices"]["sip_device"].rate == 1


def test_cumulative_merge_scheme():
    a = plan(
        "a",
        {
            "users": {
                "_all": {
                    "rate": 10,
                    "minimum": 2,
                    "exceptions": ["admin"],
                    "maximum": 9,
                    "rates": {"5": 8},
                    "discounts": {"cumulative": {"maximum": 1}},
                }
            }
        },
        merge={"strategy": "cumulative", "priority": 2},
    )
    b = plan(
        "b",
        {
            "users": {
                "_all": {
                    "rate": 20,
                    "minimum": 3,
                    "exceptions": ["user"],
                    "cascade": True,
                    "rates": {"5": 6, "10": 7},
                    "discounts": {"cumulative": {"maximum": 4}},
                }
            }
        },
        merge={"strategy": "cumulative", "priority": 1},
    )
    [merged] = merge_plans([a, b])
    assert merged.plan.plan["users"]["_all"].dump() == {
        "rate": 10,
        "minimum": 5,
        "exceptions": ["admin", "user"],
        "cascade": True,
        "rates": {"5": 8, "10": 7},
        "discounts": {"cumulative": {"maximum": 5}},
    }


def test_overrides_global_then_per_plan_over_whole_document():
    p = plan("p", {"devices": {"sip_device": {"rate": 1}, "softphone": {"rate": 2}}})
    [merged] = merge_plans(
        [p],
        overrides={"p": {"plan": {"devices": {"sip_device": {"rate": 12}}}}},
        global_overrides={"plan": {"devices": {"sip_device": {"rate": 11}, "softphone": {"rate": 3}}}},
    )
    assert {k: v.rate for k, v in merged.plan.plan["devices"].items()} == {"sip_device": 12, "softphone": 3}


def test_bad_override_names_the_plan():
    with pytest.raises(InputError, match=r"^p \(with overrides\): plan.devices.sip_device.rate: not a number"):
        merge_plans([plan("p", {})], overrides={"p": {"plan": {"devices": {"sip_device": {"rate": "x"}}}}})


def test_one_invoice_per_bookkeeper_group():
    a = plan("a", {"devices": {"sip_device": {"rate": 1}}})
    b = plan("b", {"users": {"user": {"rate": 2}}}, bookkeeper={"id": "bt", "type": "braintree"})
    groups = merge_plans([a, b], vendor_id="reseller")
    assert [(g.plan_ids, g.bookkeeper) for g in groups] == [
        (("a",), {"id": "default_bookkeeper", "type": "default", "vendor_id": "reseller"}),
        (("b",), {"id": "bt", "type": "braintree", "vendor_id": "reseller"}),
    ]
    assert len({g.bookkeeper_hash for g in groups}) == 2


def test_dialect_42_quirks():
    low = plan("low", {"devices": {"sip_device": {"rate": 1}}}, merge={"strategy": "simple", "priority": 1})
    high = plan("high", {"devices": {"sip_device": {"rate": 5}}}, merge={"strategy": "simple", "priority": 9})
    [merged] = merge_plans([low, high], dialect="4.2")
    assert merged.plan.plan["devices"]["sip_device"].rate == 1  # 4.2: the lowest priority wins
    [merged] = merge_plans([low], overrides={"low": {"devices": {"sip_device": {"rate": 4}}}}, dialect="4.2")
    assert merged.plan.plan["devices"]["sip_device"].rate == 4  # category-level overrides
    x = plan("x", {"users": {"_all": {"as": "user", "rate": 3}}})
    y = plan("y", {"users": {"user": {"rate": 4}}})
    [merged] = merge_plans([x, y], dialect="4.2")  # no strategy: not merged; keyed by `as`, the later wins
    assert list(merged.plan.plan["users"]) == ["user"]


def test_quantity_rules():
    assert quantities_of({"pvt_type": "device"}) == {"devices": {"sip_device": 1}}
    assert quantities_of({"pvt_type": "device", "enabled": False}) == {}
    assert quantities_of({"pvt_type": "user", "pvt_deleted": True}) == {}
    assert quantities_of({"pvt_type": "user"}) == {"users": {"user": 1}}
    assert quantities_of({"_id": "limits", "twoway_trunks": 4, "inbound_trunks": 2}) == {
        "limits": {"twoway_trunks": 4, "inbound_trunks": 2}
    }
    assert quantities_of(
        {"_id": "+14158867900", "pvt_type": "number", "pvt_module_name": "knm_local", "pvt_features": {"local": {}}}
    ) == {"number_carriers": {"knm_local": 1}, "number_services": {"local": 1}}
    assert quantities_of({"_id": "+18005550100", "pvt_type": "number"}) == {"phone_numbers": {"tollfree_us": 1}}
    assert quantities_of({"pvt_type": "vmbox", "transcribe": True, "billing": {"storage": 3}}) == {
        "voicemails": {"mailbox": 1, "transcription": 1},
        "billing": {"storage": 3},
    }


def test_substitutes_manual_and_cascade():
    q = add_quantities(
        {"users": {"user": 3, "admin": 1}},
        quantities_of(
            {
                "_id": "apps_store",
                "apps": {"a": {"name": "voip", "allowed_users": "all"}, "b": {"name": "cf", "allowed_users": "admins"}},
            }
        ),
    )
    assert resolve_substitutes(q) == {
        "users": {"user": 3, "admin": 1},
        "user_apps": {"voip": 4, "cf": 1},
        "account_apps": {"voip": 1, "cf": 1},
    }
    assert apply_manual({"devices": {"sip_device": 3, "fax": 1}}, {"devices": {"sip_device": 10}}) == {
        "devices": {"sip_device": 10, "fax": 1}
    }
    assert subtract_quantities({"devices": {"sip_device": 3}}, {"devices": {"sip_device": 1}}) == {
        "devices": {"sip_device": 2}
    }
    assert cascade_sum([{"devices": {"sip_device": 2, "fax": 0}}, {"devices": {"sip_device": 5}}]) == {
        "devices": {"sip_device": 7}
    }


def test_custom_counter_bills_cameras():
    [counter] = load_counters(
        {"billable_counters": [{"category": "cameras", "view": "cameras/by_recording_days", "item": "{0}_days"}]},
        "configs_bookkeeper",
    )
    assert counter == Counter("cameras", "cameras", "by_recording_days", "{0}_days", 1)
    assert counter.query_params() == {"reduce": True, "group_level": 1}
    quantities = counter_quantities(
        counter, [{"key": [30], "value": 4}, {"key": [90], "value": 1}, {"key": [7], "value": 0}]
    )
    assert quantities == {"cameras": {"30_days": 4, "90_days": 1}}
    invoice = price(
        plan("cams", {"cameras": {"30_days": {"rate": D("4.99")}, "90_days": {"rate": D("9.99")}}}), quantities
    )
    assert invoice.recurring == D("29.95")


def test_custom_counter_errors():
    with pytest.raises(InputError, match=r'^cfg: billable_counters.0.view: not "design/view": "nope"$'):
        load_counters({"billable_counters": [{"category": "cameras", "view": "nope"}]}, "cfg")
    counter = Counter("cameras", "cameras", "by_days")
    with pytest.raises(InputError, match="not a whole number"):
        counter_quantities(counter, [{"key": "x", "value": 1.5}])
