function (doc) {
  // KAZOO 4.3: created -> {service: {amount (signed), usage}}.
  if (doc.pvt_deleted || doc.pvt_type !== 'ledger' || !doc.source) return;
  var sign = doc.pvt_ledger_type === 'debit' ? -1 : 1;
  var row = {};
  row[doc.source.service] = {amount: sign * (doc.amount || 0), usage: doc.usage || {}};
  emit(doc.pvt_created, row);
}
