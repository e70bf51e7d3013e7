function (doc) {
  // [category, item] -> count: what each document adds to its account's quantities (KAZOO services/quantify).
  // Keep in step with bookkeeper/plans/quantities.py; tests/plans/test_quantify_view.py checks they agree.
  if (doc.pvt_deleted) return;
  if (doc.hasOwnProperty('enabled') && !doc.enabled) return;
  var whole = function (v) { return typeof v === 'number' && isFinite(v) && Math.floor(v) === v; };
  var isObject = function (v) { return v !== null && typeof v === 'object' && !Array.isArray(v); };
  var malformed = function (v) { return v !== undefined && v !== null && typeof v !== 'string'; };
  var classifiers = [
    ['tollfree_us', /^\+1((?:800|88\d|877|866|855|844|833|822)\d{7})$/],
    ['toll_us', /^\+1(900\d{7})$/],
    ['emergency', /^(911|922|933|988|833|811|711|999)$/],
    ['caribbean', /^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869|758|784|721|868|649|340)\d{7})$/],
    ['did_us', /^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$/],
    ['international', /^\+([2-9]\d{7,})$/],
    ['unknown', /^(.*)$/]
  ];
  var i, key;
  switch (doc.pvt_type || doc._id) {
    case 'user':
      if (malformed(doc.priv_level)) break;
      emit(['users', doc.priv_level || 'user'], 1);
      if (isObject(doc.qubicle) && doc.qubicle.enabled && isObject(doc.qubicle.recipient))
        emit(['qubicle', (doc.qubicle.recipient.offering || 'basic') + '_recipient'], 1);
      break;
    case 'device':
      if (malformed(doc.device_type)) break;
      emit(['devices', doc.device_type || 'sip_device'], 1);
      break;
    case 'limits':
      var trunks = ['twoway_trunks', 'inbound_trunks', 'outbound_trunks'];
      for (i = 0; i < trunks.length; i++)
        if (whole(doc[trunks[i]]) && doc[trunks[i]] > 0) emit(['limits', trunks[i]], doc[trunks[i]]);
      break;
    case 'whitelabel':
      emit(['branding', 'whitelabel'], 1);
      break;
    case 'dedicated_ip':
      emit(['ips', 'dedicated'], 1);
      break;
    case 'apps_store':
      var blacklist = Array.isArray(doc.blacklist) ? doc.blacklist : [];
      if (isObject(doc.apps)) for (key in doc.apps) {
        var app = doc.apps[key];
        if (blacklist.indexOf(key) >= 0 || !isObject(app)) continue;
        var name = app.name || key;
        var users = app.allowed_users == 'all' ? -1 : app.allowed_users == 'admins' ? -2
          : app.allowed_users == 'specific' ? (Array.isArray(app.users) ? app.users.length : 0) : 0;
        if (users) emit(['user_apps', name], users);
        emit(['account_apps', name], 1);
      }
      break;
    case 'number':
      if (doc.pvt_module_name && !malformed(doc.pvt_module_name)) emit(['number_carriers', doc.pvt_module_name], 1);
      var f = doc.pvt_features;
      var features = Array.isArray(f) ? f : isObject(f) ? Object.keys(f) : [];
      for (i = 0; i < features.length; i++) emit(['number_services', features[i]], 1);
      if (features.indexOf('local') >= 0) break;
      var number = String(doc._id || '');
      for (i = 0; i < classifiers.length; i++)
        if (classifiers[i][1].test(number)) { emit(['phone_numbers', classifiers[i][0]], 1); break; }
      break;
    case 'qubicle_queue':
      emit(['qubicle', (doc.pvt_offering || 'basic') + '_queue'], 1);
      break;
    case 'vmbox':
      emit(['voicemails', 'mailbox'], 1);
      if (doc.transcribe) emit(['voicemails', 'transcription'], 1);
      break;
    case 'faxbox':
      emit(['faxes', 'mailbox'], 1);
      break;
    case 'conference':
      emit(['conferences', 'conference'], 1);
      break;
  }
  if (isObject(doc.billing))
    for (key in doc.billing) if (whole(doc.billing[key]) && doc.billing[key] !== 0) emit(['billing', key], doc.billing[key]);
}
