function (doc) {
  if (doc.pvt_type !== 'account' || doc.pvt_deleted) return;
  var agent = !!doc.pvt_agent;
  if (typeof doc.pvt_referred_by === 'string' && doc.pvt_referred_by !== doc._id) {
    emit(doc.pvt_referred_by, {agent: agent, from: doc.pvt_referred_from || null, until: null});
  }
  var before = Array.isArray(doc.pvt_referred_before) ? doc.pvt_referred_before : [];
  for (var i = 0; i < before.length; i++) {
    var h = before[i];
    if (h && typeof h.agent === 'string' && h.agent !== doc._id && typeof h.until === 'string') {
      emit(h.agent, {agent: agent, from: h.from || null, until: h.until});
    }
  }
}
