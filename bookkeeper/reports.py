"""Reports from the ledger and the accounts (docs/reports.md): usage per account and per reseller, and the
operator's billing metrics per reseller, currency and period.

Usage per item (its daily billed quantities, high-water mark, days billed, rate, amount) comes from the period's
charge entries (`documents.usage`); its amounts add up to the invoice's net services. Metrics per period of a
reseller: revenue = the sum of its accounts' statement totals (what their invoices charge: services, VAT and
adjustments), MRR = their monthly fees of the period (net of credit lines), ARPU = revenue / accounts charged,
payments received, accounts created and cancelled in the period; and the accounts' standing now.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from .accounts import Account, Directory
from .clock import Period, period_containing
from .couch import Couch
from .dbnames import ACCOUNTS_DB, SERVICES_DB, from_gregorian
from .documents import Invoices
from .documents.usage import UsageReport, usage_report
from .errors import InputError
from .money import round_money
from .settings import BillingSettings

log = logging.getLogger(__name__)
PAYMENT_KINDS = ("payment", "credit")  # a manual credit is an invoice adjustment: in the revenue
USAGE_COLUMNS = [
    "account",
    "name",
    "period_start",
    "period_end",
    "category",
    "item",
    "peak",
    "days",
    "rate",
    "amount",
    "currency",
]


@dataclass(frozen=True)
class AccountUsage:
    account_id: str
    name: str
    period: Period
    currency: str
    report: UsageReport
    services: Decimal  # the statement's services, net: what the items' amounts add up to
    total: Decimal  # what the period's invoice charges

    def rows(self) -> list[dict]:
        return [
            {
                "account": self.account_id,
                "name": self.name,
                "period_start": self.period.start_date.isoformat(),
                "period_end": self.period.last_date.isoformat(),
                **item,
                "currency": self.currency,
            }
            for item in self.report.items()
        ]

    def to_json(self) -> dict:
        return {
            "account": self.account_id,
            "name": self.name,
            "currency": self.currency,
            "period": {
                "start": self.period.start_date.isoformat(),
                "end": self.period.last_date.isoformat(),
                "days": self.period.days,
            },
            "items": [
                {**item, "daily": list(self.report.quantities[(item["category"], item["item"])])}
                for item in self.report.items()
            ],
            "services": self.services,
            "total": self.total,
        }


def usage_csv(usages: list[AccountUsage]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, USAGE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for usage in usages:
        writer.writerows(usage.rows())
    return out.getvalue()


class Reports:
    """Reads what the reports need, over one deployment's ledger and directory."""

    def __init__(self, couch: Couch, ledger, directory: Directory):
        self.couch, self.ledger, self.directory = couch, ledger, directory
        self.invoices = Invoices(couch, ledger, directory)

    def last_closed(self, account_id: str, now: datetime) -> Period:
        billing_settings = self._billing_settings_of(self.directory.account(account_id))
        return period_containing(
            period_containing(now, billing_settings.billing_day, billing_settings.timezone).start
            - timedelta(seconds=1),
            billing_settings.billing_day,
            billing_settings.timezone,
        )

    def _billing_settings_of(self, account: Account) -> BillingSettings:
        return self.directory.reseller_settings(account.reseller)

    def usage(self, account_id: str, at: datetime) -> AccountUsage:
        """The usage of the account's period containing `at`."""
        account = self.directory.account(account_id)
        billing_settings = self._billing_settings_of(account)
        period = period_containing(at, billing_settings.billing_day, billing_settings.timezone)
        entries = self.ledger.entries(account_id, period.start, period.end)
        statement = self.invoices.statement(account_id, period, billing_settings, "en_US", entries)
        services = sum((line.charge for line in statement.services), round_money(Decimal(0), billing_settings.currency))
        return AccountUsage(
            account_id,
            account.name,
            period,
            billing_settings.currency,
            usage_report(entries, period),
            services,
            statement.total,
        )

    def customers(self, reseller_id: str) -> list[Account]:
        """The accounts the reseller bills (itself excepted)."""
        ids = self.directory.descendants(reseller_id)
        return sorted(
            (a for a in self.directory.accounts(ids) if a.reseller == reseller_id and a.id != reseller_id),
            key=lambda a: a.id,
        )

    def reseller_usage(self, reseller_id: str, at: datetime) -> list[AccountUsage]:
        return [self.usage(a.id, at) for a in self.customers(reseller_id)]

    # -- metrics
    def resellers(self) -> list[str]:
        found = [
            r["id"]
            for r in self.couch.db(SERVICES_DB).all_docs(include_docs=True)
            if (r.get("doc") or {}).get("pvt_reseller") and r["id"] != self.directory.master_id
        ]
        return [self.directory.master_id, *sorted(found)]

    def metrics(self, start: datetime, end: datetime, resellers: list[str] | None = None) -> list[dict]:
        """Per reseller (and so per currency): the standing of its accounts now, and per period overlapping
        [start, end): revenue, MRR, ARPU, accounts charged, new and cancelled accounts, payments received."""
        out = []
        for reseller_id in resellers or self.resellers():
            try:
                billing_settings = self.directory.reseller_settings(reseller_id)
            except InputError:  # never valid: its accounts are held (and reported); no figures to give
                continue
            accounts = self.customers(reseller_id)
            ids = [a.id for a in accounts]
            services = self.couch.db(SERVICES_DB).get_many(ids) if ids else {}
            docs = self.couch.db(ACCOUNTS_DB).get_many(ids) if ids else {}
            standing = {"good_standing": 0, "delinquent": 0, "blocked": 0}
            for a in accounts:
                status = services.get(a.id, {}).get("pvt_status", "good_standing")
                standing["delinquent" if status == "delinquent" else "good_standing"] += 1
                standing["blocked"] += docs.get(a.id, {}).get("pvt_enabled", True) is False
            periods = []
            period = period_containing(start, billing_settings.billing_day, billing_settings.timezone)
            while period.start < end:
                periods.append(self._period_metrics(accounts, docs, period, billing_settings.currency))
                period = period_containing(period.end, billing_settings.billing_day, billing_settings.timezone)
            out.append(
                {
                    "reseller": reseller_id,
                    "name": self.directory.account(reseller_id).name,
                    "currency": billing_settings.currency,
                    "accounts": len(accounts),
                    "standing": standing,
                    "periods": periods,
                }
            )
        return out

    def _period_metrics(self, accounts: list[Account], docs: dict, period: Period, currency: str) -> dict:
        zero = round_money(Decimal(0), currency)
        revenue, mrr, payments, charged = zero, zero, zero, 0
        for account in accounts:
            entries = self.ledger.entries(account.id, period.start, period.end)
            if not entries:
                continue
            billing_settings = self._billing_settings_of(account)
            total = self.invoices.statement(account.id, period, billing_settings, "en_US", entries).total
            revenue += total
            charged += total != 0
            mrr += sum((e.amount if e.type == "debit" else -e.amount for e in entries if e.kind == "mrc"), zero)
            payments += sum(
                (
                    e.amount if e.type == "credit" else -e.amount
                    for e in entries
                    if (e.kind in PAYMENT_KINDS and e.type == "credit") or e.kind == "refund"
                ),
                zero,
            )
        created = [_when(docs.get(a.id, {}).get("pvt_created")) for a in accounts]
        cancelled = [
            _when(docs.get(a.id, {}).get("pvt_modified")) for a in accounts if docs.get(a.id, {}).get("pvt_deleted")
        ]
        return {
            "period_start": period.start_date.isoformat(),
            "period_end": period.last_date.isoformat(),
            "revenue": revenue,
            "mrr": mrr,
            "arpu": round_money(revenue / charged, currency) if charged else zero,
            "accounts_charged": charged,
            "payments": payments,
            "new_accounts": sum(1 for t in created if t is not None and period.contains(t)),
            "cancelled_accounts": sum(1 for t in cancelled if t is not None and period.contains(t)),
        }


