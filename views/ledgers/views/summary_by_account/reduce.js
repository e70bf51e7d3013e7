function (keys, values, rereduce) {
  // Summaries merged: the first account name seen, totals added, ledgers merged per service as in
  // ledgers/list_by_timestamp.
  var out = {ledgers: {}, total: 0};
  values.forEach(function (value) {
    out.account_name = out.account_name || value.account_name;
    out.total += value.total || 0;
    var ledgers = value.ledgers || {};
    Object.keys(ledgers).forEach(function (service) {
      var add = ledgers[service], usage = add.usage || {};
      var had = out.ledgers[service] || {}, hadUsage = had.usage || {};
      out.ledgers[service] = {
        amount: (add.amount || 0) + (had.amount || 0),
        usage: {type: hadUsage.type || usage.type, quantity: (hadUsage.quantity || 0) + (usage.quantity || 0),
                unit: hadUsage.unit || usage.unit}
      };
    });
  });
  return out;
}
