"""The design-document installer against a real server."""

from bookkeeper import designdocs


def write_ddoc(root, name, map_js, targets="account"):
    view = root / name / "views" / "by_type"
    view.mkdir(parents=True, exist_ok=True)
    (view / "map.js").write_text(map_js)
    (view / "reduce.js").write_text("_count")
    (root / name / "targets").write_text(targets)


def test_install_is_idempotent_and_updates_changed_views(new_db, tmp_path):
    db = new_db()
    write_ddoc(tmp_path, "bookkeeper_demo", "function(doc){ emit(doc.pvt_type, null); }")
    ddoc = designdocs.load("bookkeeper_demo", tmp_path)
    assert designdocs.install(db, ddoc) is True
    rev1 = db.get("_design/bookkeeper_demo")["_rev"]
    assert designdocs.install(db, designdocs.load("bookkeeper_demo", tmp_path)) is False
    assert db.get("_design/bookkeeper_demo")["_rev"] == rev1  # unchanged: not rewritten, view not rebuilt

    db.bulk_docs([{"_id": "a", "pvt_type": "device"}, {"_id": "b", "pvt_type": "user"}])
    assert db.view("bookkeeper_demo", "by_type", group=True)["rows"] == [
        {"key": "device", "value": 1},
        {"key": "user", "value": 1},
    ]
    write_ddoc(tmp_path, "bookkeeper_demo", "function(doc){ if (doc.pvt_type === 'device') emit(doc.pvt_type, null); }")
    assert designdocs.install(db, designdocs.load("bookkeeper_demo", tmp_path)) is True
    assert db.get("_design/bookkeeper_demo")["_rev"] != rev1
    assert db.view("bookkeeper_demo", "by_type", group=True)["rows"] == [{"key": "device", "value": 1}]


def test_project_design_docs_parse_and_name_known_targets():
    for ddoc in designdocs.load_all():
        assert ddoc.targets, f"views/{ddoc.name}/targets is missing"
        for view in ddoc.body.get("views", {}).values():
            assert view["map"].startswith("function")


def test_a_kazoo_design_doc_is_created_where_missing_and_never_changed(new_db, tmp_path):
    """Only `bookkeeper_*` design documents are ours; one under any other name (KAZOO's `ledgers`) is written only
    where it does not exist, and an existing one keeps its revision and its views, by `install` and `install_kind`."""
    write_ddoc(tmp_path, "ledgers", "function(doc){ emit(doc.pvt_type, null); }", targets="modb")
    ddoc = designdocs.load("ledgers", tmp_path)
    assert not ddoc.ours
    fresh = new_db()
    assert designdocs.install(fresh, ddoc) is True
    assert fresh.get("_design/ledgers")["views"] == ddoc.body["views"]

    theirs = new_db()
    kazoo = {
        "_id": "_design/ledgers",
        "language": "javascript",
        "views": {"list_by_source": {"map": "function(doc){ emit(doc._id, 1); }"}},
    }
    rev = theirs.put(dict(kazoo))
    assert designdocs.install(theirs, ddoc) is False
    stored = theirs.get("_design/ledgers")
    assert stored["_rev"] == rev and stored["views"] == kazoo["views"]
