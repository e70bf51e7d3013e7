function (doc) {
  // KAZOO 4.3's balance: [service, created] -> signed amount; all rows summed is the month's total.
  if (doc.pvt_deleted || doc.pvt_type !== 'ledger' || !doc.source) return;
  emit([doc.source.service, doc.pvt_created], (doc.amount || 0) * (doc.pvt_ledger_type === 'debit' ? -1 : 1));
}
