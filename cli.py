"""The `bookkeeper` command: parses, calls the library, prints a table or `--json`. No billing logic here.

Errors a user can fix (bad input, an unreachable server) print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import click

from bookkeeper.config import Config, load_config
from bookkeeper.couch import Couch, CouchError, Forbidden, NotFound, Unauthorized, Unavailable, redact
from bookkeeper.embedded import EmbeddedServer, connect
from bookkeeper.errors import BookkeeperError, os_reason
from bookkeeper.jsontext import dumps

if TYPE_CHECKING:  # imported where used: commands that do not need them start faster
    from bookkeeper.accounts import Directory


class App:
    """What every command gets: the settings, and a CouchDB connection opened on first use."""

    def __init__(self, config: Config):
        self.config = config
        self._couch: Couch | None = None
        self._directory: Directory | None = None

    @property
    def couch(self) -> Couch:
        if self._couch is None:
            couch = connect(self.config)
            couch.request("GET", "/", retry=False)  # an unreachable server: one line now, not retries first
            self._couch = couch
        return self._couch

    @property
    def directory(self):
        """The accounts, their resellers and settings (`bookkeeper.accounts.Directory`), opened on first use."""
        if self._directory is None:
            from bookkeeper.accounts import Directory, master_account_id

            self._directory = Directory(
                self.couch, master_account_id(self.couch, self.config.master_account), self.config.dialect
            )
        return self._directory

    def when(self, text: str | None, where: str, account_id: str | None = None):
        """A date or time a person typed (None: now): a day, or a time without an offset, is in the time zone
        of the account's billing reseller (of the master without an account)."""
        from datetime import datetime

        from bookkeeper.cli_parse import parse_time

        if not text:
            return datetime.now(UTC)
        return parse_time(text, where, self.directory.local_zone(account_id))

    @property
    def server_url(self) -> str:
        """The server URL as it may be shown (no credentials)."""
        if self._couch:
            return self._couch.url
        url = self.config.couch_url
        return redact(url).rstrip("/") if url else f"http://127.0.0.1:{self.config.embedded_port}"


def error_line(exc: Exception, app: App | None) -> str:
    """The one line a person sees for an error: no traceback, no raw CouchDB text."""
    where = app.server_url if app else "CouchDB"
    if isinstance(exc, Unavailable) and exc.status == 0:
        why = os_reason(exc.reason) or ("no answer in time" if "timed out" in exc.reason.lower() else "no answer")
        return f"cannot reach CouchDB at {where}: {why}"
    if isinstance(exc, Unavailable):
        return f"CouchDB at {where} is unavailable (HTTP {exc.status}) for {unquote(exc.path)}; try again later"
    if isinstance(exc, NotFound):
        return f"not found: {unquote(exc.path)}"
    if isinstance(exc, Unauthorized):
        return f"CouchDB at {where} refused the credentials: {exc.reason or 'see BOOKKEEPER_COUCH_USER/PASSWORD'}"
    if isinstance(exc, Forbidden):
        return f"CouchDB refused the write to {unquote(exc.path)}: {exc.reason}"
    if isinstance(exc, CouchError):
        return f"CouchDB at {where} answered HTTP {exc.status} ({exc.error}) for {unquote(exc.path)}"
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
    if isinstance(exc, click.ClickException):
        ctx = getattr(exc, "ctx", None)
        return exc.format_message() + (f" (see '{ctx.command_path} --help')" if ctx else "")
    return str(exc)


