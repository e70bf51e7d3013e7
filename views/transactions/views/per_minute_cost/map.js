function (doc) {
  // KAZOO 4.2 (jonny5): [call id, event] -> signed amount of per-minute credits and debits (codes 1000-1999).
  if (doc.pvt_deleted || (doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit') || !doc.call_id) return;
  if (!doc.pvt_code || doc.pvt_code < 1000 || doc.pvt_code >= 2000) return;
  emit([doc.call_id, doc.event], (doc.pvt_amount || doc.amount || 0) * (doc.pvt_type === 'credit' ? 1 : -1));
}
