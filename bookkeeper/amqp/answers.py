"""What couch-bookkeeper answers to each KAZOO 4.3 bookkeeper request, through the one billing engine.

- standing: available funds (balance + postpay allowance) against `Estimated-Withdrawal`, our block and the
  standing of the account's latest evaluation; `good_standing` or `error` with a reason and a sentence. KAZOO
  waits 2 s for it, so it costs one request: the balance is read live (KAZOO writes ledgers of its own, e.g. per
  minute of a call), while the account's documents (block, standing, postpay terms) are kept for `FACTS_TTL`
  and forgotten whenever the engine evaluates the account (`forget`; the daemon's feeds evaluate an account when
  any of those documents changes).
- update: the account evaluated now as a change of its documents is (recounted, then its billing reseller for
  cascade quantities; deterministic charge ids make a repeat charge nothing; with `Dry-Run` the account is
  evaluated dry and nothing is written), KAZOO's invoice compared line by line with ours; `success` with the differences
  and the charges in `Details`, or `fatal`/`bookkeeper_fault` when the evaluation failed.
- sale / refund: the amount moved through the reseller's gateway (Braintree) under the order id
  `kazoo-<Transaction-ID>`; a repeat finds that order at the gateway and answers from it. Nothing is written to
  CouchDB: KAZOO keeps its own transaction document and, for a top-up, writes the ledger credit itself.
- collect_recurring: the period-start evaluation as of `Due-Timestamp`: a due time already reached is evaluated
  now (writing the MRC once), a future one is evaluated dry (the MRC is charged when its period starts);
  `successful` when the period's MRC is (or will be) paid.

Requests of another `Bookkeeper-Type` never reach these handlers. A request of ours for an account whose latest
evaluation found its plans billed by another bookkeeper (`BillingEngine.away`; KAZOO decided on older documents,
e.g. from its cache) is refused with `error`/`wrong_bookkeeper`: we neither charge nor judge an account that is
not ours.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..accounts import UnknownAccount
from ..billing import BillingEngine, Evaluation
from ..charging import DELINQUENT, GOOD_STANDING
from ..couch import CouchError
from ..dbnames import from_gregorian, is_account_id
from ..errors import BookkeeperError, InputError
from ..gateways import braintree_gateway
from ..gateways.config import BraintreeConfig, load_section
from ..money import format_money, from_units, parse_amount, round_money, to_units
from .protocol import Request

log = logging.getLogger(__name__)
FAULT = "bookkeeper_fault"
COMPARED = ("quantity", "billable", "rate", "total")
FACTS_TTL = 60.0  # seconds an account's documents are trusted for standing_req without an evaluation in between


class Refused(Exception):
    """A request answered with `Status` (error or fatal), `Reason` and a `Message` for a person."""

    def __init__(self, status: str, reason: str, message: str, details=None):
        self.status, self.reason, self.message, self.details = status, reason, message, details
        super().__init__(message)

    def answer(self) -> dict:
        return {"Status": self.status, "Reason": self.reason, "Message": self.message, "Details": self.details}


def not_ours(account_id: str, ours: str) -> Refused:
    """The refusal of a request of our type for an account whose plans name another bookkeeper (KAZOO decided
    on documents older than ours, e.g. from its cache)."""
    return Refused(
        "error",
        "wrong_bookkeeper",
        f"Account {account_id} is billed by another bookkeeper according to its service plans, not by {ours}; "
        f"KAZOO's caches may be older than the plans (sup kazoo_services_maintenance flush).",
    )


class Answers:
    """The five request handlers; each returns the reply's own fields (Status, Message, Reason, Details, ...)."""

    def __init__(self, engine: BillingEngine):
        self.engine, self.directory = engine, engine.directory
        self._facts: dict[str, tuple[float, object, str, bool]] = {}  # account -> (read at, Account, currency, away)

    def forget(self, account_id: str) -> None:
        """The account's documents may have changed (the engine evaluated it): read them again next time."""
        self._facts.pop(account_id, None)

    def answer(self, request: Request) -> dict:
        """The answer to one request; a refusal or a failure is an answer too (KAZOO is waiting for one)."""
        try:
            return getattr(self, request.kind)(request)
        except Refused as refused:
            return {**self.echo(request), **refused.answer()}
        except UnknownAccount:
            return {
                **self.echo(request),
                "Status": "fatal",
                "Reason": FAULT,
                "Message": f"Account {request['Account-ID']} is not known to the bookkeeper.",
            }
        except InputError as exc:
            log.error("%s_req for %s: %s", request.kind, request.get("Account-ID"), exc)
            return {**self.echo(request), "Status": "fatal", "Reason": FAULT, "Message": str(exc)}
        except CouchError as exc:  # CouchDB unreachable or failing: nothing was done, KAZOO may ask again
            log.error("%s_req for %s: CouchDB: %s", request.kind, request.get("Account-ID"), exc)
            return {
                **self.echo(request),
                "Status": "fatal",
                "Reason": FAULT,
                "Message": "Temporary billing error, please try again later.",
            }

    @staticmethod
    def echo(request: Request) -> dict:
        """Fields every reply of this kind repeats from the request."""
        if request.kind in ("sale", "refund"):
            return {k: request[k] for k in ("Transaction-ID", "Transaction-DB")}
        if request.kind == "collect_recurring":
            return {k: request[k] for k in ("Account-ID", "Bookkeeper-ID", "Bookkeeper-Type")}
        return {}

    @staticmethod
    def _account_id(request: Request) -> str:
        account_id = request["Account-ID"]
        if not is_account_id(account_id):
            raise InputError(f"{request.kind}_req", "Account-ID", f"not a KAZOO account id: {account_id!r}")
        return account_id

    def _account(self, request: Request):
        account = self.directory.account(self._account_id(request))
        return account, self.directory.reseller_settings(account.reseller).currency

    # -- standing_req
    def _refuse_away(self, account_id: str, away: bool) -> None:
        if away:
            raise not_ours(account_id, self.engine.config.amqp_bookkeeper_type)

    def _standing_facts(self, request: Request):
        found = self._facts.get(request["Account-ID"])
        if found is not None and time.monotonic() - found[0] < FACTS_TTL:
            return found[1], found[2], found[3]
        read_at = time.monotonic()
        account, currency = self._account(request)
        away = self.engine.away(account.id)
        self._facts[account.id] = (read_at, account, currency, away)
        return account, currency, away

    def standing(self, request: Request) -> dict:
        account, currency, away = self._standing_facts(request)
        self._refuse_away(account.id, away)
        balance = self.engine.ledger.balance(account.id)
        allowed, max_postpay = account.postpay
        available = balance + (max_postpay if allowed else Decimal(0))
        withdrawal = from_units(request["Estimated-Withdrawal"])
        details = {
            "balance": to_units(balance),
            "available": to_units(available),
            "estimated_withdrawal": request["Estimated-Withdrawal"],
            "postpay_allowed": allowed,
            "currency": currency,
        }
        money = lambda amount: format_money(amount, currency)  # noqa: E731
        if not account.enabled and not account.blocked_by_us:
            raise Refused("error", "account_disabled", "This account has been disabled by an administrator.", details)
        if account.blocked_by_us:
            raise Refused(
                "error",
                DELINQUENT,
                f"This account is blocked for unpaid charges (available funds "
                f"{money(available)}); add funds to restore it.",
                details,
            )
        if account.services.get("pvt_status") == DELINQUENT:
            raise Refused(
                "error",
                DELINQUENT,
                f"This account's monthly charges are unpaid (available funds "
                f"{money(available)}); add funds to continue.",
                details,
            )
        if available < withdrawal:
            raise Refused(
                "error",
                "insufficient_funds",
                f"Available funds of {money(available)} do not cover the estimated charge of {money(withdrawal)}.",
                details,
            )
        return {
            "Status": GOOD_STANDING,
            "Details": details,
            "Message": f"Available funds of {money(available)} cover the estimated charge of {money(withdrawal)}.",
        }

    # -- update_req
    def update(self, request: Request) -> dict:
        invoice = request["Invoice"]
        if not isinstance(invoice, dict):
            raise InputError("update_req", "Invoice", "must be a JSON object")
        account_id = self._account_id(request)
        dry_run = request.get("Dry-Run") in (True, "true")
        evaluation = self._evaluate(account_id, None, dry_run, recount=True)
        self._refuse_away(account_id, evaluation.decision.state.away)
        differences = compare(invoice, evaluation)
        charges = [
            {
                "type": "charge",
                "id": c.key,
                "kind": c.kind,
                "category": c.category,
                "item": c.item,
                "quantity": c.quantity,
                "amount": to_units(c.amount),
                "written": not dry_run,
            }
            for c in evaluation.decision.charges
        ]
        verb = "would charge" if dry_run else "charged"
        total = sum((c.amount for c in evaluation.decision.charges), Decimal(0))
        message = (
            f"{'Dry run: ' if dry_run else ''}{verb} {format_money(total, evaluation.currency)} "
            f"in {len(charges)} charge(s); "
            + (f"{len(differences)} difference(s) from KAZOO's invoice" if differences else "invoice matches")
        )
        return {"Status": "success", "Message": message, "Details": differences + charges}

    def _evaluate(self, account_id: str, at: datetime | None, dry_run: bool, recount: bool) -> Evaluation:
        """An evaluation; a recount that writes is the feed's: the billing reseller is evaluated after it."""
        try:
            if recount and not dry_run and at is None:
                return self.engine.evaluate_with_reseller(account_id)
            return self.engine.evaluate(account_id, at, dry_run=dry_run, recount=recount)
        except (UnknownAccount, InputError):
            raise
        except (BookkeeperError, CouchError) as exc:
            log.error("evaluating %s for KAZOO: %s", account_id, exc)
            raise Refused("fatal", FAULT, "Temporary billing error, please try again later.") from None

    # -- sale_req / refund_req
    def sale(self, request: Request) -> dict:
        return self._move(request, "sale")

    def refund(self, request: Request) -> dict:
        return self._move(request, "credit")

    def _move(self, request: Request, kind: str) -> dict:
        account, currency = self._account(request)
        self._refuse_away(account.id, self.engine.away(account.id))
        if request["Vendor-ID"] != account.reseller:
            raise Refused(
                "fatal", FAULT, f"Vendor-ID {request['Vendor-ID']} is not the billing reseller of account {account.id}."
            )
        units = request["Amount"]
        if units <= 0:
            raise InputError(f"{request.kind}_req", "Amount", f"must be positive, got {units}")
        amount = round_money(
            parse_amount(format(from_units(units), "f"), currency, f"{request.kind}_req: Amount"), currency
        )  # exact: only shown with the currency's digits (25.00)
        config = load_section(self.engine.couch, account.reseller, "braintree")
        if not isinstance(config, BraintreeConfig) or not config.enabled:
            raise Refused("fatal", FAULT, f"No payment gateway is configured for reseller {account.reseller}.")
        order_id = braintree_gateway.KAZOO_ORDER_PREFIX + request["Transaction-ID"]
        try:
            done = braintree_gateway.find_order(config, order_id, kind, currency)
        except BookkeeperError as exc:
            raise Refused("fatal", FAULT, str(exc)) from None
        if done is None:
            move = braintree_gateway.sale if kind == "sale" else braintree_gateway.credit
            done = move(config, account.id, amount, currency, order_id)
        answer = {
            **self.echo(request),
            "Details": {
                "id": done.txid,
                "status": done.status,
                "amount": to_units(done.amount),
                "currency": currency,
                "order_id": order_id,
                "gateway": "braintree",
            },
        }
        if done.completed:
            return {**answer, "Status": "success"}
        if done.txid is None:  # the gateway never answered: nothing was charged
            return {**answer, "Status": "fatal", "Reason": FAULT, "Message": done.message}
        return {**answer, "Status": "error", "Reason": done.status, "Message": done.message}

    # -- collect_recurring_req
    def collect_recurring(self, request: Request) -> dict:
        account_id = self._account_id(request)
        due = from_gregorian(request["Due-Timestamp"])
        ahead = due > self.engine.clock.now()
        evaluation = self._evaluate(account_id, due if ahead else None, dry_run=ahead, recount=False)
        state = evaluation.decision.state
        self._refuse_away(account_id, state.away)
        details = {
            "period_start": state.period.start.isoformat(),
            "dry_run": ahead,
            "charges": [c.key for c in evaluation.decision.charges if c.kind == "mrc"],
        }
        answer = {**self.echo(request), "Details": details}
        if state.mrc_paid:
            when = "will be charged when the period starts" if ahead else "is paid"
            return {
                **answer,
                "Status": "successful",
                "Message": f"The recurring charge of the period starting {state.period.start:%Y-%m-%d} {when}.",
            }
        return {
            **answer,
            "Status": "error",
            "Reason": "insufficient_funds",
            "Message": f"Available funds do not cover the recurring charges of the period starting "
            f"{state.period.start:%Y-%m-%d}.",
        }


