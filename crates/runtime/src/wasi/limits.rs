//! The store's resource limiter and the file-write budget's error.

use wasmtime::{ResourceLimiter, StoreLimits};

use crate::runtime::Limit;

/// [`StoreLimits`] (memory size, table elements, instance counts; `trap_on_grow_failure`) that
/// remembers which limit stopped the run, so the outcome can say so.
pub(crate) struct Limiter {
    inner: StoreLimits,
    pub hit: Option<Limit>,
}

impl Limiter {
    pub fn new(inner: StoreLimits) -> Self {
        Self { inner, hit: None }
    }

    fn record<T>(&mut self, limit: Limit, result: wasmtime::Result<T>) -> wasmtime::Result<T> {
        if result.is_err() {
            self.hit.get_or_insert(limit);
        }
        result
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let result = self.inner.memory_growing(current, desired, maximum);
        self.record(Limit::Memory, result)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        let result = self.inner.memory_grow_failed(error);
        self.record(Limit::Memory, result)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let result = self.inner.table_growing(current, desired, maximum);
        self.record(Limit::TableElements, result)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        let result = self.inner.table_grow_failed(error);
        self.record(Limit::TableElements, result)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// The error an override returns to stop the run when the write budget is spent.
#[derive(Debug, thiserror::Error)]
#[error("the app wrote more than {0} bytes to files")]
pub(crate) struct WriteBudgetExceeded(pub u64);
