"""couch-bookkeeper: a CouchDB-native billing engine for KAZOO-style platforms."""

__version__ = "0.1.0"
