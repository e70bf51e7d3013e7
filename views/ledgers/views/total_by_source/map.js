function (doc) {
  if (doc.pvt_deleted || doc.pvt_type !== 'ledger') return;
  var amount = doc.amount || 0;
  if (doc.pvt_ledger_type === 'debit') amount *= -1;
  emit([doc.source.service, doc.pvt_created], amount);
}
