"""Where money lives: KAZOO 4.2/4.3 money documents in accounts' monthly DBs, balances, carry-forwards.

`documents` builds and reads the documents (pure), `totals` is the fast read path of a month's total,
`prepared` what the ledger knows about the monthly DBs it has set up, `ledger` is the Ledger that writes, reads
and verifies.
"""

from .documents import CHARGE_KINDS, KINDS, REASON_CODES, Entry
from .ledger import Ledger, LedgerError, WriteResult, horizon

__all__ = ["CHARGE_KINDS", "KINDS", "REASON_CODES", "Entry", "Ledger", "LedgerError", "WriteResult", "horizon"]
