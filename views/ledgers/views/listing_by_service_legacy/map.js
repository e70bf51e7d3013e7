function (doc) {
  // KAZOO 4.2: [service, created] -> {service: {amount (signed), usage}}, for the documents of
  // ledgers/list_by_timestamp_legacy.
  if (doc.pvt_deleted) return;
  var ledger = doc.pvt_type === 'ledger';
  var per_minute = (doc.pvt_type === 'credit' || doc.pvt_type === 'debit') && (doc.pvt_code === 1001 || doc.pvt_code === 1002);
  if (!ledger && !per_minute) return;
  if (ledger && !doc.source) return;
  var service = ledger ? doc.source.service : 'per-minute-voip';
  var sign = doc.pvt_ledger_type === 'debit' || doc.pvt_type === 'debit' ? -1 : 1;
  var row = {};
  row[service] = {amount: sign * (doc.pvt_amount || doc.amount || 0), usage: doc.pvt_usage || doc.usage || {}};
  emit([service, doc.pvt_created], row);
}