def attach(engine: BillingEngine) -> Answers:
    """Answers for `engine`'s accounts that forget an account's documents whenever the engine evaluates it (before
    the engine's own `after_charges`, if any)."""
    answers, after_charges = Answers(engine), engine.after_charges

    def after_evaluation(evaluation: Evaluation) -> None:
        answers.forget(evaluation.account_id)
        if after_charges is not None:
            after_charges(evaluation)

    engine.after_charges = after_evaluation
    return answers


def compare(invoice: dict, evaluation: Evaluation) -> list[dict]:
    """KAZOO's invoice lines against ours (by category and item): one entry per differing field, per line only
    one side has, and for the Vendor-ID our billing reseller is not."""
    ours = {(line.category, line.item): line for inv in evaluation.invoices for line in inv.items}
    theirs: dict[tuple[Any, Any], dict] = {}
    for entry in invoice.get("items") or []:
        if isinstance(entry, dict):
            theirs[(entry.get("category"), entry.get("item"))] = entry
    out = []
    for key in sorted(set(ours) | set(theirs), key=str):
        mine, kazoo = ours.get(key), theirs.get(key)
        if mine is None or kazoo is None:
            if (mine is None or mine.billable) and (kazoo is None or kazoo.get("billable")):
                out.append(
                    {
                        "type": "difference",
                        "category": key[0],
                        "item": key[1],
                        "field": "item",
                        "kazoo": kazoo is not None,
                        "ours": mine is not None,
                    }
                )
            continue
        for name in COMPARED:
            a, b = _number(kazoo.get(name, 0)), Decimal(getattr(mine, name))
            if a != b:
                out.append(
                    {"type": "difference", "category": key[0], "item": key[1], "field": name, "kazoo": a, "ours": b}
                )
    return out


def _number(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
