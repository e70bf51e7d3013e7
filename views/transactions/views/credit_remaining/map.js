function (doc) {
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit' && doc.pvt_type !== 'ledger')) return;
  var is_credit = doc.pvt_type === 'credit' || doc.pvt_ledger_type === 'credit';
  var is_debit = doc.pvt_type === 'debit' || doc.pvt_ledger_type === 'debit';
  var modifier = is_credit ? 1 : is_debit ? -1 : 0;
  var amount = doc.pvt_amount || doc.amount || 0;
  emit(null, amount * modifier);
}
