//! The seeded random source behind `random_get`.

use std::convert::Infallible;

use sha2::{Digest, Sha256};

/// A deterministic, cryptographically strong byte stream: SHA-256 in counter mode,
/// `block_i = sha256(domain ‖ seed ‖ i as u64 little-endian)`.
///
/// Seeded with the task id, it gives every worker the same "random" bytes for a task and
/// different bytes for different tasks.
pub(crate) struct SeededRng {
    prefix: Vec<u8>,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRng {
    pub fn new(domain: &[u8], seed: &[u8]) -> Self {
        let mut prefix = Vec::with_capacity(domain.len() + seed.len());
        prefix.extend_from_slice(domain);
        prefix.extend_from_slice(seed);
        Self {
            prefix,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == self.block.len() {
                let mut hasher = Sha256::new();
                hasher.update(&self.prefix);
                hasher.update(self.counter.to_le_bytes());
                self.block = hasher.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

impl rand_core::TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::TryRng;

    #[test]
    fn seeded_rng_is_deterministic_and_seed_dependent() {
        let mut a = SeededRng::new(b"d", &[1; 32]);
        let mut b = SeededRng::new(b"d", &[1; 32]);
        let mut c = SeededRng::new(b"d", &[2; 32]);
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.try_fill_bytes(&mut x).expect("infallible");
        b.try_fill_bytes(&mut y[..33]).expect("infallible");
        b.try_fill_bytes(&mut y[33..]).expect("infallible");
        c.try_fill_bytes(&mut z).expect("infallible");
        assert_eq!(x, y, "chunking must not change the stream");
        assert_ne!(x, z);
    }
}
