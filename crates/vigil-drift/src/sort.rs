//! Sorting of finite floats: mapped to order-preserving unsigned integer keys (the IEEE
//! total-order bit transform), sorted as integers by a least-significant-digit radix sort
//! (byte by byte, skipping bytes that every key shares), and mapped back.

fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// What the sorted-sample merges of KS and CvM work on: finite floats, or their order-preserving
/// integer keys (cheaper to compare). `END` sorts after every value.
pub(crate) trait SortKey: Copy + PartialEq {
    /// A value after every sample value.
    const END: Self;
    /// The smaller of two values.
    fn min2(a: Self, b: Self) -> Self;
}

impl SortKey for f64 {
    const END: f64 = f64::INFINITY;
    fn min2(a: f64, b: f64) -> f64 {
        a.min(b)
    }
}

impl SortKey for u64 {
    // Keys of finite values never reach u64::MAX (that is the key of a NaN).
    const END: u64 = u64::MAX;
    fn min2(a: u64, b: u64) -> u64 {
        a.min(b)
    }
}

/// Sorted order-preserving keys of the non-missing (non-NaN) values, with `-0.0` folded into
/// `0.0` so that equal numbers have equal keys.
pub(crate) fn sorted_keys(values: &[f64]) -> Vec<u64> {
    let mut keys: Vec<u64> = values
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| key(x + 0.0))
        .collect();
    radix_sort(&mut keys);
    keys
}

/// Below this many keys a comparison sort is faster than counting bytes.
const RADIX_MIN: usize = 256;

/// Sort integer keys ascending: LSD radix sort on bytes, one counting pass for all eight
/// histograms, and no pass for a byte that is the same in every key (the sign and exponent
/// bytes of samples of one scale often are).
pub(crate) fn radix_sort(keys: &mut Vec<u64>) {
    if keys.len() < RADIX_MIN {
        keys.sort_unstable();
        return;
    }
    let mut counts = [[0usize; 256]; 8];
    for &k in keys.iter() {
        for (b, c) in counts.iter_mut().enumerate() {
            c[((k >> (8 * b)) & 0xff) as usize] += 1;
        }
    }
    let n = keys.len();
    let mut buf = vec![0u64; n];
    let mut from_keys = true;
    for (b, c) in counts.iter().enumerate() {
        if c.contains(&n) {
            continue; // every key has the same byte here
        }
        let mut offsets = [0usize; 256];
        let mut sum = 0;
        for (o, &x) in offsets.iter_mut().zip(c.iter()) {
            *o = sum;
            sum += x;
        }
        let (src, dst) = if from_keys {
            (&keys[..], &mut buf[..])
        } else {
            (&buf[..], &mut keys[..])
        };
        for &k in src {
            let d = ((k >> (8 * b)) & 0xff) as usize;
            dst[offsets[d]] = k;
            offsets[d] += 1;
        }
        from_keys = !from_keys;
    }
    if !from_keys {
        std::mem::swap(keys, &mut buf);
    }
}

/// Sort values ascending in IEEE total order (`-0.0` before `0.0`; callers compare with `==`,
/// so ties are unaffected).
pub(crate) fn sort_floats(xs: &mut [f64]) {
    let mut keys: Vec<u64> = xs.iter().map(|&x| key(x)).collect();
    radix_sort(&mut keys);
    for (x, k) in xs.iter_mut().zip(keys) {
        *x = unkey(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_signed_zero_and_skip_missing() {
        let k = sorted_keys(&[1.0, -0.0, f64::NAN, 0.0, -2.5]);
        assert_eq!(k.len(), 4);
        assert_eq!(k[1], k[2], "-0.0 and 0.0 are one value");
        assert_eq!(unkey(k[0]), -2.5);
        assert_eq!(unkey(k[3]), 1.0);
    }

    #[test]
    fn radix_sort_matches_a_comparison_sort() {
        let mut state = 99u64;
        for n in [0, 1, 255, 256, 257, 1000, 70_000] {
            for spread in [0u64, 0xff, u64::MAX] {
                let mut keys: Vec<u64> = (0..n)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (state >> 3) & spread | 0x4000_0000_0000_0000
                    })
                    .collect();
                let mut want = keys.clone();
                want.sort_unstable();
                radix_sort(&mut keys);
                assert_eq!(keys, want, "n {n} spread {spread:x}");
            }
        }
    }

    #[test]
    fn matches_total_order_sort() {
        let mut state = 12345u64;
        let mut xs: Vec<f64> = (0..5000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                match i % 7 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => -1e300 * u,
                    3 => 1e-310 * u,
                    _ => (u - 0.5) * 1e3,
                }
            })
            .collect();
        let mut want = xs.clone();
        want.sort_by(f64::total_cmp);
        sort_floats(&mut xs);
        assert_eq!(
            xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
