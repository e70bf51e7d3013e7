function (doc) {
  // KAZOO 4.2: [service, created] -> a ledger's signed amount.
  if (doc.pvt_deleted || doc.pvt_type !== 'ledger' || !doc.source) return;
  emit([doc.source.service, doc.pvt_created],
       (doc.pvt_amount || doc.amount || 0) * (doc.pvt_ledger_type === 'debit' ? -1 : 1));
}
