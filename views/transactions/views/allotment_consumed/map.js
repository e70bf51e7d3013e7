function (doc) {
  // KAZOO 4.2: [name or description, created] -> allotment seconds, credit positive, debit negative.
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit_allotment' && doc.pvt_type !== 'debit_allotment')) return;
  emit([doc.name || doc.description, doc.pvt_created], doc.amount * (doc.pvt_type === 'credit_allotment' ? 1 : -1));
}