class Group(click.Group):
    """A click group that turns every error a person can fix into one line on stderr and exit code 2
    (`error_line`), usage errors included."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (BookkeeperError, CouchError, OSError, click.ClickException) as exc:
            click.echo(f"error: {error_line(exc, ctx.find_object(App))}", err=True)
            sys.exit(exc.exit_code if isinstance(exc, click.ClickException) else 2)


class AccountParam(click.ParamType):
    """An account id that exists in `accounts`; anything else is "no such account" (exit 2)."""

    name = "account"

    def convert(self, value, param, ctx):
        from bookkeeper.accounts import require_account

        return require_account(ctx.find_object(App).couch, value)


ACCOUNT = AccountParam()


def emit(data, as_json: bool, table=None) -> None:
    """Print `data` as JSON, or as a human table with `table(data) -> str` (JSON when none is given)."""
    if as_json or table is None:
        click.echo(dumps(data))
    else:
        click.echo(table(data))


def rows_table(rows: list[dict], columns: list[str]) -> str:
    """A plain aligned text table."""
    cells = [["" if r.get(c) is None else str(r[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
pass_app = click.make_pass_decorator(App)


@click.group(cls=Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="BOOKKEEPER_CONFIG",
    help="TOML settings file (environment variables BOOKKEEPER_* override it).",
)
@click.option("--couch-url", envvar="BOOKKEEPER_COUCH_URL", help="CouchDB URL; default: the embedded server.")
@click.version_option(package_name="couch-bookkeeper")
@click.pass_context
def main(ctx, config_path, couch_url):
    """couch-bookkeeper: a CouchDB-native billing engine for KAZOO-style platforms."""
    ctx.obj = App(load_config(config_path, couch_url=couch_url))


# --- config ---
@main.group(cls=Group)
def config():
    """Show the settings in force."""


@config.command("show")
@json_option
@pass_app
def config_show(app, as_json):
    """The settings in force, without credentials."""
    emit(app.config.display(), as_json, lambda d: "\n".join(f"{k} = {v}" for k, v in d.items()))


# --- couch ---
@main.group(cls=Group)
def couch():
    """Run the embedded CouchDB-compatible server (PouchDB Server)."""


def _server(app: App, port: int | None, in_memory: bool = False) -> EmbeddedServer:
    return EmbeddedServer(app.config.var_dir, port or app.config.embedded_port, in_memory)


@couch.command("start")
@click.option("--port", type=int, help="Port (default: embedded_port, 5984).")
@click.option("--in-memory", is_flag=True, help="Keep no data on disk (for tests).")
@json_option
@pass_app
def couch_start(app, port, in_memory, as_json):
    """Start the embedded server on 127.0.0.1 and wait until it answers."""
    emit(_server(app, port, in_memory).start().status(), as_json, lambda s: f"running at {s['url']} (pid {s['pid']})")


@couch.command("stop")
@click.option("--port", type=int, help="Port (default: embedded_port, 5984).")
@json_option
@pass_app
def couch_stop(app, port, as_json):
    """Stop the embedded server this project started (and nothing else)."""
    stopped = _server(app, port).stop()
    emit({"stopped": stopped}, as_json, lambda d: "stopped" if stopped else "not running")


@couch.command("status")
@click.option("--port", type=int, help="Port (default: embedded_port, 5984).")
@json_option
@pass_app
def couch_status(app, port, as_json):
    """Whether the embedded server runs and answers."""
    status = _server(app, port).status()
    emit(
        status,
        as_json,
        lambda s: (
            f"{s['url']}: "
            + ("running" if s["answers"] else "not answering")
            + (f" (pid {s['pid']})" if s["pid"] else "")
        ),
    )
    if not status["answers"]:
        sys.exit(1)


# --- views ---
@main.group(cls=Group)
def views():
    """Design documents (views/ folders) in the databases."""


@views.command("install")
@click.option("--all-accounts", is_flag=True, help="Also every account DB and monthly DB on the server.")
@json_option
@pass_app
def views_install(app, all_accounts, as_json):
    """Install or update our design documents (`_design/bookkeeper_*`; unchanged ones are left alone). KAZOO's
    (`ledgers`, `transactions` in monthly DBs) are only created where missing, never changed."""
    from bookkeeper.databases import install_views

    written = install_views(app.couch, app.config, all_accounts=all_accounts)
    emit(
        written,
        as_json,
        lambda w: (
            "\n".join(f"{db}: {', '.join(names)}" for db, names in w.items()) or "all design documents are current"
        ),
    )


# --- plans ---
@main.group("plans", cls=Group)
def plans_group():
    """Service plans: quote, validate, list, show, assign, unassign (docs/kazoo.md)."""


def _read_json(path: str):
    """A JSON file with exact (Decimal) numbers; unreadable or bad JSON is an error naming the file."""
    from bookkeeper.errors import InputError
    from bookkeeper.plans import loads

    try:
        return loads(Path(path).read_text(), path)
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror}") from None


def _plan_file(path: str):
    from bookkeeper.plans import load_plan

    doc = _read_json(path)
    return load_plan(doc, f"{path} ({doc['_id']})" if isinstance(doc, dict) and doc.get("_id") else path)


def _quote_table(quote: dict) -> str:
    from bookkeeper.plans import dumps

    invoices = quote.get("invoices", [quote])
    lines = []
    for invoice in invoices:
        rows = [{**item, "discount": (item.get("discounts") or {}).get("total", "")} for item in invoice["items"]]
        lines.append(
            rows_table(
                [{k: dumps(v) if not isinstance(v, str) else v for k, v in r.items()} for r in rows],
                ["category", "item", "quantity", "billable", "rate", "discount", "total"],
            )
        )
        lines += [
            f"  activation {a['category']}/{a['item']}: {dumps(a['billable'])} x {dumps(a['rate'])} = "
            f"{dumps(a['total'])}"
            for a in invoice["activation_charges"]
        ]
    lines.append(f"recurring {dumps(quote['summary']['recurring'])}  today {dumps(quote['summary']['today'])}")
    return "\n".join(lines)


@plans_group.command("quote")
@click.option(
    "--plan",
    "plan_files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="A KAZOO service plan document (repeat to merge several as KAZOO 4.3 does).",
)
@click.option(
    "--quantities",
    "quantities_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The account's own quantities {category: {item: n}}.",
)
@click.option("--cascade", "cascade_file", type=click.Path(dir_okay=False), help="The sum over descendants.")
@click.option(
    "--current",
    "current_file",
    type=click.Path(dir_okay=False),
    help="Quantities now, for activation charges (default: a new account, nothing yet).",
)
@click.option(
    "--dialect",
    type=click.Choice(["4.3", "4.2"]),
    default="4.3",
    show_default=True,
    help="How several plans are merged.",
)
@json_option
def plans_quote(plan_files, quantities_file, cascade_file, current_file, dialect, as_json):
    """Price quantities on plans, exactly as KAZOO 4.3 (docs/contracts.md). No database needed."""
    from bookkeeper.plans import dumps, load_quantities, quote

    read = lambda path: load_quantities(_read_json(path), path) if path else None  # noqa: E731
    quantities = load_quantities(_read_json(quantities_file), quantities_file)
    result = quote([_plan_file(p) for p in plan_files], quantities, read(cascade_file), read(current_file), dialect)
    click.echo(dumps(result) if as_json else _quote_table(result))


@plans_group.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--db", "reseller_id", type=ACCOUNT, help="Check every plan in this reseller's account DB instead.")
@pass_app
def plans_validate(app, file, reseller_id):
    """Check a plan document (or all of a reseller's) against KAZOO's service plan schema: "ok", or one line
    naming the field and exit 2."""
    from bookkeeper.dbnames import account_db
    from bookkeeper.errors import InputError
    from bookkeeper.plans import validate_plan_document

    if file and not reseller_id:
        doc = _read_json(file)
        validate_plan_document(doc, f"{file} ({doc['_id']})" if isinstance(doc, dict) and doc.get("_id") else file)
        click.echo("ok")
    elif reseller_id and not file:
        db = app.couch.db(account_db(reseller_id))
        rows = db.view("bookkeeper_services", "plans", include_docs=True)["rows"]
        for row in rows:
            validate_plan_document(row["doc"], f"{db.name}/{row['id']}")
        click.echo(f"ok: {len(rows)} plans")
    else:
        raise InputError("plans validate", None, "give a FILE or --db RESELLER_ID, not both")


def _reseller(app, reseller_id: str | None) -> str:
    from bookkeeper.accounts import master_account_id

    return reseller_id or master_account_id(app.couch, app.config.master_account)


@plans_group.command("list")
@click.argument("reseller_id", required=False, type=ACCOUNT)
@json_option
@pass_app
def plans_list(app, reseller_id, as_json):
    """The plans in a reseller's account DB (default: the master's), from the `bookkeeper_services/plans` view."""
    from bookkeeper.dbnames import account_db

    rows = app.couch.db(account_db(_reseller(app, reseller_id))).view("bookkeeper_services", "plans")["rows"]
    emit(
        [r["value"] for r in rows],
        as_json,
        lambda plans: rows_table(plans, ["id", "name", "category", "description"]) if plans else "no plans",
    )


@plans_group.command("show")
@click.argument("plan_id")
@click.option(
    "--reseller", "reseller_id", type=ACCOUNT, help="The reseller whose DB holds the plan (default: the master)."
)
@json_option
@pass_app
def plans_show(app, plan_id, reseller_id, as_json):
    """One plan document, validated: its items as a table, or the document with --json."""
    from bookkeeper.dbnames import account_db
    from bookkeeper.errors import InputError
    from bookkeeper.plans import dumps, load_plan

    db = app.couch.db(account_db(_reseller(app, reseller_id)))
    doc = db.get_or_none(plan_id)
    if doc is None or doc.get("pvt_type") != "service_plan" or doc.get("pvt_deleted"):
        raise InputError(db.name, None, f"no service plan {plan_id!r} (see `bookkeeper plans list`)")
    plan = load_plan(doc, f"{db.name}/{plan_id}")
    if as_json:
        click.echo(dumps(plan.dump()))
        return
    rows = [
        {
            "category": c,
            "item": k,
            **{
                f: dumps(v) if not isinstance(v, str) else v
                for f, v in item.dump().items()
                if not isinstance(v, (dict, list))
            },
        }
        for c, items in plan.plan.items()
        for k, item in items.items()
    ]
    click.echo(
        f"{plan.id}: {plan.name or ''}\n"
        + rows_table(
            rows, ["category", "item", "rate", "minimum", "maximum", "step", "activation_charge", "cascade", "as"]
        )
    )


def _edit_services(app, account_id: str, edit) -> dict:
    """Read-modify-write the account's services doc (`Database.update`); a missing doc is created."""
    from datetime import datetime

    from bookkeeper.accounts import Directory, master_account_id, new_services_doc
    from bookkeeper.dbnames import SERVICES_DB, check_account_id, to_gregorian

    def change(doc: dict | None) -> dict:
        now = datetime.now(UTC)
        if doc is None:
            directory = Directory(
                app.couch, master_account_id(app.couch, app.config.master_account), app.config.dialect
            )
            account = directory.account(account_id)
            doc = new_services_doc(account_id, account.tree, account.reseller, app.config.dialect, now)
        return {**edit(doc), "pvt_modified": to_gregorian(now)}

    written = app.couch.db(SERVICES_DB).update(check_account_id(account_id), change)
    assert written is not None  # `change` always returns a document
    return written


