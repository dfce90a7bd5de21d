//! An object's properties, in insertion order.
//!
//! Most objects a run builds are small: a request body of a few fields, an
//! action's inputs (`statusCode`, `body`), a Compose of two or three
//! properties. A hash map costs such an object two allocations (entries and
//! index) and a hash per property; a list of entries compared in order costs
//! one allocation and finds a key among a handful faster than the key can be
//! hashed. So an object keeps its entries in a vector until it holds more than
//! [`SMALL`] of them, and only then moves them into an `IndexMap`.
//!
//! Equality is that of maps (the same keys with equal values, in any order),
//! as with `IndexMap`; iteration is in insertion order either way.

use std::fmt;

use indexmap::IndexMap;

use crate::value::{Key, Value};

/// The most entries an object keeps without a hash index.
pub const SMALL: usize = 8;

type Indexed = IndexMap<Key, Value, foldhash::fast::RandomState>;

/// An object's properties; see the module documentation.
#[derive(Clone)]
pub struct Map(Repr);

#[derive(Clone)]
enum Repr {
    Small(Vec<(Key, Value)>),
    /// Hashed with foldhash, seeded at random per process: keys a caller
    /// chooses cannot be aimed at collisions without knowing the seed.
    Large(Indexed),
}

impl Default for Map {
    fn default() -> Self {
        Map(Repr::Small(Vec::new()))
    }
}

impl Map {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `capacity` properties.
    pub fn with_capacity(capacity: usize) -> Self {
        if capacity <= SMALL {
            Map(Repr::Small(Vec::with_capacity(capacity)))
        } else {
            Map(Repr::Large(Indexed::with_capacity_and_hasher(
                capacity,
                Default::default(),
            )))
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets `key` to `value`, returning the value it replaced. A new key goes
    /// last; a replaced one keeps its place.
    pub fn insert(&mut self, key: Key, value: Value) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(v) => {
                let name = key.as_str();
                if let Some((_, old)) = v.iter_mut().find(|(k, _)| k == name) {
                    return Some(std::mem::replace(old, value));
                }
                if v.len() < SMALL {
                    v.push((key, value));
                    return None;
                }
                let mut m = Indexed::with_capacity_and_hasher(v.len() * 2, Default::default());
                m.extend(v.drain(..));
                m.insert(key, value);
                self.0 = Repr::Large(m);
                None
            }
            Repr::Large(m) => m.insert(key, value),
        }
    }

    /// The value under exactly `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match &self.0 {
            Repr::Small(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Repr::Large(m) => m.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match &mut self.0 {
            Repr::Small(v) => v.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            Repr::Large(m) => m.get_mut(key),
        }
    }

    /// The key and value under exactly `key`.
    pub fn get_key_value(&self, key: &str) -> Option<(&Key, &Value)> {
        match &self.0 {
            Repr::Small(v) => v.iter().find(|(k, _)| k == key).map(|(k, v)| (k, v)),
            Repr::Large(m) => m.get_key_value(key),
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The entry at `index` in insertion order.
    pub fn get_index(&self, index: usize) -> Option<(&Key, &Value)> {
        match &self.0 {
            Repr::Small(v) => v.get(index).map(|(k, v)| (k, v)),
            Repr::Large(m) => m.get_index(index),
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(v) => {
                let at = v.iter().position(|(k, _)| k == key)?;
                Some(v.remove(at).1)
            }
            Repr::Large(m) => m.shift_remove(key),
        }
    }

    /// Keeps the entries `keep` approves of, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Key, &mut Value) -> bool) {
        match &mut self.0 {
            Repr::Small(v) => v.retain_mut(|(k, v)| keep(k, v)),
            Repr::Large(m) => m.retain(|k, v| keep(k, v)),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => Iter(IterRepr::Small(v.iter())),
            Repr::Large(m) => Iter(IterRepr::Large(m.iter())),
        }
    }

    pub fn iter_mut(&mut self) -> IterMut<'_> {
        match &mut self.0 {
            Repr::Small(v) => IterMut(IterMutRepr::Small(v.iter_mut())),
            Repr::Large(m) => IterMut(IterMutRepr::Large(m.iter_mut())),
        }
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Key> + DoubleEndedIterator + Clone {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> + DoubleEndedIterator + Clone {
        self.iter().map(|(_, v)| v)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl ExactSizeIterator<Item = &mut Value> + DoubleEndedIterator {
        self.iter_mut().map(|(_, v)| v)
    }
}

/// Borrowed entries in insertion order.
#[derive(Clone)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Clone)]
enum IterRepr<'a> {
    Small(std::slice::Iter<'a, (Key, Value)>),
    Large(indexmap::map::Iter<'a, Key, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(i) => i.next().map(|(k, v)| (k, v)),
            IterRepr::Large(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len();
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(i) => i.next_back().map(|(k, v)| (k, v)),
            IterRepr::Large(i) => i.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {
    fn len(&self) -> usize {
        match &self.0 {
            IterRepr::Small(i) => i.len(),
            IterRepr::Large(i) => i.len(),
        }
    }
}

/// Entries with mutable values, in insertion order.
pub struct IterMut<'a>(IterMutRepr<'a>);

enum IterMutRepr<'a> {
    Small(std::slice::IterMut<'a, (Key, Value)>),
    Large(indexmap::map::IterMut<'a, Key, Value>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Key, &'a mut Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterMutRepr::Small(i) => i.next().map(|(k, v)| (&*k, v)),
            IterMutRepr::Large(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len();
        (n, Some(n))
    }
}

impl DoubleEndedIterator for IterMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterMutRepr::Small(i) => i.next_back().map(|(k, v)| (&*k, v)),
            IterMutRepr::Large(i) => i.next_back(),
        }
    }
}

impl ExactSizeIterator for IterMut<'_> {
    fn len(&self) -> usize {
        match &self.0 {
            IterMutRepr::Small(i) => i.len(),
            IterMutRepr::Large(i) => i.len(),
        }
    }
}

/// Owned entries in insertion order.
pub struct IntoIter(IntoIterRepr);

enum IntoIterRepr {
    Small(std::vec::IntoIter<(Key, Value)>),
    Large(indexmap::map::IntoIter<Key, Value>),
}

impl Iterator for IntoIter {
    type Item = (Key, Value);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoIterRepr::Small(i) => i.next(),
            IntoIterRepr::Large(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len();
        (n, Some(n))
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoIterRepr::Small(i) => i.next_back(),
            IntoIterRepr::Large(i) => i.next_back(),
        }
    }
}

impl ExactSizeIterator for IntoIter {
    fn len(&self) -> usize {
        match &self.0 {
            IntoIterRepr::Small(i) => i.len(),
            IntoIterRepr::Large(i) => i.len(),
        }
    }
}

impl IntoIterator for Map {
    type Item = (Key, Value);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        match self.0 {
            Repr::Small(v) => IntoIter(IntoIterRepr::Small(v.into_iter())),
            Repr::Large(m) => IntoIter(IntoIterRepr::Large(m.into_iter())),
        }
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a Key, &'a mut Value);
    type IntoIter = IterMut<'a>;

    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl Extend<(Key, Value)> for Map {
    fn extend<I: IntoIterator<Item = (Key, Value)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Key, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Key, Value)>>(entries: I) -> Self {
        let entries = entries.into_iter();
        let mut map = Map::with_capacity(entries.size_hint().0);
        map.extend(entries);
        map
    }
}

impl<const N: usize> From<[(Key, Value); N]> for Map {
    fn from(entries: [(Key, Value); N]) -> Self {
        entries.into_iter().collect()
    }
}

/// Equal as maps: the same keys, each with an equal value, in any order.
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;

