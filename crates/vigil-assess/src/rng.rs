//! Seeded random numbers: one ChaCha8 stream per (seed, attack, row, budget), so results do not
//! depend on the number of threads or on the order rows are attacked in.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore as _, SeedableRng as _};

/// A random stream for one unit of work.
pub(crate) struct Rng(ChaCha8Rng);

/// SplitMix64 finaliser: spreads the parts of a stream's key over 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream for `parts` (the user's seed first).
    pub(crate) fn for_parts(parts: &[u64]) -> Rng {
        let mut key = [0u8; 32];
        let mut h = 0x5EED_u64;
        for (i, p) in parts.iter().enumerate() {
            h = mix(h ^ p.wrapping_add(i as u64));
            let at = (i % 4) * 8;
            if let Some(slot) = key.get_mut(at..at + 8) {
                for (k, b) in slot.iter_mut().zip(h.to_le_bytes()) {
                    *k ^= b;
                }
            }
        }
        Rng(ChaCha8Rng::from_seed(key))
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [0, n) (0 when n is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((self.unit() * n as f64) as usize).min(n - 1)
    }

    /// -1 or +1 with equal chance.
    pub(crate) fn sign(&mut self) -> f64 {
        if self.0.next_u32() & 1 == 0 {
            -1.0
        } else {
            1.0
        }
    }

    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<f64> = (0..4)
            .map({
                let mut r = Rng::for_parts(&[1, 2, 3]);
                move |_| r.unit()
            })
            .collect();
        let b: Vec<f64> = (0..4)
            .map({
                let mut r = Rng::for_parts(&[1, 2, 3]);
                move |_| r.unit()
            })
            .collect();
        let c: Vec<f64> = (0..4)
            .map({
                let mut r = Rng::for_parts(&[1, 2, 4]);
                move |_| r.unit()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
    }
}