@plans_group.command("assign")
@click.argument("account_id", type=ACCOUNT)
@click.argument("plan_id")
@click.option(
    "--vendor", "vendor_id", type=ACCOUNT, help="The plan's vendor (default: the account's reseller, else the master)."
)
@click.option(
    "--overrides",
    "overrides_file",
    type=click.Path(dir_okay=False),
    help="JSON overrides for this plan (4.3: over the whole plan document; 4.2: category-level).",
)
@json_option
@pass_app
def plans_assign(app, account_id, plan_id, vendor_id, overrides_file, as_json):
    """Assign a plan to an account in its services doc (`plans.<id>`), like KAZOO's /services API."""
    from bookkeeper.dbnames import SERVICES_DB, account_db
    from bookkeeper.plans import assign, load_plan, merge_plans

    dialect = app.config.dialect
    services = app.couch.db(SERVICES_DB).get_or_none(account_id) or {}
    vendor_id = vendor_id or services.get("pvt_reseller_id") or _reseller(app, None)
    plan = load_plan(app.couch.db(account_db(vendor_id)).get(plan_id), f"{account_db(vendor_id)}/{plan_id}")
    overrides = _read_json(overrides_file) if overrides_file else None
    if overrides is not None:
        merge_plans([plan], overrides={plan_id: overrides}, dialect=dialect)
    doc = _edit_services(app, account_id, lambda d: assign(d, plan_id, vendor_id, overrides, dialect))
    emit(doc["plans"], as_json, lambda p: f"{account_id}: plans {', '.join(sorted(p))}")


@plans_group.command("unassign")
@click.argument("account_id", type=ACCOUNT)
@click.argument("plan_id")
@json_option
@pass_app
def plans_unassign(app, account_id, plan_id, as_json):
    """Remove a plan from an account's services doc."""
    from bookkeeper.plans import unassign

    doc = _edit_services(app, account_id, lambda d: unassign(d, plan_id, f"services/{account_id}"))
    emit(doc["plans"], as_json, lambda p: f"{account_id}: plans {', '.join(sorted(p)) or '(none)'}")


# --- billing ---
@main.group(cls=Group)
def billing():
    """Evaluate accounts: charges, standing, blocking."""


def _engine(app: App):
    from bookkeeper.billing import BillingEngine
    from bookkeeper.clock import SystemClock

    return BillingEngine(app.couch, app.config, SystemClock())


def _totals_line(totals: dict, currency: str) -> str:
    return (
        f"debits {totals['debits']} {currency}, credits {totals['credits']} {currency}, net {totals['net']} {currency}"
    )


def _run_table(d: dict) -> str:
    """`billing run` for people: every charge with its day and type, each account's standing, the totals."""
    charges = [{**c, "account": r["account"]} for r in d["accounts"] for c in r["charges"]]
    lines = (
        [
            rows_table(
                charges,
                ["date", "account", "type", "kind", "category", "item", "quantity", "factor", "amount", "currency"],
            ),
            "",
        ]
        if charges
        else ["nothing due", ""]
    )
    if d["accounts"]:
        lines.append(
            rows_table(
                [{**r, "charges": len(r["charges"]), **r["totals"]} for r in d["accounts"]],
                ["account", "standing", "charges", "debits", "credits", "written"],
            )
        )
    lines += [f"total: {_totals_line(t, currency)}" for currency, t in d["totals"].items()]
    if d["dry_run"]:
        lines.append("dry run: nothing written")
    return "\n".join(lines)


