"""The `bookkeeper` command: parses, calls the library, prints a table or `--json`. No billing logic here.

Errors a user can fix (bad input, an unreachable server) print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import click

from bookkeeper import designdocs
from bookkeeper.config import Settings, load_settings
from bookkeeper.couch import Couch, CouchError
from bookkeeper.embedded import EmbeddedServer, connect
from bookkeeper.errors import BookkeeperError


class App:
    """What every command gets: the settings, and a CouchDB connection opened on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._couch: Couch | None = None

    @property
    def couch(self) -> Couch:
        if self._couch is None:
            self._couch = connect(self.settings)
        return self._couch


class Group(click.Group):
    """A click group that turns library errors into one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (BookkeeperError, CouchError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


def _default(value):
    """JSON numbers for Decimals (already rounded money prints as itself, e.g. 14.19)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def emit(data, as_json: bool, table=None) -> None:
    """Print `data` as JSON, or as a human table with `table(data) -> str` (JSON when none is given)."""
    if as_json or table is None:
        click.echo(json.dumps(data, indent=2, default=_default))
    else:
        click.echo(table(data))


def rows_table(rows: list[dict], columns: list[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
pass_app = click.make_pass_decorator(App)


@click.group(cls=Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="BOOKKEEPER_CONFIG",
              help="TOML settings file (environment variables BOOKKEEPER_* override it).")
@click.option("--couch-url", envvar="BOOKKEEPER_COUCH_URL", help="CouchDB URL; default: the embedded server.")
@click.version_option(package_name="couch-bookkeeper")
@click.pass_context
def main(ctx, config_path, couch_url):
    """couch-bookkeeper: a CouchDB-native billing engine for KAZOO-style platforms."""
    ctx.obj = App(load_settings(config_path, couch_url=couch_url))


# --- config ---
@main.group(cls=Group)
def config():
    """Show the settings in force."""


@config.command("show")
@json_option
@pass_app
def config_show(app, as_json):
    """The settings in force, without credentials."""
    emit(app.settings.display(), as_json,
         lambda d: "\n".join(f"{k} = {v}" for k, v in d.items()))


# --- couch ---
@main.group(cls=Group)
def couch():
    """Run the embedded CouchDB-compatible server (PouchDB Server)."""


def _server(app: App, port: int | None, in_memory: bool = False) -> EmbeddedServer:
    return EmbeddedServer(app.settings.var_dir, port or app.settings.embedded_port, in_memory)


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
    emit(status, as_json, lambda s: f"{s['url']}: " + ("running" if s["answers"] else "not answering")
         + (f" (pid {s['pid']})" if s["pid"] else ""))
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
    """Install or update design documents; unchanged ones are left alone."""
    from bookkeeper.databases import install_views

    written = install_views(app.couch, app.settings, all_accounts=all_accounts)
    emit(written, as_json, lambda w: "\n".join(f"{db}: {', '.join(names)}" for db, names in w.items())
         or "all design documents are current")


if __name__ == "__main__":
    main()
