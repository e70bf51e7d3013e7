function (newDoc, oldDoc, userCtx, secObj) {
  // The ledger is append-only: money documents (credit, debit, ledger) may be created by anyone who may
  // write here, but only a server admin may change or delete one. Corrections are new entries. A new money
  // document from anyone but a server admin must be valid (the rule of bookkeeper/ledger/documents.py
  // money_problem and of the by_time view, which counts only valid ones).
  if (userCtx && userCtx.roles && userCtx.roles.indexOf('_admin') !== -1) return;
  if (oldDoc) {
    var type = oldDoc.pvt_type;
    if (type !== 'credit' && type !== 'debit' && type !== 'ledger') return;
    throw({forbidden: 'money document ' + oldDoc._id + ' is append-only: ' +
      (newDoc._deleted ? 'deleting' : 'changing') + ' it needs a server admin; write a correction entry instead'});
  }
  if (newDoc._deleted || newDoc.pvt_deleted ||
      (newDoc.pvt_type !== 'credit' && newDoc.pvt_type !== 'debit' && newDoc.pvt_type !== 'ledger')) return;
  var whole = function (v) { return typeof v === 'number' && isFinite(v) && Math.floor(v) === v; };
  var ledger = newDoc.pvt_type === 'ledger';
  var field = ledger || !newDoc.hasOwnProperty('pvt_amount') ? 'amount' : 'pvt_amount';
  var amount = newDoc[field];
  var source = newDoc.source;
  var refuse = function (what) { throw({forbidden: 'money document ' + newDoc._id + ': ' + what}); };
  if (!(whole(amount) && amount >= 0 && amount < 9007199254740992))
    refuse(field + ': not whole KAZOO units from 0 to 2^53');
  if ((ledger || newDoc.hasOwnProperty('pvt_ledger_type')) &&
      newDoc.pvt_ledger_type !== 'credit' && newDoc.pvt_ledger_type !== 'debit')
    refuse('pvt_ledger_type: not credit or debit');
  if ((ledger || newDoc.hasOwnProperty('source')) &&
      !(source !== null && typeof source === 'object' && !Array.isArray(source) && typeof source.service === 'string'))
    refuse('source: not an object with a text service');
  if (!(whole(newDoc.pvt_created) && newDoc.pvt_created >= 0 && newDoc.pvt_created < 315569520000))
    refuse('pvt_created: not Gregorian seconds up to the year 9999');
}
