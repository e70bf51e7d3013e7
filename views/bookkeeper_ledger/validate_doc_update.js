function (newDoc, oldDoc, userCtx, secObj) {
  // The ledger is append-only: money documents (credit, debit, ledger) may be created by anyone who may
  // write here, but only a server admin may change or delete one. Corrections are new entries.
  if (!oldDoc) return;
  var type = oldDoc.pvt_type;
  if (type !== 'credit' && type !== 'debit' && type !== 'ledger') return;
  if (userCtx && userCtx.roles && userCtx.roles.indexOf('_admin') !== -1) return;
  throw({forbidden: 'money document ' + oldDoc._id + ' is append-only: ' +
    (newDoc._deleted ? 'deleting' : 'changing') + ' it needs a server admin; write a correction entry instead'});
}
