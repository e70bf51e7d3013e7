"""The Python quantity rules and the `bookkeeper_services/quantify` view agree, on a real server."""

from bookkeeper import designdocs
from bookkeeper.plans import add_quantities, from_view_rows, quantities_of

# KAZOO documents covering every quantity rule.
CORPUS = [
    {"_id": "u1", "pvt_type": "user", "priv_level": "admin"},
    {"_id": "u2", "pvt_type": "user"},
    {"_id": "u3", "pvt_type": "user", "priv_level": "user", "qubicle": {"enabled": True, "recipient": {}}},
    {"_id": "u4", "pvt_type": "user", "qubicle": {"enabled": True, "recipient": {"offering": "premium"}}},
    {"_id": "u5", "pvt_type": "user", "enabled": False},
    {"_id": "u6", "pvt_type": "user", "pvt_deleted": True},
    {"_id": "u7", "pvt_type": "user", "enabled": 0},
    {"_id": "u8", "pvt_type": "user", "enabled": True, "qubicle": {"enabled": False, "recipient": {}}},
    {"_id": "d1", "pvt_type": "device"},
    {"_id": "d2", "pvt_type": "device", "device_type": "softphone"},
    {"_id": "d3", "pvt_type": "device", "device_type": "sip_device", "billing": {"rack_units": 2, "bad": "x"}},
    {"_id": "d4", "pvt_type": "device", "enabled": False, "billing": {"rack_units": 5}},
    {"_id": "limits", "pvt_type": "limits", "twoway_trunks": 3, "inbound_trunks": 0, "outbound_trunks": "2"},
    {"_id": "whitelabel", "pvt_type": "whitelabel"},
    {"_id": "ip1", "pvt_type": "dedicated_ip"},
    {
        "_id": "apps_store",
        "apps": {
            "a1": {"name": "voip", "allowed_users": "all"},
            "a2": {"name": "callflows", "allowed_users": "admins"},
            "a3": {"name": "fax", "allowed_users": "specific", "users": [{"id": "u1"}, {"id": "u2"}]},
            "a4": {"name": "blocked", "allowed_users": "all"},
            "a5": {"name": "nobody", "allowed_users": "specific", "users": []},
        },
        "blacklist": ["a4"],
    },
    {
        "_id": "+14158867900",
        "pvt_type": "number",
        "pvt_module_name": "knm_bandwidth2",
        "pvt_features": {"e911": {}, "cnam": {}},
    },
    {"_id": "+18005550100", "pvt_type": "number", "pvt_module_name": "knm_bandwidth2"},
    {"_id": "+19005550100", "pvt_type": "number", "pvt_module_name": "knm_other"},
    {"_id": "+18765550100", "pvt_type": "number", "pvt_module_name": "knm_other"},
    {"_id": "+442079460000", "pvt_type": "number", "pvt_module_name": "knm_other"},
    {"_id": "911", "pvt_type": "number", "pvt_module_name": "knm_local"},
    {"_id": "+14158867901", "pvt_type": "number", "pvt_module_name": "knm_local", "pvt_features": ["local"]},
    {"_id": "+14158867902", "pvt_type": "number", "pvt_module_name": "knm_local", "pvt_features": {"local": {}}},
    {"_id": "+1234", "pvt_type": "number", "pvt_module_name": "knm_other", "pvt_deleted": True},
    {"_id": "weird", "pvt_type": "number"},
    {"_id": "q1", "pvt_type": "qubicle_queue"},
    {"_id": "q2", "pvt_type": "qubicle_queue", "pvt_offering": "pro"},
    {"_id": "vm1", "pvt_type": "vmbox", "transcribe": True},
    {"_id": "vm2", "pvt_type": "vmbox"},
    {"_id": "fb1", "pvt_type": "faxbox"},
    {"_id": "c1", "pvt_type": "conference"},
    {"_id": "cam1", "pvt_type": "camera", "billing": {"cloud_storage_gb": 50}},
    {"_id": "other", "pvt_type": "callflow"},
    # poison: malformed fields count nothing, in both
    {"_id": "p1", "pvt_type": "device", "device_type": 7},
    {"_id": "p2", "pvt_type": "user", "priv_level": ["admin"]},
    {"_id": "p3", "pvt_type": "number", "pvt_module_name": {"x": 1}},
]


def _python_totals(docs):
    total = {}
    for doc in docs:
        total = add_quantities(total, quantities_of(doc))
    return {c: {i: n for i, n in items.items() if n} for c, items in total.items() if any(items.values())}


def test_view_and_python_agree(new_db):
    db = new_db("quantify")
    designdocs.install(db, "bookkeeper_services")
    db.bulk_docs(CORPUS)
    rows = db.view("bookkeeper_services", "quantify", group_level=2)["rows"]
    assert from_view_rows(rows) == _python_totals(CORPUS)
    assert from_view_rows(rows)["phone_numbers"] == {
        "did_us": 1,
        "tollfree_us": 1,
        "toll_us": 1,
        "caribbean": 1,
        "international": 1,
        "emergency": 1,
        "unknown": 2,
    }


def test_view_follows_updates_and_deletes(new_db):
    db = new_db("quantify2")
    designdocs.install(db, "bookkeeper_services")
    db.bulk_docs([{"_id": "d1", "pvt_type": "device"}, {"_id": "d2", "pvt_type": "device"}])
    doc = db.get("d2")
    db.put({**doc, "pvt_deleted": True})
    rows = db.view("bookkeeper_services", "quantify", group_level=2)["rows"]
    assert from_view_rows(rows) == {"devices": {"sip_device": 1}}


def test_plans_listing_view(new_db):
    db = new_db("plans")
    designdocs.install(db, "bookkeeper_services")
    db.bulk_docs(
        [
            {"_id": "gold", "pvt_type": "service_plan", "name": "Gold", "category": "Base"},
            {"_id": "old", "pvt_type": "service_plan", "name": "Old", "pvt_deleted": True},
            {"_id": "d1", "pvt_type": "device"},
        ]
    )
    rows = db.view("bookkeeper_services", "plans")["rows"]
    assert [(r["id"], r["value"]["name"], r["value"]["category"]) for r in rows] == [("gold", "Gold", "Base")]


def test_problems_name_the_malformed_fields():
    from bookkeeper.plans import problems

    assert problems({"pvt_type": "limits", "twoway_trunks": "lots", "inbound_trunks": 2}) == [
        "twoway_trunks: not a whole number ≥ 0: 'lots'"
    ]
    assert problems({"pvt_type": "device", "device_type": 7}) == ["device_type: not a string: 7"]
    assert problems({"pvt_type": "device", "billing": {"gb": "x"}}) == ["billing.gb: not a whole number: 'x'"]
    assert problems({"pvt_type": "device", "device_type": "softphone"}) == []
