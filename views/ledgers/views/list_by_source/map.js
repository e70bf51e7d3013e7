function (doc) {
  // KAZOO 4.3: [service, created] -> the ledger's signed amount with its source, usage, metadata and executor.
  if (doc.pvt_deleted || doc.pvt_type !== 'ledger' || !doc.source) return;
  var sign = doc.pvt_ledger_type === 'debit' ? -1 : 1;
  emit([doc.source.service, doc.pvt_created], {
    amount: sign * (doc.amount || 0), source: doc.source, usage: doc.usage,
    metadata: doc.metadata || {}, executor: doc.executor || {}
  });
}
