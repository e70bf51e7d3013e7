"""Documents for each account and billing period: statements (pure), VAT (pure), usage reports (pure), the invoice
PDF, numbering, storage in the account's monthly DB, and mail to the account's admins."""

from .statement import NotReconciled, Statement, build_statement
from .store import Invoices, generate_due, invoice_id
from .usage import UsageReport, usage_report
from .vat import Vat, compute_vat

__all__ = [
    "Invoices",
    "NotReconciled",
    "Statement",
    "UsageReport",
    "Vat",
    "build_statement",
    "compute_vat",
    "generate_due",
    "invoice_id",
    "usage_report",
]
