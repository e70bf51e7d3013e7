function (doc) {
  // KAZOO 4.3 (crossbar's ledgers summary): [account id, period start, id] -> the account's name, the ledger
  // under its service and the signed total.
  if (doc.pvt_deleted || doc.pvt_type !== 'ledger' || !doc.source || !doc.account || !doc.period) return;
  var amount = (doc.amount || 0) * (doc.pvt_ledger_type === 'debit' ? -1 : 1);
  var ledgers = {};
  ledgers[doc.source.service] = {amount: amount, description: doc.description, usage: doc.usage || {}};
  emit([doc.account.id, doc.period.start, doc._id], {account_name: doc.account.name, ledgers: ledgers, total: amount});
}
