function (keys, values, rereduce) {
  // {service: {amount, usage}} objects merged per service: amounts and usage quantities added, the first
  // usage type and unit seen kept (the same for maps and re-reductions).
  var out = {};
  values.forEach(function (value) {
    Object.keys(value).forEach(function (service) {
      var add = value[service], usage = add.usage || {};
      var had = out[service] || {}, hadUsage = had.usage || {};
      out[service] = {
        amount: (add.amount || 0) + (had.amount || 0),
        usage: {type: hadUsage.type || usage.type, quantity: (hadUsage.quantity || 0) + (usage.quantity || 0),
                unit: hadUsage.unit || usage.unit}
      };
    });
  });
  return out;
}
