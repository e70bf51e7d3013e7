function (doc) {
  // A document's own plans (4.3 services/object_plans): pvt_type -> {plan id: {vendor_id, overrides}}.
  if (!doc.service || !doc.service.plans || doc.pvt_deleted) return;
  emit(doc.pvt_type, doc.service.plans);
}
