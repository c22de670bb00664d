//! Compiled, pre-linked modules, kept by the sha256 of their bytes (least recently used first
//! out), so a worker compiles an app once and instantiates it cheaply for every task.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use wasmtime::InstancePre;

use crate::wasi::State;

/// A bounded LRU map from module digest to pre-linked module.
pub(crate) struct ModuleCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    map: HashMap<[u8; 32], InstancePre<State>>,
    /// Digests from least to most recently used.
    order: VecDeque<[u8; 32]>,
}

impl ModuleCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map stays consistent even if a holder panicked: every update is a single insert
        // or remove.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, digest: &[u8; 32]) -> Option<InstancePre<State>> {
        let mut inner = self.lock();
        let pre = inner.map.get(digest).cloned()?;
        inner.order.retain(|d| d != digest);
        inner.order.push_back(*digest);
        Some(pre)
    }

    pub fn insert(&self, digest: [u8; 32], pre: InstancePre<State>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.map.insert(digest, pre).is_some() {
            inner.order.retain(|d| d != &digest);
        }
        inner.order.push_back(digest);
        while inner.map.len() > self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.map.remove(&oldest);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.order.clear();
    }
}