    /// The value under `key`; panics when there is none, as `IndexMap` does.
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no property {key:?} in the object"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Key {
        Key::from(format!("k{i}"))
    }

    /// Below, at and beyond the size where the hash index is built, a map
    /// behaves the same: order kept, replaced keys keep their place, removal
    /// keeps the others' order, lookups find every key.
    #[test]
    fn small_and_large_maps_behave_alike() {
        for n in [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL] {
            let mut m = Map::new();
            for i in 0..n {
                assert_eq!(m.insert(key(i), Value::Int(i as i64)), None);
            }
            assert_eq!(m.len(), n);
            let order: Vec<String> = m.keys().map(|k| k.to_string()).collect();
            assert_eq!(order, (0..n).map(|i| format!("k{i}")).collect::<Vec<_>>());
            for i in 0..n {
                assert_eq!(m.get(&format!("k{i}")), Some(&Value::Int(i as i64)), "{n}");
            }
            assert_eq!(m.get("absent"), None);
            if n > 1 {
                assert_eq!(m.insert(key(0), Value::Bool(true)), Some(Value::Int(0)));
                assert_eq!(m.get_index(0), Some((&key(0), &Value::Bool(true))));
                assert_eq!(m.shift_remove("k0"), Some(Value::Bool(true)));
                assert_eq!(m.keys().next(), Some(&key(1)), "{n}");
                assert_eq!(m.len(), n - 1);
                m.retain(|k, _| k != "k1");
                assert!(!m.contains_key("k1"));
                assert_eq!(m.len(), n - 2);
            }
        }
    }

    #[test]
    fn maps_are_equal_in_any_order() {
        for n in [2, SMALL + 4] {
            let forward: Map = (0..n).map(|i| (key(i), Value::Int(i as i64))).collect();
            let backward: Map = (0..n)
                .rev()
                .map(|i| (key(i), Value::Int(i as i64)))
                .collect();
            assert_eq!(forward, backward);
            let mut other = forward.clone();
            other.insert(key(0), Value::Null);
            assert_ne!(forward, other);
            other.shift_remove("k0");
            assert_ne!(forward, other);
        }
    }

    #[test]
    fn a_map_grows_past_the_small_size_keeping_its_order() {
        let mut m = Map::with_capacity(2);
        for i in (0..SMALL * 2).rev() {
            m.insert(key(i), Value::Int(i as i64));
        }
        let values: Vec<i64> = m.values().filter_map(Value::as_i64).collect();
        assert_eq!(values, (0..SMALL as i64 * 2).rev().collect::<Vec<_>>());
        let owned: Vec<(Key, Value)> = m.clone().into_iter().collect();
        assert_eq!(owned.len(), SMALL * 2);
        for (_, v) in m.iter_mut() {
            *v = Value::Null;
        }
        assert!(m.values().all(|v| *v == Value::Null));
    }
}
