function (doc) {
  // Money documents by time, value [units as KAZOO 4.3 ledgers/total_by_source counts them,
  // units as KAZOO 4.2 transactions/credit_remaining counts them, 0]. Carry-forwards are keyed 0: they hold
  // from the first second of their month, whenever they were written. A money document that is not valid
  // (the same rule as bookkeeper/ledger/documents.py money_problem and this design doc's
  // validate_doc_update) counts nothing: it is keyed "invalid", value [0, 0, 1].
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit' && doc.pvt_type !== 'ledger')) return;
  var whole = function (v) { return typeof v === 'number' && isFinite(v) && Math.floor(v) === v; };
  var ledger = doc.pvt_type === 'ledger';
  var field = ledger || !doc.hasOwnProperty('pvt_amount') ? 'amount' : 'pvt_amount';
  var amount = doc[field];
  var source = doc.source;
  var valid = whole(amount) && amount >= 0 && amount < 9007199254740992 &&
    (!(ledger || doc.hasOwnProperty('pvt_ledger_type')) ||
      doc.pvt_ledger_type === 'credit' || doc.pvt_ledger_type === 'debit') &&
    (!(ledger || doc.hasOwnProperty('source')) ||
      (source !== null && typeof source === 'object' && !Array.isArray(source) && typeof source.service === 'string')) &&
    whole(doc.pvt_created) && doc.pvt_created >= 0 && doc.pvt_created < 315569520000;
  if (!valid) { emit('invalid', [0, 0, 1]); return; }
  var is_credit = doc.pvt_type === 'credit' || doc.pvt_ledger_type === 'credit';
  var units = is_credit ? amount : -amount;
  var carry = ledger ? source.service === 'rollovers' : doc.pvt_reason === 'database_rollup';
  emit(carry ? 0 : doc.pvt_created, [ledger ? units : 0, units, 0]);
}