@billing.command("run")
@click.option("--at", "at", help="Evaluate as of this ISO-8601 time (default: now).")
@click.option("--account", "account_id", type=ACCOUNT, help="Only this account.")
@click.option("--dry-run", is_flag=True, help="Print the charges without writing anything.")
@json_option
@pass_app
def billing_run(app, at, account_id, dry_run, as_json):
    """Evaluate accounts now (or at --at): MRC, prorations, activations, daily fees, standing."""
    engine = _engine(app)
    moment = app.when(at, "--at", account_id) if at else engine.clock.now()
    if account_id:
        batches = [{account_id: engine.evaluate(account_id, moment, dry_run=dry_run)}]
    else:
        batches = engine.evaluate_batches(engine.directory.all_account_ids(), moment, dry_run)
    from bookkeeper.explain import run_account, run_totals

    results, failures = [], {}
    for batch in batches:  # rows kept, evaluations let go batch by batch
        for account, e in batch.items():
            if isinstance(e, Exception):
                failures[account] = e
            else:
                results.append(run_account(e))
    emit(
        {"at": moment.isoformat(), "dry_run": dry_run, "accounts": results, "totals": run_totals(results)},
        as_json,
        _run_table,
    )
    if failures:  # the others were evaluated and are shown above
        raise BookkeeperError(
            f"{len(failures)} account(s) not evaluated: " + "; ".join(f"{a}: {e}" for a, e in failures.items())
        )


@billing.command("explain")
@click.argument("account_id", type=ACCOUNT)
@click.option("--period", help="Any date inside the period (YYYY-MM-DD); default: the current period.")
@json_option
@pass_app
def billing_explain(app, account_id, period, as_json):
    """Every charge of a period with its day, type, rule, quantity, rate and proration factor; the totals and the
    account's standing."""
    from bookkeeper.explain import explain_period

    report = explain_period(app.directory, _ledger(app), account_id, app.when(period, "--period", account_id))

    def table(d):
        span, currency = d["period"], d["currency"]
        return (
            f"period {span['start'][:10]} .. {d['last_day']} ({span['days']} days, {span['timezone']}), "
            f"{currency}, {d['standing']}\n"
            + (
                rows_table(
                    d["entries"], ["date", "type", "kind", "category", "item", "quantity", "rate", "factor", "amount"]
                )
                if d["entries"]
                else "no entries"
            )
            + f"\ntotal: {_totals_line(d['totals'], currency)}"
        )

    emit(report, as_json, table)


# --- agents ---
@main.group("agents", cls=Group)
def agents_group():
    """Referral agents: accounts they bring, their commissions and statements (docs/agents.md)."""


def _agent(app: App, agent_id: str):
    """(the engine, the agent's account) for an account that is an agent."""
    engine = _engine(app)
    agent = engine.directory.account(agent_id)
    engine.agents.terms(agent)
    return engine, agent


@agents_group.command("create-account")
@click.argument("agent_id", type=ACCOUNT)
@click.option("--name", required=True, help="The new account's name.")
@click.option("--parent", "parent_id", type=ACCOUNT, help="Its parent account (default: the agent's parent).")
@json_option
@pass_app
def agents_create_account(app, agent_id, name, parent_id, as_json):
    """Create an account for a customer the agent brings; the agent is recorded as its referrer."""
    engine, agent = _agent(app, agent_id)
    account_id = engine.agents.create_account(app.config, agent, name, parent_id, app.when(None, "--at"))
    emit(
        {"account": account_id, "name": name, "referred_by": agent_id},
        as_json,
        lambda r: rows_table([r], ["account", "name", "referred_by"]),
    )


@agents_group.command("accounts")
@click.argument("agent_id", type=ACCOUNT)
@json_option
@pass_app
def agents_accounts(app, agent_id, as_json):
    """The accounts the agent brought, and those brought by agents it brought (level 2, ...)."""
    engine, agent = _agent(app, agent_id)
    referrals = engine.agents.referred(agent_id, len(engine.agents.terms(agent).levels))
    names = {a.id: a.name for a in engine.directory.accounts([r.account_id for r in referrals])}
    rows = [
        {
            "account": r.account_id,
            "name": names.get(r.account_id),
            "level": r.level,
            "via": r.via,
            "since": r.since.isoformat() if r.since else None,
            "until": r.until.isoformat() if r.until else None,
        }
        for r in referrals
    ]
    emit(
        rows,
        as_json,
        lambda rs: (
            rows_table(rs, ["account", "name", "level", "via", "since", "until"]) if rs else "no referred accounts"
        ),
    )


@agents_group.command("refer")
@click.argument("account_id", type=ACCOUNT)
@click.argument("agent_id", type=ACCOUNT)
@json_option
@pass_app
def agents_refer(app, account_id, agent_id, as_json):
    """Make AGENT the referrer of ACCOUNT from its next period on (the previous agent keeps the periods until)."""
    engine, _ = _agent(app, agent_id)
    fields = engine.agents.refer(account_id, agent_id, app.when(None, "--at"))
    emit(
        {"account": account_id, **fields},
        as_json,
        lambda r: f"{account_id}: referred by {r['pvt_referred_by']} from {r['pvt_referred_from']}",
    )


