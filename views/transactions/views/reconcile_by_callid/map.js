function (doc) {
  // KAZOO 4.2 (jonny5's reconciliation), version-2 documents only: a per-minute CDR of the account -> what the
  // call should have cost (surcharge + minimum + increments, less the discount), keyed by the CDR id; a
  // per-minute debit or credit (code 1001) -> its signed `pvt_amount`, keyed by call id.
  if (doc.pvt_deleted || (doc.pvt_type !== 'cdr' && doc.pvt_type !== 'credit' && doc.pvt_type !== 'debit')) return;
  if (!doc.pvt_vsn || parseInt(doc.pvt_vsn) !== 2) return;
  var ccv = doc.custom_channel_vars;
  var billed = ccv && (ccv.account_billing === 'per_minute' || ccv.account_billing === 'per_minute_limit');
  if (doc.pvt_type === 'cdr' && billed && ccv.account_id === doc.pvt_account_id) {
    var seconds = (parseInt(doc.billing_seconds) || 0) - (parseInt(ccv.billing_seconds_offset) || 0);
    if (seconds < 1) return;
    var rate = parseInt(ccv.rate) || 0;
    var increment = parseInt(ccv.rate_increment) || 60;
    if (increment < 1) increment = 60;
    var minimum = parseInt(ccv.rate_minimum) || 0;
    var cost = (parseInt(ccv.surcharge) || 0) + (minimum / 60) * rate;
    if (seconds > minimum) cost += Math.ceil((seconds - minimum) / increment) * ((increment / 60) * rate);
    if (cost) emit(doc._id, cost - (parseInt(ccv.discount_percentage) || 0) * 0.01 * cost);
  } else if (doc.pvt_code && parseInt(doc.pvt_code) === 1001 && doc.call_id) {
    emit(doc.call_id, doc.pvt_amount * (doc.pvt_type === 'credit' ? 1 : -1));
  }
}
