function (doc) {
  // KAZOO 4.2: created -> {service: {amount (signed), usage}} for ledgers and for 4.2 per-minute credits and
  // debits (codes 1001, 1002), which count as service 'per-minute-voip'.
  if (doc.pvt_deleted) return;
  var ledger = doc.pvt_type === 'ledger';
  var per_minute = (doc.pvt_type === 'credit' || doc.pvt_type === 'debit') && (doc.pvt_code === 1001 || doc.pvt_code === 1002);
  if (!ledger && !per_minute) return;
  if (ledger && !doc.source) return;
  var sign = doc.pvt_ledger_type === 'debit' || doc.pvt_type === 'debit' ? -1 : 1;
  var row = {};
  row[ledger ? doc.source.service : 'per-minute-voip'] = {
    amount: sign * (doc.pvt_amount || doc.amount || 0), usage: doc.pvt_usage || doc.usage || {}
  };
  emit(doc.pvt_created, row);
}