@agents_group.command("statement")
@click.argument("agent_id", type=ACCOUNT)
@click.option("--period", help="Any date inside the periods (YYYY-MM-DD); default: the last closed period.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), help="Also write the PDF to this file.")
@json_option
@pass_app
def agents_statement(app, agent_id, period, pdf_path, as_json):
    """Each referred account's consumption (the base) and the agent's commission for a period; the PDF is saved
    in the agent's monthly database beside its invoices."""
    from datetime import timedelta

    from bookkeeper.clock import period_containing

    engine, agent = _agent(app, agent_id)
    now = app.when(None, "--at")
    if period:
        at = app.when(period, "--period", agent_id)
    else:
        billing_settings = engine.directory.reseller_settings(agent.reseller)
        at = period_containing(now, billing_settings.billing_day, billing_settings.timezone).start - timedelta(
            seconds=1
        )
    summary, pdf = engine.agents.save_statement(agent, at, now)
    if pdf_path:
        Path(pdf_path).write_bytes(pdf)
    emit(
        summary,
        as_json,
        lambda s: (
            rows_table(
                s["lines"],
                ["account", "name", "level", "period", "base", "rate", "commission", "currency", "payout", "recorded"],
            )
            + "\n\n"
            + "  ".join(f"total {c} {a}" for c, a in sorted(s["totals"].items()))
        ),
    )


# --- reports ---
@main.group("reports", cls=Group)
def reports_group():
    """Usage per account or reseller, and the operator's billing metrics (docs/reports.md)."""


def _reports(app: App):
    from bookkeeper.reports import Reports

    engine = _engine(app)
    return Reports(app.couch, engine.ledger, engine.directory)


@reports_group.command("usage")
@click.argument("account_id", required=False, type=ACCOUNT)
@click.option(
    "--reseller", "reseller_id", type=ACCOUNT, help="Every account this reseller bills, instead of one ACCOUNT."
)
@click.option("--period", help="Any date inside the period (YYYY-MM-DD); default: the last closed period.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: one row per account and item.")
@click.option(
    "--chart",
    "chart_path",
    type=click.Path(dir_okay=False),
    help="Write a PNG chart of the daily quantities per item (one ACCOUNT).",
)
@json_option
@pass_app
def reports_usage(app, account_id, reseller_id, period, as_csv, chart_path, as_json):
    """Each billable item's daily quantities, high-water mark, days billed, rate and amount for a period."""
    from bookkeeper.documents.charts import usage_chart
    from bookkeeper.reports import USAGE_COLUMNS, usage_csv

    if bool(account_id) == bool(reseller_id):
        raise BookkeeperError("give an ACCOUNT or --reseller, not both")
    reports = _reports(app)
    now = app.when(None, "--at")
    at = (
        app.when(period, "--period", account_id or reseller_id)
        if period
        else reports.last_closed(account_id or reseller_id, now).start
    )
    usages = [reports.usage(account_id, at)] if account_id else reports.reseller_usage(reseller_id, at)
    if chart_path:
        if not account_id:
            raise BookkeeperError("--chart draws one ACCOUNT's usage")
        u = usages[0]
        Path(chart_path).write_bytes(
            usage_chart(u.report, f"{u.name}: usage {u.period.start_date} .. {u.period.last_date}")
        )
    if as_csv:
        click.echo(usage_csv(usages), nl=False)
        return
    data = usages[0].to_json() if account_id else [u.to_json() for u in usages]
    emit(data, as_json, lambda _: rows_table([r for u in usages for r in u.rows()], USAGE_COLUMNS))


@reports_group.command("metrics")
@click.option("--reseller", "reseller_id", type=ACCOUNT, help="One reseller (default: the master and every reseller).")
@click.option("--from", "start", help="First date (YYYY-MM-DD); default: a year before --to.")
@click.option("--to", "end", help="End date, exclusive (default: now).")
@click.option(
    "--chart", "chart_path", type=click.Path(dir_okay=False), help="Write a PNG chart of revenue and MRR per period."
)
@json_option
@pass_app
def reports_metrics(app, reseller_id, start, end, chart_path, as_json):
    """Revenue, MRR, ARPU, standing, new and cancelled accounts, payments, per reseller, currency and period."""
    from datetime import timedelta

    from bookkeeper.documents.charts import revenue_chart

    end_at = app.when(end, "--to", reseller_id)
    start_at = app.when(start, "--from", reseller_id) if start else end_at - timedelta(days=365)
    found = _reports(app).metrics(start_at, end_at, [reseller_id] if reseller_id else None)
    if chart_path:
        months = sorted({p["period_start"][:7] for r in found for p in r["periods"]})
        series: dict[str, list[float]] = {}
        for r in found:
            for name, key in ((f"revenue {r['currency']}", "revenue"), (f"MRR {r['currency']}", "mrr")):
                values = series.setdefault(name, [0.0] * len(months))
                for p in r["periods"]:
                    values[months.index(p["period_start"][:7])] += float(p[key])
        Path(chart_path).write_bytes(revenue_chart(months, series, "Revenue and MRR per period"))
    rows = [{"reseller": r["reseller"], "currency": r["currency"], **p} for r in found for p in r["periods"]]
    emit(
        found,
        as_json,
        lambda _: rows_table(
            rows,
            [
                "reseller",
                "currency",
                "period_start",
                "revenue",
                "mrr",
                "arpu",
                "accounts_charged",
                "payments",
                "new_accounts",
                "cancelled_accounts",
            ],
        ),
    )


# --- simulate ---
@main.command("simulate")
@click.argument("scenario_path", metavar="SCENARIO.json")
@click.option("--keep", is_flag=True, help="Keep the simulation's databases.")
@json_option
@pass_app
def simulate_cmd(app, scenario_path, keep, as_json):
    """Run a scenario through the real engine and change feeds on a simulated clock (docs/contracts.md)."""
    from simulator.run import simulate
    from simulator.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    result = simulate(scenario, app.couch, app.config, keep=keep)
    emit(
        result,
        as_json,
        lambda r: (
            rows_table(r["transactions"], ["at", "account", "type", "kind", "category", "item", "amount"])
            + "\n\nbalances: "
            + ", ".join(f"{k} {v} {r['currency'][k]}" for k, v in r["balances"].items())
        ),
    )


# --- demo ---
@main.group(cls=Group)
def demo():
    """Demo data."""


@demo.command("load")
@json_option
@pass_app
def demo_load(app, as_json):
    """Load a master account, a EUR reseller and customers with devices, users, numbers and plans."""
    from datetime import datetime

    from simulator.demo import load_demo

    result = load_demo(app.couch, app.config, datetime.now(UTC))
    emit(
        result,
        as_json,
        lambda r: (
            ("loaded" if r["loaded"] else "already loaded")
            + ": "
            + ", ".join(f"{k} {v}" for k, v in r["accounts"].items())
        ),
    )


# --- ledger ---
@main.group("ledger", cls=Group)
def ledger_group():
    """Money: balances, entries, credits and debits, corrections, carry-forwards, the check."""


AMOUNT_ARGS = {"ignore_unknown_options": True}  # `-10` is an AMOUNT (refused as such), not an option
LEDGER_REASONS = {"wire_transfer": "payment", "manual_addition": "manual", "admin_discretion": "manual"}


def _ledger(app: App):
    from bookkeeper.ledger import Ledger, horizon

    return Ledger(
        app.couch,
        dialect=app.config.dialect,
        horizon=horizon(app.config),
        currency_of=lambda *args: app.directory.currency_of(*args),
    )  # the directory only when money comes in


def _ledger_currency(app: App, account_id: str, currency: str | None) -> str:
    """The account's currency (its billing reseller's); a `--currency` that is another one is refused."""
    from bookkeeper.money import check_currency

    if currency:
        check_currency(currency, "--currency")
    return app.directory.currency_of(account_id, currency, "--currency")


def _entry_row(entry) -> dict:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "type": entry.type,
        "amount": entry.amount,
        "kind": entry.kind,
        "reason": entry.reason,
        "category": entry.category,
        "item": entry.item,
        "quantity": entry.quantity,
        "rate": entry.rate,
        "factor": entry.factor,
        "description": entry.description,
        "db": entry.db,
    }


