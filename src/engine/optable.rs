//! The table of live correlation operations: each operation's key (file, rule, desc) and
//! its state, found by key in one hash probe. It owns only storage and lookup; what an
//! operation does is `ops.rs`, and when it expires is the engine's timer heap, which
//! refers to operations by [`OpId`].
//!
//! Operations live in a slab (a vector of slots, reused through a free list), and the hash
//! index holds only 4-byte slot numbers that hash and compare through the slab. A live
//! operation therefore costs its slot, its key's desc and its own state, about half of
//! what a map from owned keys to operations cost (its buckets hold key and value, and a
//! resize holds two tables at once). A slot's generation changes whenever its operation
//! goes, so a timer that outlives its operation finds nothing.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::engine::ops::Op;
use crate::engine::OpKey;

/// A handle on one operation: its slot and the slot's generation when it was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId {
    slot: u32,
    generation: u32,
}

/// One slab slot.
#[derive(Debug)]
struct Slot {
    generation: u32,
    entry: Option<(OpKey, Op)>,
}

/// The live operations, by key.
#[derive(Default)]
pub struct OpTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    len: usize,
}

impl std::fmt::Debug for OpTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl OpTable {
    /// The number of live operations.
    pub fn len(&self) -> usize {
        self.len
    }

    fn hash(&self, file: usize, rule: usize, desc: &[u8]) -> u64 {
        // The same hash as the owned key's: a Vec<u8> hashes as its slice.
        self.hasher.hash_one((file, rule, desc))
    }

    fn slot_of(&self, file: usize, rule: usize, desc: &[u8]) -> Option<u32> {
        let h = self.hash(file, rule, desc);
        let slots = &self.slots;
        self.index
            .find(h, |&s| match &slots[s as usize].entry {
                Some(((f, r, d), _)) => *f == file && *r == rule && d.as_slice() == desc,
                None => false,
            })
            .copied()
    }

    /// The operation with key `key`.
    pub fn get(&self, key: &OpKey) -> Option<&Op> {
        let s = self.slot_of(key.0, key.1, &key.2)?;
        self.slots[s as usize].entry.as_ref().map(|(_, op)| op)
    }

    /// The operation with key `key`, to change.
    pub fn get_mut(&mut self, key: &OpKey) -> Option<&mut Op> {
        let s = self.slot_of(key.0, key.1, &key.2)?;
        self.slots[s as usize].entry.as_mut().map(|(_, op)| op)
    }

    /// True if an operation with key `key` is live.
    pub fn contains_key(&self, key: &OpKey) -> bool {
        self.slot_of(key.0, key.1, &key.2).is_some()
    }

    /// The handle of the operation with key `key`.
    pub fn id_of(&self, key: &OpKey) -> Option<OpId> {
        let s = self.slot_of(key.0, key.1, &key.2)?;
        Some(OpId {
            slot: s,
            generation: self.slots[s as usize].generation,
        })
    }

    /// The key of the operation `id` refers to, if it is still live.
    pub fn key_of(&self, id: OpId) -> Option<&OpKey> {
        let slot = self.slots.get(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.entry.as_ref().map(|(k, _)| k)
    }

    /// Stores `op` under `key`, replacing (and invalidating the handles of) an operation
    /// with the same key.
    pub fn insert(&mut self, key: OpKey, op: Op) -> OpId {
        if let Some(s) = self.slot_of(key.0, key.1, &key.2) {
            let slot = &mut self.slots[s as usize];
            slot.generation = slot.generation.wrapping_add(1);
            slot.entry = Some((key, op));
            return OpId {
                slot: s,
                generation: slot.generation,
            };
        }
        let h = self.hash(key.0, key.1, &key.2);
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize].entry = Some((key, op));
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(Slot {
                    generation: 0,
                    entry: Some((key, op)),
                });
                s
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(h, s, |&t| rehash(slots, hasher, t));
        self.len += 1;
        OpId {
            slot: s,
            generation: self.slots[s as usize].generation,
        }
    }

