function (doc) {
  // KAZOO 4.3: created -> a payment transaction (refunds negative), with its bookkeeper's result if any.
  if (doc.pvt_deleted || doc.pvt_type !== 'transaction') return;
  var row = {id: doc._id, amount: (doc.amount || 0) * (doc.pvt_transaction_type === 'refund' ? -1 : 1),
             status: doc.status, executor: doc.executor, description: doc.description, metadata: doc.metadata,
             created: doc.pvt_created};
  var results = doc.bookkeeper && doc.bookkeeper.results;
  if (results) row.bookkeeper = {status: results.status, reason: results.reason, message: results.message};
  emit(doc.pvt_created, row);
}