def _written_row(result, account_id: str, amount, currency: str) -> dict:
    return {
        "account": account_id,
        "id": result.id,
        "db": result.db,
        "written": result.written,
        "amount": amount,
        "currency": currency,
    }


@ledger_group.command("balance")
@click.argument("account_id", type=ACCOUNT)
@click.option("--at", help="ISO-8601 date or time: the balance as it was then (default: now).")
@click.option("--currency", help="Currency to show (default: the account's reseller's).")
@json_option
@pass_app
def ledger_balance(app, account_id, at, currency, as_json):
    """The account's balance, carry-forward included."""
    from bookkeeper.money import round_money

    moment = app.when(at, "--at", account_id) if at else None
    currency = _ledger_currency(app, account_id, currency)
    amount = round_money(_ledger(app).balance(account_id, moment), currency)
    emit(
        {"account": account_id, "balance": amount, "currency": currency, "at": at},
        as_json,
        lambda d: f"{d['balance']} {currency}",
    )


@ledger_group.command("list")
@click.argument("account_id", type=ACCOUNT)
@click.option("--from", "start", help="ISO-8601 start (default: the first of this month, in the account's zone).")
@click.option("--to", "end", help="ISO-8601 end, exclusive (default: now).")
@click.option("--kind", help="Only entries of this kind (mrc, prorate, daily, payment, rollover, ...).")
@json_option
@pass_app
def ledger_list(app, account_id, start, end, kind, as_json):
    """Money entries in a time range, oldest first."""
    from bookkeeper.errors import InputError

    end_at = app.when(end, "--to", account_id)
    zone = app.directory.local_zone(account_id)
    start_at = (
        app.when(start, "--from", account_id)
        if start
        else end_at.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    )
    if start_at >= end_at:
        raise InputError("ledger list", "--from", f"{start_at.isoformat()} is not before --to {end_at.isoformat()}")
    rows = [_entry_row(e) for e in _ledger(app).entries(account_id, start_at, end_at, kind)]
    emit(
        rows,
        as_json,
        lambda r: (
            rows_table(r, ["at", "type", "amount", "kind", "category", "item", "description", "id"])
            if r
            else "no entries"
        ),
    )


def _money_command(name: str, doc: str):
    @ledger_group.command(name, help=doc, context_settings=AMOUNT_ARGS)
    @click.argument("account_id", type=ACCOUNT)
    @click.argument("amount")
    @click.option("--force", is_flag=True, help="Book an amount above the operator ceiling (operator_ceiling).")
    @click.option("--reason", type=click.Choice(sorted(LEDGER_REASONS)), required=True)
    @click.option("--description", required=True)
    @click.option("--currency", help="ISO 4217 code (default: the account's reseller's).")
    @click.option(
        "--key",
        help="Idempotency key of this account (e.g. a wire reference): written once; the same "
        "key with another amount or reason is refused.",
    )
    @click.option(
        "--at",
        help="ISO-8601 time of the entry; a day or a time without offset is in the account's zone (default: now).",
    )
    @json_option
    @pass_app
    def command(app, account_id, amount, force, reason, description, currency, key, at, as_json):
        from bookkeeper.money import operator_amount

        currency = _ledger_currency(app, account_id, currency)
        value = operator_amount(amount, currency, "AMOUNT", app.config.operator_ceiling, force)
        ledger = _ledger(app)
        write = ledger.credit if name == "credit" else ledger.debit
        result = write(
            account_id,
            value,
            currency,
            kind=LEDGER_REASONS[reason],
            reason=reason,
            description=description,
            at=app.when(at, "--at", account_id),
            key=key,
        )
        emit(
            _written_row(result, account_id, value, currency),
            as_json,
            lambda d: f"{name} {d['amount']} {currency}: {d['id']}" + ("" if d["written"] else " (already there)"),
        )

    return command


ledger_credit = _money_command("credit", "Add money to an account (a payment, or a manual credit).")
ledger_debit = _money_command("debit", "Take money from an account.")


@ledger_group.command("correct")
@click.argument("account_id", type=ACCOUNT)
@click.argument("entry_id")
@click.option("--description", required=True)
@click.option("--amount", help="Reverse only this much (default: the whole entry).")
@click.option("--currency", help="ISO 4217 code, if the entry does not say.")
@json_option
@pass_app
def ledger_correct(app, account_id, entry_id, description, amount, currency, as_json):
    """Reverse an entry (or part of it) with a new correction entry: the ledger is append-only."""
    from bookkeeper.errors import InputError
    from bookkeeper.ledger.documents import info_of
    from bookkeeper.money import parse_amount

    ledger = _ledger(app)
    currency = currency or info_of(ledger.entry(account_id, entry_id).doc).get("currency")
    if not currency:
        raise InputError(entry_id, "currency", "the entry does not say its currency: give --currency")
    value = parse_amount(amount, currency, "--amount") if amount else None
    result = ledger.correct(account_id, entry_id, description, app.when(None, "--at"), value, currency)
    emit(
        _written_row(result, account_id, value, currency),
        as_json,
        lambda d: f"correction {d['id']}" + ("" if d["written"] else " (already there)"),
    )


