//! The context store: names and aliases pointing at shared records, each with a creation
//! time, a lifetime, an event store, an expiry action list and the desc its `%s` uses.
//! This module owns the data; expiry (which runs action lists) is driven by the engine.

use std::sync::Arc;

use crate::engine::subst::Bytes;
use crate::engine::ActionList;

/// One context record, shared by all its names.
#[derive(Clone, Debug)]
pub struct Record {
    /// Creation time (epoch seconds).
    pub ctime: i64,
    /// Lifetime in seconds; 0 is infinite, -1 means obsolete (expire now).
    pub lifetime: i64,
    /// The event store.
    pub store: Vec<Bytes>,
    /// The action list run at expiry.
    pub action: ActionList,
    /// `%s` for the expiry action list.
    pub desc: Bytes,
    /// Every name of the record, in the order they were given.
    pub aliases: Vec<Bytes>,
    /// Set while the expiry action list runs.
    pub deleting: bool,
    /// Internal contexts (`_INTERNAL_EVENT` and friends) refuse modifying actions.
    pub internal: bool,
    /// Bumped whenever the expiry time changes, to tell stale timers apart.
    pub generation: u64,
}

impl Record {
    /// True if the record has outlived its lifetime at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.lifetime != 0 && now - self.ctime > self.lifetime
    }

    /// When the periodic check will find it expired (None: never).
    pub fn due(&self) -> Option<i64> {
        match self.lifetime {
            0 => None,
            l if l < 0 => Some(self.ctime),
            l => Some(self.ctime + l + 1),
        }
    }
}

/// Names to records.
#[derive(Debug, Default)]
pub struct Contexts {
    names: crate::engine::FastMap<Bytes, usize>,
    records: Vec<Option<Record>>,
    free: Vec<usize>,
}

impl Contexts {
    /// The record id a name refers to.
    pub fn id(&self, name: &[u8]) -> Option<usize> {
        self.names.get(name).copied()
    }

    /// True if the name exists (whether or not it has expired).
    pub fn exists(&self, name: &[u8]) -> bool {
        self.names.contains_key(name)
    }

    /// The record behind a name.
    pub fn get(&self, name: &[u8]) -> Option<&Record> {
        self.id(name).and_then(|id| self.record(id))
    }

    /// The record behind a name, to change.
    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut Record> {
        let id = self.id(name)?;
        self.record_mut(id)
    }

    /// A record by id.
    pub fn record(&self, id: usize) -> Option<&Record> {
        self.records.get(id).and_then(Option::as_ref)
    }

    /// A record by id, to change.
    pub fn record_mut(&mut self, id: usize) -> Option<&mut Record> {
        self.records.get_mut(id).and_then(Option::as_mut)
    }

    /// Creates a new record under `name`; returns its id.
    pub fn insert(&mut self, name: Bytes, record: Record) -> usize {
        let id = match self.free.pop() {
            Some(id) => {
                self.records[id] = Some(record);
                id
            }
            None => {
                self.records.push(Some(record));
                self.records.len() - 1
            }
        };
        self.names.insert(name, id);
        id
    }

    /// Adds a name to a record.
    pub fn add_name(&mut self, name: Bytes, id: usize) {
        if let Some(r) = self.record_mut(id) {
            if !r.aliases.contains(&name) {
                r.aliases.push(name.clone());
            }
        }
        self.names.insert(name, id);
    }

    /// Removes one name; the record goes when its last name does.
    pub fn remove_name(&mut self, name: &[u8]) {
        let Some(id) = self.names.remove(name) else {
            return;
        };
        let empty = match self.record_mut(id) {
            Some(r) => {
                r.aliases.retain(|a| a != name);
                r.aliases.is_empty()
            }
            None => false,
        };
        if empty {
            self.records[id] = None;
            self.free.push(id);
        }
    }

    /// Removes a record and all its names.
    pub fn remove_record(&mut self, id: usize) {
        if let Some(r) = self.records.get_mut(id).and_then(Option::take) {
            for a in r.aliases {
                if self.names.get(&a) == Some(&id) {
                    self.names.remove(&a);
                }
            }
            self.free.push(id);
        }
    }

    /// Every name (for SingleWithScript's standard input and the dump), unordered.
    pub fn names(&self) -> impl Iterator<Item = &Bytes> {
        self.names.keys()
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no contexts.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// A new record with SEC's defaults for auto-created contexts.
    pub fn new_record(
        now: i64,
        lifetime: i64,
        action: ActionList,
        desc: Bytes,
        name: &[u8],
    ) -> Record {
        Record {
            ctime: now,
            lifetime,
            store: Vec::new(),
            action,
            desc,
            aliases: vec![name.to_vec()],
            deleting: false,
            internal: false,
            generation: 0,
        }
    }

    /// An empty action list.
    pub fn no_actions() -> ActionList {
        Arc::new(Vec::new())
    }
}

impl Contexts {
    /// Drops a name from the index without touching its record (for `_THIS`).
    pub fn forget_name(&mut self, name: &[u8]) {
        self.names.remove(name);
    }
}

impl Contexts {
    /// Points a name at a record without making it one of the record's aliases.
    pub fn link(&mut self, name: Bytes, id: usize) {
        self.names.insert(name, id);
    }
}

impl Contexts {
    /// The name index and the records (by id, None for a free slot), for saving state.
    pub fn parts(&self) -> (&crate::engine::FastMap<Bytes, usize>, &[Option<Record>]) {
        (&self.names, &self.records)
    }

    /// A store rebuilt from [`Contexts::parts`] (every name must point at a record).
    pub fn from_parts(
        names: crate::engine::FastMap<Bytes, usize>,
        records: Vec<Option<Record>>,
    ) -> Contexts {
        let free = (0..records.len())
            .rev()
            .filter(|i| records[*i].is_none())
            .collect();
        Contexts {
            names,
            records,
            free,
        }
    }
}
