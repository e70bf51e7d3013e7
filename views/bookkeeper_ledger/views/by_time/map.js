function (doc) {
  // Money documents by time, value [units as KAZOO 4.3 ledgers/total_by_source counts them,
  // units as KAZOO 4.2 transactions/credit_remaining counts them]. Carry-forwards are keyed 0: they hold
  // from the first second of their month, whenever they were written.
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit' && doc.pvt_type !== 'ledger')) return;
  var ledger = doc.pvt_type === 'ledger';
  var u43 = 0;
  if (ledger && doc.source !== undefined && doc.source !== null) {
    u43 = doc.amount || 0;
    if (doc.pvt_ledger_type === 'debit') u43 *= -1;
  }
  var is_credit = doc.pvt_type === 'credit' || doc.pvt_ledger_type === 'credit';
  var is_debit = doc.pvt_type === 'debit' || doc.pvt_ledger_type === 'debit';
  var u42 = (doc.pvt_amount || doc.amount || 0) * (is_credit ? 1 : is_debit ? -1 : 0);
  var carry = ledger ? !!(doc.source && doc.source.service === 'rollovers') : doc.pvt_reason === 'database_rollup';
  emit(carry ? 0 : (doc.pvt_created || 0), [u43, u42]);
}