@ledger_group.command("rollover")
@click.option("--month", help="YYYY-MM (default: this month, UTC).")
@click.option(
    "--account", "account_id", type=ACCOUNT, help="Only this account (default: every account with a monthly DB)."
)
@json_option
@pass_app
def ledger_rollover(app, month, account_id, as_json):
    """Make sure the month carries every account's previous closing balance (create or correct; idempotent)."""
    from bookkeeper.cli_parse import parse_time
    from bookkeeper.databases import account_databases
    from bookkeeper.dbnames import parse_db_name

    when = parse_time(f"{month}-01", "--month") if month else app.when(None, "--month")
    ledger = _ledger(app)
    modbs = account_databases(app.couch)[1]
    ids = [account_id] if account_id else sorted({p.account_id for n in modbs if (p := parse_db_name(n)) is not None})
    for one in ids:
        ledger.ensure_rollover(one, when.year, when.month)
    emit(
        {"month": f"{when.year:04d}-{when.month:02d}", "accounts": ids},
        as_json,
        lambda d: f"{d['month']}: {len(ids)} account(s) carried forward",
    )


@ledger_group.command("verify")
@click.argument("account_id", type=ACCOUNT)
@json_option
@pass_app
def ledger_verify(app, account_id, as_json):
    """Recount every month, compare with KAZOO's views and check every carry-forward. Exit 1 on a mismatch."""
    problems = _ledger(app).verify(account_id)
    emit({"account": account_id, "problems": problems}, as_json, lambda d: "\n".join(problems) if problems else "sound")
    if problems:
        sys.exit(1)


# --- accounts ---
@main.group("accounts", cls=Group)
def accounts_group():
    """Accounts and their standing."""


@accounts_group.command("list")
@click.option("--delinquent", is_flag=True, help="Only accounts in delinquent standing.")
@click.option("--blocked", is_flag=True, help="Only disabled accounts (by the bookkeeper or an administrator).")
@click.option("--reseller", type=ACCOUNT, help="Only the customers this reseller bills.")
@json_option
@pass_app
def accounts_list(app, delinquent, blocked, reseller, as_json):
    """Every account: standing, block, balance, and why it is held if a document it depends on is invalid."""
    from bookkeeper.standing import standing_rows

    rows = standing_rows(
        app.directory, _ledger(app), app.when(None, "--at"), reseller=reseller, delinquent=delinquent, blocked=blocked
    )
    emit(
        rows,
        as_json,
        lambda r: (
            rows_table(r, ["account", "name", "standing", "blocked", "balance", "currency", "held"])
            if r
            else "no accounts"
        ),
    )


# --- invoices ---
@main.group("invoices", cls=Group)
def invoices_group():
    """Invoices per account and billing period: generate, list, show, fetch the PDF."""


def _invoices(app: App):
    from bookkeeper.accounts import Directory, master_account_id
    from bookkeeper.documents import Invoices

    directory = Directory(app.couch, master_account_id(app.couch, app.config.master_account), app.config.dialect)
    return Invoices(app.couch, _ledger(app), directory)


def _invoice_row(doc: dict, mailed=None) -> dict:
    from bookkeeper.documents.store import summary

    row = summary(doc)
    if mailed is not None:
        row["mailed_to"] = mailed
    return row


INVOICE_COLUMNS = ["number", "id", "issued", "period_start", "period_end", "total", "currency", "mailed"]


@invoices_group.command("generate")
@click.argument("account_id", required=False, type=ACCOUNT)
@click.option("--period", help="Any date inside the period (YYYY-MM-DD); default: the last closed period.")
@click.option(
    "--all",
    "due",
    is_flag=True,
    help="Every closed period (the last 3) without an invoice, of ACCOUNT or of every account.",
)
@click.option("--at", "at", help="Act as of this ISO-8601 time (default: now).")
@json_option
@pass_app
def invoices_generate(app, account_id, period, due, at, as_json):
    """Generate (or generate again: same number) invoices, and mail them where the reseller wants it."""
    from bookkeeper.documents import generate_due

    now = app.when(at, "--at", account_id)
    invoices = _invoices(app)
    if due:
        if period:
            raise BookkeeperError("--all and --period exclude each other")
        results = generate_due(
            app.couch,
            invoices.ledger,
            now,
            (lambda a: a == account_id) if account_id else (lambda a: True),
            directory=invoices.directory,
        )
        emit(
            results,
            as_json,
            lambda rows: (
                rows_table(rows, ["account", "period", "number", "generated", "mailed", "error"])
                if rows
                else "nothing due"
            ),
        )
        if any("error" in r for r in results):
            sys.exit(1)
        return
    if not account_id:
        raise BookkeeperError("give an ACCOUNT (with --period, or none for its last closed period) or --all")
    if period:
        span = invoices.period(account_id, app.when(period, "--period", account_id))
    else:
        closed = invoices.closed_periods(account_id, now, 1)
        if not closed:
            raise BookkeeperError(f"account {account_id}: no billing period has closed since it was created")
        span = closed[0]
    doc = invoices.generate(account_id, span, now)
    row = _invoice_row(doc, invoices.mail(account_id, doc, now))
    emit(row, as_json, lambda r: rows_table([r], INVOICE_COLUMNS))


@invoices_group.command("list")
@click.argument("account_id", type=ACCOUNT)
@json_option
@pass_app
def invoices_list(app, account_id, as_json):
    """The account's invoices, oldest period first."""
    rows = [_invoice_row(doc) for doc in _invoices(app).issued(account_id)]
    emit(rows, as_json, lambda r: rows_table(r, INVOICE_COLUMNS) if r else "no invoices")


