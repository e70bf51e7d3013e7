function (doc) {
  // KAZOO 4.2: service -> signed amount, for the documents of ledgers/list_by_timestamp_legacy.
  if (doc.pvt_deleted) return;
  var ledger = doc.pvt_type === 'ledger';
  var per_minute = (doc.pvt_type === 'credit' || doc.pvt_type === 'debit') && (doc.pvt_code === 1001 || doc.pvt_code === 1002);
  if (!ledger && !per_minute) return;
  if (ledger && !doc.source) return;
  var sign = doc.pvt_ledger_type === 'debit' || doc.pvt_type === 'debit' ? -1 : 1;
  emit(ledger ? doc.source.service : 'per-minute-voip', sign * (doc.pvt_amount || doc.amount || 0));
}
