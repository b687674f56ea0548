//! `np.argsort` of a small float64 array as numpy 2 computes it on an x86-64 CPU with AVX-512
//! (the machines Vigil's screening is checked on against cleanlab): numpy hands the sort to
//! Intel's x86-simd-sort (`avx512_argsort<double>`), whose arrays of at most 256 values go
//! through a bitonic sorting network on registers of eight lanes. That network is not stable:
//! equal values come out in an order of its own. cleanlab's `round_preserving_sum` picks which
//! counts to round up by that order, so with ties (two cells of a confident-joint row with the
//! same count) a stable sort can round a different cell and flag a different row.
//!
//! This module replays the network lane by lane (`xss-network-keyvaluesort.hpp`,
//! `xss-reg-networks.hpp` and the 64-bit swizzles of `avx512-64bit-common.h` in
//! github.com/intel/x86-simd-sort), including its early exit for input that is already sorted.
//! Golden orders from numpy are in the tests (`scripts/npsort-golden.py` made them). Only
//! finite values are expected; longer arrays (numpy's quicksort partitions them first) fall
//! back to a stable sort.

/// Lanes of a 512-bit register of 64-bit values.
const LANES: usize = 8;

/// The longest array numpy sorts with the network alone.
pub(crate) const MAX_NETWORK: usize = 256;

#[derive(Clone, Copy)]
struct Reg {
    keys: [f64; LANES],
    idx: [usize; LANES],
}

/// `_mm512_min_pd(a, b)` / `_mm512_max_pd(a, b)`: `b` unless `a` is strictly smaller / larger.
fn min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

fn max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// `cmp_merge` of a register with a permutation of itself (`partner(lane)`): lanes in `mask`
/// take the larger key, the others the smaller; a lane keeps its index when its key did not
/// change, else takes its partner's.
fn cmp_merge(r: Reg, partner: impl Fn(usize) -> usize, mask: u8) -> Reg {
    let mut out = r;
    for l in 0..LANES {
        let p = partner(l) % LANES;
        let (a, b) = (r.keys[p], r.keys[l]);
        let key = if mask >> l & 1 == 1 {
            max(a, b)
        } else {
            min(a, b)
        };
        out.keys[l] = key;
        out.idx[l] = if key == b { r.idx[l] } else { r.idx[p] };
    }
    out
}

/// `sort_reg_8lanes`: a full bitonic network on one register.
fn sort_reg(r: Reg) -> Reg {
    let r = cmp_merge(r, |l| l ^ 1, 0xAA);
    let r = cmp_merge(r, |l| l ^ 3, 0xCC);
    let r = cmp_merge(r, |l| l ^ 1, 0xAA);
    let r = cmp_merge(r, |l| l ^ 7, 0xF0);
    let r = cmp_merge(r, |l| l ^ 2, 0xCC);
    cmp_merge(r, |l| l ^ 1, 0xAA)
}

/// `bitonic_merge_reg_8lanes`: the half cleaners of a bitonic register.
fn merge_reg(r: Reg) -> Reg {
    let r = cmp_merge(r, |l| l ^ 4, 0xF0);
    let r = cmp_merge(r, |l| l ^ 2, 0xCC);
    cmp_merge(r, |l| l ^ 1, 0xAA)
}

fn reverse(r: &mut Reg) {
    r.keys.reverse();
    r.idx.reverse();
}

/// `COEX` of two registers, lane by lane: the smaller keys to `a`, the larger to `b`; indices
/// follow unless the keys are equal.
fn coex(regs: &mut [Reg], a: usize, b: usize) {
    let (Some(&x), Some(&y)) = (regs.get(a), regs.get(b)) else {
        return;
    };
    let (mut lo, mut hi) = (x, y);
    for l in 0..LANES {
        let (k1, k2) = (x.keys[l], y.keys[l]);
        lo.keys[l] = min(k1, k2);
        hi.keys[l] = max(k1, k2);
        let first_was_min = lo.keys[l] == k1;
        lo.idx[l] = if first_was_min { x.idx[l] } else { y.idx[l] };
        hi.idx[l] = if first_was_min { y.idx[l] } else { x.idx[l] };
    }
    if let Some(r) = regs.get_mut(a) {
        *r = lo;
    }
    if let Some(r) = regs.get_mut(b) {
        *r = hi;
    }
}

/// `bitonic_merge_n_vec` on `regs` (a power of two of registers, each sorted, halves sorted).
fn merge_n(regs: &mut [Reg]) {
    let n = regs.len();
    for i in 0..n / 2 {
        let j = n - i - 1;
        if let Some(r) = regs.get_mut(j) {
            reverse(r);
        }
        coex(regs, i, j);
        if let Some(r) = regs.get_mut(j) {
            reverse(r);
        }
    }
    let mut num = n / 2;
    while num >= 2 {
        for j in (0..n).step_by(num) {
            for i in 0..num / 2 {
                coex(regs, i + j, i + j + num / 2);
            }
        }
        num /= 2;
    }
    for r in regs.iter_mut() {
        *r = merge_reg(*r);
    }
}

/// The indices that sort `keys` ascending, ties in numpy's order on AVX-512 (see the module
/// documentation).
pub(crate) fn argsort(keys: &[f64]) -> Vec<usize> {
    let n = keys.len();
    let identity: Vec<usize> = (0..n).collect();
    if n > MAX_NETWORK || keys.iter().any(|k| !k.is_finite()) {
        let mut order = identity;
        order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
        return order;
    }
    // x86-simd-sort returns at once for input that is already sorted (`std::is_sorted`).
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        return identity;
    }
    // As many registers as the smallest power of two that holds `n` (at least one); lanes past
    // the end hold +inf with the largest index, as the masked loads leave them.
    let vecs = n.div_ceil(LANES).next_power_of_two();
    let mut regs: Vec<Reg> = (0..vecs)
        .map(|v| {
            let mut r = Reg {
                keys: [f64::INFINITY; LANES],
                idx: [usize::MAX; LANES],
            };
            for l in 0..LANES {
                let i = v * LANES + l;
                if let Some(&k) = keys.get(i) {
                    r.keys[l] = k;
                    r.idx[l] = i;
                }
            }
            sort_reg(r)
        })
        .collect();
    let mut per = 2;
    while per <= vecs {
        for group in regs.chunks_mut(per) {
            merge_n(group);
        }
        per *= 2;
    }
    regs.iter()
        .flat_map(|r| r.idx)
        .filter(|&i| i < n)
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orders numpy 2.4.6 gave on this project's AVX-512 machines (`np.argsort(x)`), from
    /// `scripts/npsort-golden.py`: values drawn from a few levels so that ties are common.
    const GOLDEN: &str = include_str!("npsort-golden.txt");

    #[test]
    fn numpy_orders_ties_as_replayed() {
        let mut cases = 0;
        for line in GOLDEN.lines().filter(|l| !l.trim().is_empty()) {
            let (keys, order) = line.split_once('|').unwrap();
            let keys: Vec<f64> = keys
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            let want: Vec<usize> = order
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            assert_eq!(argsort(&keys), want, "{keys:?}");
            cases += 1;
        }
        assert!(cases >= 500, "{cases} golden cases");
    }

    #[test]
    fn every_order_sorts() {
        let keys = [3.0, -1.0, 3.0, 0.0, 0.5, -1.0, 7.0, 0.0, 0.0, 2.0, 3.0];
        let order = argsort(&keys);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..keys.len()).collect::<Vec<_>>());
        assert!(order.windows(2).all(|w| keys[w[0]] <= keys[w[1]]));
    }
}