@invoices_group.command("show")
@click.argument("account_id", type=ACCOUNT)
@click.argument("invoice", metavar="NUMBER_OR_ID")
@json_option
@pass_app
def invoices_show(app, account_id, invoice, as_json):
    """One invoice: its number, dates, lines, VAT and balances."""
    doc = {k: v for k, v in _invoices(app).find(account_id, invoice).items() if k != "_attachments"}
    st = doc["statement"]

    def table(d):
        lines = rows_table(
            st["services"] + st.get("adjustments", []) + st["movements"],
            ["dates", "description", "detail", "type", "amount"],
        )
        vat = st["vat"]
        return (
            f"{d['number']}  issued {d['issued']}  period {st['period']['start'][:10]} .. {d['period_end']}"
            f"  {st['currency']}\n{lines}\n"
            f"net {vat['net']}  VAT {vat['rate']}% ({vat['disposition']}) {vat['vat']}  "
            f"total {st.get('total', vat['gross'])}\n"
            f"opening {st['opening']} + credits {st['credits']} - debits {st['debits']} = closing {st['closing']}"
        )

    emit(doc, as_json, table)


@invoices_group.command("pdf")
@click.argument("account_id", type=ACCOUNT)
@click.argument("invoice", metavar="NUMBER_OR_ID")
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False, writable=True), help="Where to write the PDF."
)
@json_option
@pass_app
def invoices_pdf(app, account_id, invoice, output, as_json):
    """Write the invoice's PDF to --output."""
    data = _invoices(app).pdf(account_id, invoice)
    Path(output).write_bytes(data)
    emit({"output": Path(output), "bytes": len(data)}, as_json, lambda d: f"wrote {d['output']} ({d['bytes']} bytes)")


# --- run ---
@main.command("run")
@click.option("--worker-id", "--workers-id", "worker_id", help="This worker's name among several (default: host-pid).")
@click.option("--once", is_flag=True, help="Catch up every feed and everything due, then exit (for cron).")
@click.option("--metrics-port", type=int, help="Port of /metrics and /health (default: metrics_port setting).")
@click.option("--hooks-port", type=int, help="Port of the payment hooks (default: hooks_port setting).")
@click.option("--json-logs", is_flag=True, help="Log JSON lines.")
@json_option
@pass_app
def run_cmd(app, worker_id, once, metrics_port, hooks_port, json_logs, as_json):
    """The daemon: tail the account databases, charge in real time, tick at each reseller's 00:00, take payments."""
    from feeds import service
    from feeds.logformat import configure_logging

    config = app.config.model_copy(
        update={
            k: v
            for k, v in {
                "worker_id": worker_id,
                "metrics_port": metrics_port,
                "hooks_port": hooks_port,
                "log_json": json_logs or None,
            }.items()
            if v is not None
        }
    )
    configure_logging(config.log_json)
    if once:
        emit(
            service.run_once(app.couch, config),
            as_json,
            lambda d: f"caught up {d['databases']} databases; {d['charges_written']} charges written",
        )
        return
    code = service.run(app.couch, config, on_ready=click.echo)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not waiting for pool threads: work still in hand is left as a crash leaves it (docs/operations.md)


# --- pay ---
@main.group("pay", cls=Group)
def pay_group():
    """Money in through a gateway: card top-ups against the account's vaulted Braintree customer."""


@pay_group.command("topup", context_settings=AMOUNT_ARGS)
@click.argument("account_id", type=ACCOUNT)
@click.argument("amount")
@click.option("--force", is_flag=True, help="Charge an amount above the operator ceiling (operator_ceiling).")
@json_option
@pass_app
def pay_topup(app, account_id, amount, force, as_json):
    """Charge AMOUNT (the reseller's currency) to the account's card and credit it."""
    from datetime import datetime

    from bookkeeper.gateways import topup
    from bookkeeper.money import operator_amount

    value = operator_amount(
        amount, _ledger_currency(app, account_id, None), "AMOUNT", app.config.operator_ceiling, force
    )
    result = topup(app.couch, _ledger(app), account_id, value, datetime.now(UTC), directory=app.directory)
    emit(
        result.as_dict(),
        as_json,
        lambda d: (
            f"top-up {d['status']}: {d['amount']} {d['currency']}"
            + (f" ({d['reason']})" if d["reason"] else f", Braintree {d['transaction_id']}")
        ),
    )
    if result.status != "completed":
        sys.exit(1)


# --- hooks ---
@main.group("hooks", cls=Group)
def hooks_group():
    """The inbound payment hooks: /hooks/<gateway>/<reseller_id> and KAZOO 4.2's /kazoo/http_sync."""


@hooks_group.command("serve")
@click.option("--host", help="Address to listen on (default: hooks_host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: hooks_port, 8088).")
@pass_app
def hooks_serve(app, host, port):
    """Serve the hooks alone, in the foreground, until Ctrl-C."""

    from bookkeeper.gateways import make_app, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = serve(
        make_app(app.couch, app.config),
        host or app.config.hooks_host,
        app.config.hooks_port if port is None else port,
    )
    click.echo(f"hooks listening at {server.url}")
    try:
        server.thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@hooks_group.command("show")
@click.argument("reseller_id", type=ACCOUNT)
@json_option
@pass_app
def hooks_show(app, reseller_id, as_json):
    """A reseller's gateway configuration, secrets masked."""
    from bookkeeper.gateways.config import redacted

    shown = redacted(app.couch, reseller_id)
    emit(
        shown,
        as_json,
        lambda d: (
            "\n".join(f"{name}: " + ", ".join(f"{k}={v}" for k, v in section.items()) for name, section in d.items())
            or "no gateways configured"
        ),
    )


@hooks_group.command("configure")
@click.argument("reseller_id", type=ACCOUNT)
@click.argument("gateway", type=click.Choice(["braintree", "paypal", "yoomoney", "stripe", "http_sync"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_app
def hooks_configure(app, reseller_id, gateway, file):
    """Set one gateway's section from a JSON FILE (secrets stay out of shell history); validated first."""
    from bookkeeper.errors import InputError
    from bookkeeper.gateways.config import save_section

    try:
        section = json.loads(Path(file).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(file, None, f"not a readable JSON file: {exc}") from None
    save_section(app.couch, reseller_id, gateway, section)
    click.echo(f"{gateway} configured for {reseller_id}")


if __name__ == "__main__":
    main()