    /// Removes the operation with key `key` and returns it.
    pub fn remove(&mut self, key: &OpKey) -> Option<Op> {
        let h = self.hash(key.0, key.1, &key.2);
        let slots = &self.slots;
        let entry = self
            .index
            .find_entry(h, |&s| match &slots[s as usize].entry {
                Some((k, _)) => k == key,
                None => false,
            })
            .ok()?;
        let (s, _) = entry.remove();
        let slot = &mut self.slots[s as usize];
        slot.generation = slot.generation.wrapping_add(1);
        let (_, op) = slot.entry.take()?;
        self.free.push(s);
        self.len -= 1;
        Some(op)
    }

    /// Every live operation with its key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&OpKey, &Op)> {
        self.slots
            .iter()
            .filter_map(|s| s.entry.as_ref().map(|(k, op)| (k, op)))
    }

    /// Moves every operation to the file index `map` gives for its file, and drops the
    /// operations of files it maps to None (a soft restart). Handles of kept operations
    /// stay valid.
    pub fn remap_files(&mut self, map: impl Fn(usize) -> Option<usize>) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some((key, _)) = slot.entry.as_mut() else {
                continue;
            };
            match map(key.0) {
                Some(nf) => key.0 = nf,
                None => {
                    slot.entry = None;
                    slot.generation = slot.generation.wrapping_add(1);
                    self.free.push(i as u32);
                    self.len -= 1;
                }
            }
        }
        self.index.clear();
        let (slots, hasher) = (&self.slots, &self.hasher);
        for (i, slot) in slots.iter().enumerate() {
            if let Some(((f, r, d), _)) = &slot.entry {
                let h = hasher.hash_one((*f, *r, d.as_slice()));
                self.index
                    .insert_unique(h, i as u32, |&t| rehash(slots, hasher, t));
            }
        }
    }
}

/// The hash of the key in slot `s` (for the index's resizes).
fn rehash(slots: &[Slot], hasher: &foldhash::fast::RandomState, s: u32) -> u64 {
    match &slots[s as usize].entry {
        Some(((f, r, d), _)) => hasher.hash_one((*f, *r, d.as_slice())),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ops::State;

    fn op(t: i64) -> Op {
        Op {
            time: t,
            window: 1,
            scheduled: i64::MIN,
            state: State::Suppress,
        }
    }

    #[test]
    fn insert_get_remove_and_handles() {
        let mut t = OpTable::default();
        let a = (0, 1, b"a".to_vec());
        let b = (0, 1, b"b".to_vec());
        let ia = t.insert(a.clone(), op(1));
        let ib = t.insert(b.clone(), op(2));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&a).map(|o| o.time), Some(1));
        assert_eq!(t.key_of(ib), Some(&b));
        assert_eq!(t.remove(&a).map(|o| o.time), Some(1));
        assert!(t.get(&a).is_none());
        assert_eq!(t.key_of(ia), None, "a removed operation's handle is stale");
        // The freed slot is reused, and the old handle stays stale.
        let ia2 = t.insert(a.clone(), op(3));
        assert_ne!(ia, ia2);
        assert_eq!(t.key_of(ia), None);
        assert_eq!(t.key_of(ia2), Some(&a));
        // Replacing invalidates the old handle.
        let ia3 = t.insert(a.clone(), op(4));
        assert_eq!(t.key_of(ia2), None);
        assert_eq!(t.get(&a).map(|o| o.time), Some(4));
        assert_eq!(t.len(), 2);
        t.remap_files(|f| if f == 0 { Some(5) } else { None });
        assert_eq!(t.key_of(ia3), Some(&(5, 1, b"a".to_vec())));
        assert!(t.get(&(5, 1, b"b".to_vec())).is_some());
        t.remap_files(|_| None);
        assert_eq!(t.len(), 0);
        assert_eq!(t.key_of(ia3), None);
        assert_eq!(t.iter().count(), 0);
    }

    #[test]
    fn many_keys_survive_resizes() {
        let mut t = OpTable::default();
        for i in 0..5000i64 {
            t.insert((0, 0, i.to_string().into_bytes()), op(i));
        }
        for i in (0..5000i64).step_by(2) {
            assert!(t.remove(&(0, 0, i.to_string().into_bytes())).is_some());
        }
        for i in 0..5000i64 {
            let got = t.get(&(0, 0, i.to_string().into_bytes())).map(|o| o.time);
            assert_eq!(got, if i % 2 == 1 { Some(i) } else { None });
        }
        assert_eq!(t.len(), 2500);
    }
}
