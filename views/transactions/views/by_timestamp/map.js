function (doc) {
  // KAZOO 4.2: created -> id of each credit and debit.
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit')) return;
  emit(doc.pvt_created, doc._id);
}
