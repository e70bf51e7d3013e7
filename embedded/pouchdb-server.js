#!/usr/bin/env node
// PouchDB Server (the pinned `pouchdb-server` package) with its per-request database lookup made O(1).
//
// Unpatched, every request to /{db}/... lists every database (PouchDB.allDbs(): an array of all names, each
// URI-decoded again) and searches it with indexOf, and for a name with a `/` (KAZOO's `account/xx/yy/...`)
// calls mkdirp.sync on its directory: O(number of databases) of CPU and a few syscalls per request. With
// 10,000 account DBs that lookup was most of the server's time (docs/performance.md).
//
// Here a request whose database is in a set of known names skips both. The set mirrors what PouchDB.allDbs()
// lists: filled from it once, then kept up to date from the `created` and `destroyed` events PouchDB emits (the
// same events pouchdb-all-dbs keeps its list with, names taken the same way); events that arrive while it is being
// filled are applied after. A request for any other name takes the unpatched path. Nothing else changes.

'use strict';

const path = require('path');
const modules = path.join(__dirname, 'node_modules');
const utils = require(path.join(modules, 'express-pouchdb/lib/utils'));
const cleanFilename = require(path.join(modules, 'express-pouchdb/lib/clean-filename'));
const getOrCreateDB = require(path.join(modules, 'express-pouchdb/lib/create-or-delete-dbs')).getOrCreateDB;

const unpatched = utils.setDBOnReq;
const lookups = new WeakMap(); // PouchDB constructor -> {names: Set | null, pending: [event] | null}

function listed(name) {
  // The name as PouchDB.allDbs() lists it (pouchdb-all-dbs, express-pouchdb's decoding), or null if not listed.
  name = String(name).replace(/^_pouch_/, '');
  if (name === 'pouch__all_dbs__' || name.indexOf('-mrview-') !== -1 || /^https?:\/\//.test(name)) {
    return null;
  }
  return decodeURIComponent(name);
}

function apply(names, [kind, name]) {
  if (kind === 'created') {
    names.add(name);
  } else {
    names.delete(name);
  }
}

function lookupOf(PouchDB) {
  let lookup = lookups.get(PouchDB);
  if (!lookup) {
    lookup = {names: null, pending: null};
    const record = (kind) => (raw) => {
      let name;
      try {
        name = listed(raw);
      } catch (err) { // a name decodeURIComponent refuses: start again from the list
        lookup.names = null;
        return;
      }
      if (name === null) {
        return;
      }
      if (lookup.names) {
        apply(lookup.names, [kind, name]);
      } else if (lookup.pending) {
        lookup.pending.push([kind, name]);
      }
    };
    PouchDB.on('created', record('created'));
    PouchDB.on('destroyed', record('destroyed'));
    lookups.set(PouchDB, lookup);
  }
  return lookup;
}

function fill(PouchDB, lookup) {
  if (lookup.pending) {
    return;
  }
  lookup.pending = [];
  PouchDB.allDbs().then((dbs) => {
    const names = new Set(dbs);
    lookup.pending.forEach((event) => apply(names, event));
    lookup.names = names;
    lookup.pending = null;
  }, () => {
    lookup.pending = null;
  });
}

utils.setDBOnReq = function (dbName, dbWrapper, req, res, next) {
  const lookup = lookupOf(req.PouchDB);
  const name = cleanFilename(dbName);
  if (!lookup.names || !lookup.names.has(name)) {
    if (!lookup.names) {
      fill(req.PouchDB, lookup);
    }
    return unpatched(dbName, dbWrapper, req, res, next);
  }
  // An existing database: its directory was made when it was first opened (by the unpatched path).
  getOrCreateDB(req.PouchDB, name).then((db) => dbWrapper.wrap(name, db).then(() => {
    req.db = db;
    next();
  }));
};

require(path.join(modules, 'pouchdb-server/lib/index.js'));
