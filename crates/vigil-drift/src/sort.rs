//! Sorting of finite floats.

/// Sort finite values ascending (pattern-defeating quicksort on the IEEE total order; `-0.0`
/// sorts before `0.0`, and callers compare with `==`, so ties are unaffected). An LSD radix sort
/// was measured and was no faster on 10^5-value columns.
pub(crate) fn sort_floats(xs: &mut [f64]) {
    xs.sort_unstable_by(f64::total_cmp);
}
