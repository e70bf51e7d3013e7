function (doc) {
  // KAZOO 4.3: 4.2-style credits and debits only, `pvt_amount` signed by type.
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit')) return;
  emit(null, (doc.pvt_amount || 0) * (doc.pvt_type === 'credit' ? 1 : -1));
}
