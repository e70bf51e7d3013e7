function (doc) {
  if (doc.pvt_type != 'service_plan' || doc.pvt_deleted) return;
  emit(doc._id, {'id': doc._id, 'name': doc.name, 'description': doc.description, 'category': doc.category});
}
