#!/usr/bin/env node
// PouchDB Server (the pinned `pouchdb-server` package) with its per-request database lookup made O(1).
//
// Unpatched, every request to /{db}/... lists every database (PouchDB.allDbs(): an array of all names, each
// URI-decoded again) and searches it with indexOf, and for a name with a `/` (KAZOO's `account/xx/yy/...`)
// calls mkdirp.sync on its directory: O(number of databases) of CPU and a few syscalls per request. With
// 10,000 account DBs that lookup was most of the server's time (docs/performance.md).
//
// Here a request whose database is in a set of names known to exist skips both: the set is filled from
// PouchDB.allDbs() and emptied whenever PouchDB reports a database created or destroyed, so it never holds a
// name the unpatched check would refuse; any other request takes the unpatched path. Nothing else changes.

'use strict';

const path = require('path');
const modules = path.join(__dirname, 'node_modules');
const utils = require(path.join(modules, 'express-pouchdb/lib/utils'));
const cleanFilename = require(path.join(modules, 'express-pouchdb/lib/clean-filename'));
const getOrCreateDB = require(path.join(modules, 'express-pouchdb/lib/create-or-delete-dbs')).getOrCreateDB;

const unpatched = utils.setDBOnReq;
const lookups = new WeakMap(); // PouchDB constructor -> {names: Set | null, generation}

function lookupOf(PouchDB) {
  let lookup = lookups.get(PouchDB);
  if (!lookup) {
    lookup = {names: null, generation: 0};
    const forget = (name) => {
      if (String(name).indexOf('-mrview-') === -1) { // a view's index is not a database of the list
        lookup.names = null;
        lookup.generation += 1;
      }
    };
    PouchDB.on('created', forget);
    PouchDB.on('destroyed', forget);
    lookups.set(PouchDB, lookup);
  }
  return lookup;
}

function refill(PouchDB, lookup) {
  const generation = lookup.generation;
  PouchDB.allDbs().then((dbs) => {
    if (lookup.generation === generation) {
      lookup.names = new Set(dbs);
    }
  }, () => {});
}

utils.setDBOnReq = function (dbName, dbWrapper, req, res, next) {
  const lookup = lookupOf(req.PouchDB);
  const name = cleanFilename(dbName);
  if (!lookup.names || !lookup.names.has(name)) {
    if (!lookup.names) {
      refill(req.PouchDB, lookup);
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