def _when(seconds) -> datetime | None:
    return from_gregorian(seconds) if isinstance(seconds, int) and seconds > 0 else None


GAUGES = {
    "revenue": "Revenue of the current period so far (statement totals: services, VAT, adjustments).",
    "mrr": "Monthly recurring charges of the current period (net of credit lines).",
    "arpu": "Revenue of the current period per account charged.",
    "payments": "Payments received in the current period.",
    "new_accounts": "Accounts created in the current period.",
    "cancelled_accounts": "Accounts deleted in the current period.",
}
STANDING_GAUGE = "Accounts billed by the reseller, by standing now (good_standing, delinquent, blocked)."


class MetricsCache:
    """The billing metrics of each reseller's current period, for `/metrics`: computed again at the first
    `refresh` of each day (the daemon calls it after its ticks), since it reads every account's ledger."""

    def __init__(self, reports: Reports):
        self.reports = reports
        self.figures: list[dict] = []
        self._day: date | None = None

    def refresh(self, now: datetime, force: bool = False) -> None:
        if force or now.date() != self._day:
            try:
                self.figures = self.reports.metrics(now, now)
            except Exception as exc:  # only figures: never fail the daemon's tick; tried again at the next one
                log.warning("billing metrics not computed: %s: %s", type(exc).__name__, exc)
                return
            self._day = now.date()

    def series(self, key: str) -> list[tuple[tuple[str, ...], float]]:
        return [((r["reseller"], r["currency"]), float(r["periods"][-1][key])) for r in self.figures if r["periods"]]

    def standing(self) -> list[tuple[tuple[str, ...], float]]:
        return [
            ((r["reseller"], r["currency"], state), float(n))
            for r in self.figures
            for state, n in r["standing"].items()
        ]
