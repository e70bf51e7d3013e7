"""The inbound hooks web app: `POST /hooks/<gateway>/<reseller_id>`, KAZOO 4.2's `POST /kazoo/http_sync`,
`GET /health`. A Flask app served by `server.HookServer` (asyncio reads each request whole within time and
size limits, a small thread pool runs the app: slow clients cannot hold its threads).

Answers: 200 once handled (credited, reversed, a replay, or ignored, with the reason); 403 `not verified` for a
malformed, forged or unverified notification and for a reseller without that gateway configured, alike (the log says
which), so a stranger cannot find out which resellers use which gateway; 404 an unknown gateway name or a reseller
id that is not a KAZOO account id; 413 too large; 422 wrong reseller, currency or amount; 503 when CouchDB or the
gateway cannot be reached or the configuration is broken, so the sender retries. Nothing is written before a
notification is verified and checked. Bodies are never logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ..accounts import Directory, UnknownAccount, master_account_id
from ..couch import Couch, CouchError
from ..dbnames import is_account_id
from ..errors import BookkeeperError, InputError
from ..ledger import Ledger, horizon
from . import braintree_gateway, kazoo_sync, paypal_ipn, stripe_gateway, yoomoney
from .base import Cashier, HookError, Inbound
from .config import GatewayConfig, load_section
from .server import HookServer

log = logging.getLogger(__name__)
GATEWAYS = {m.NAME: m for m in (braintree_gateway, paypal_ipn, yoomoney, stripe_gateway)}
MAX_BODY = 64 * 1024
MAX_HEADERS = 16 * 1024
HEADER_TIMEOUT = 10.0  # seconds for a request's line and headers
BODY_TIMEOUT = 20.0  # seconds for its body
THREADS = 8
MAX_CONNECTIONS = 2000
UNVERIFIED = (400, 403, 404)  # malformed, forged, or no such configuration: answered alike, as 403


def make_app(
    couch: Couch, config, after_credit: Callable[[str], None] | None = None, *, ledger: Ledger | None = None
) -> Flask:
    """The web app. `after_credit(account_id)` runs after money arrived (the daemon re-evaluates the account)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    ledger = ledger or Ledger(couch, config.dialect, horizon=horizon(config))
    master: list[str] = []

    def directory() -> Directory:
        if not master:
            master.append(master_account_id(couch, config.master_account))
        return Directory(couch, master[0], config.dialect)

    def answer(status: int, body: dict):
        return jsonify(body), status

    @app.post("/hooks/<gateway>/<reseller_id>")
    def hook(gateway: str, reseller_id: str):
        module = GATEWAYS.get(gateway)
        if module is None or not is_account_id(reseller_id):
            return answer(404, {"error": f"no hook /hooks/{gateway}/{reseller_id}"})
        inbound = Inbound(request.get_data(cache=False), request.headers)
        try:
            found = directory()
            config = load_section(couch, reseller_id, gateway)
            if not isinstance(config, GatewayConfig) or not config.enabled or not _is_reseller(found, reseller_id):
                raise HookError(404, f"{gateway} is not configured for reseller {reseller_id}")
            cashier = Cashier(couch, ledger, found, after_credit)
            currency = cashier.currency_of(reseller_id, config.currency)
            notice = module.notice(inbound, config)
            booked = cashier.book(reseller_id, currency, notice, datetime.now(UTC))
        except HookError as exc:
            log.info("hook %s/%s: %s %s", gateway, reseller_id, exc.status, exc.reason)
            if exc.status in UNVERIFIED:  # one answer, so strangers cannot tell which resellers use the gateway
                return answer(403, {"error": "not verified"})
            return answer(exc.status, {"error": exc.reason})
        except InputError as exc:
            log.error("hook %s/%s: %s", gateway, reseller_id, exc)
            return answer(503, {"error": "gateway misconfigured for this reseller"})
        except CouchError as exc:
            log.error("hook %s/%s: CouchDB: %s", gateway, reseller_id, exc)
            return answer(503, {"error": "storage unavailable, retry later"})
        results = [b.as_dict() for b in booked]
        log.info("hook %s/%s: %s", gateway, reseller_id, [r["result"] for r in results] or notice.note)
        return answer(200, {"result": "handled", "note": notice.note, "booked": results})

    @app.post("/kazoo/http_sync")
    def http_sync():
        try:
            found = directory()
            kazoo_sync.authorize(found, request.headers.get("Authorization"))
            status, body = kazoo_sync.standing(found, ledger, request.get_data(cache=False))
        except HookError as exc:
            return answer(exc.status, {"error": exc.reason})
        except (InputError, CouchError) as exc:
            log.error("http_sync: %s", exc)
            return answer(503, {"error": "unavailable, retry later"})
        return answer(status, body)

    @app.get("/health")
    def health():
        return answer(200, {"ok": True})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return answer(exc.code or 500, {"error": exc.description or exc.name})

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("hooks: internal error on %s", request.path)
        return answer(500, {"error": "internal error, retry later"})

    return app


def _is_reseller(directory: Directory, account_id: str) -> bool:
    """A hook's beneficiary must be a reseller (or the master), as OnNet's cb_paypal requires."""
    if account_id == directory.master_id:
        return True
    try:
        return directory.account(account_id).is_reseller
    except UnknownAccount:
        return False


def serve(app: Flask, host: str = "127.0.0.1", port: int = 8088) -> HookServer:
    """Serve `app` on (host, port; 0 = a free port) until `stop()` (see `server.HookServer`)."""
    try:
        return HookServer(
            app,
            host,
            port,
            max_body=MAX_BODY,
            max_headers=MAX_HEADERS,
            header_timeout=HEADER_TIMEOUT,
            body_timeout=BODY_TIMEOUT,
            threads=THREADS,
            max_connections=MAX_CONNECTIONS,
        )
    except OSError as exc:
        raise BookkeeperError(
            f"hooks: cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}"
        ) from None
