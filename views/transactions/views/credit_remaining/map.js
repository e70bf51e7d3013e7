function (doc) {
  // KAZOO 4.2's balance: credits, debits and ledgers, `pvt_amount || amount`, signed by either type.
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit' && doc.pvt_type !== 'ledger')) return;
  var credit = doc.pvt_type === 'credit' || doc.pvt_ledger_type === 'credit';
  var debit = doc.pvt_type === 'debit' || doc.pvt_ledger_type === 'debit';
  emit(null, (doc.pvt_amount || doc.amount || 0) * (credit ? 1 : debit ? -1 : 0));
}
