//! Special functions: log-gamma (from `statrs`), the regularized upper incomplete gamma in log
//! space, the modified Bessel function K_{1/4}, and Loader's saddle-point binomial and
//! hypergeometric probabilities.

use statrs::function::gamma::ln_gamma;

/// `MAXLOG` of Cephes: `exp` of anything below `-MAXLOG` underflows in scipy's `igamc`.
pub(crate) const CEPHES_MAXLOG: f64 = 7.097_827_128_933_84e2;

/// `ln Γ(x)` for `x > 0`.
pub(crate) fn lgamma(x: f64) -> f64 {
    ln_gamma(x)
}

/// The chi-squared survival function with `dof` degrees of freedom.
///
/// Returns `(p, ln_p)`: `p` as scipy's `chi2.sf` gives it (Cephes `igamc`, which returns 0 once
/// the prefactor `x^a e^-x / Γ(a)` falls below `exp(-MAXLOG)`), and `ln_p`, the natural log of
/// the exact tail that stays finite far below the smallest double.
pub(crate) fn chi2_sf(stat: f64, dof: f64) -> (f64, f64) {
    if stat.is_nan() || dof.is_nan() || dof <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    if stat <= 0.0 {
        return (1.0, 0.0);
    }
    if stat.is_infinite() {
        return (0.0, f64::NEG_INFINITY);
    }
    gamma_q(dof / 2.0, stat / 2.0)
}

/// Regularized upper incomplete gamma `Q(a, x)` as `(q, ln q)`.
fn gamma_q(a: f64, x: f64) -> (f64, f64) {
    let ln_prefactor = a * x.ln() - x - lgamma(a);
    if x < a + 1.0 {
        // Series for P(a, x) = x^a e^-x / Γ(a+1) * Σ x^n / ((a+1)...(a+n)).
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut n = 1.0;
        while n < 100_000.0 {
            term *= x / (a + n);
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
            n += 1.0;
        }
        let ln_p = ln_prefactor - a.ln() + sum.ln();
        let q = -ln_p.exp_m1();
        let ln_q = if ln_p < -0.7 {
            (-ln_p.exp()).ln_1p()
        } else {
            q.ln()
        };
        (q.clamp(0.0, 1.0), ln_q)
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        let mut i = 1.0;
        while i < 100_000.0 {
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
            i += 1.0;
        }
        let ln_q = ln_prefactor + h.ln();
        // Cephes returns 0 once its prefactor underflows; so does scipy.
        let q = if ln_prefactor < -CEPHES_MAXLOG {
            0.0
        } else {
            ln_q.exp()
        };
        (q.clamp(0.0, 1.0), ln_q)
    }
}

/// `exp(-z) K_{1/4}(z)`, the exponentially scaled modified Bessel function of the second kind of
/// order 1/4, from `K_ν(z) = ∫_0^∞ exp(-z cosh t) cosh(ν t) dt` by the trapezoid rule, which
/// converges geometrically for this doubly-exponentially decaying analytic integrand.
pub(crate) fn kv_quarter_scaled(z: f64) -> f64 {
    if z.is_nan() || z <= 0.0 {
        return f64::INFINITY;
    }
    let h = 0.05;
    let mut sum = 0.5; // t = 0: exp(-z (cosh 0 - 1)) cosh 0 = 1, halved by the trapezoid rule
    let mut k = 1.0;
    loop {
        let t: f64 = k * h;
        // cosh t - 1 = 2 sinh^2(t/2), accurate for small t.
        let s = (t / 2.0).sinh();
        let term = (-z * 2.0 * s * s).exp() * (0.25 * t).cosh();
        sum += term;
        if term < sum * 1e-18 || k > 100_000.0 {
            break;
        }
        k += 1.0;
    }
    sum * h
}

/// Loader's `stirlerr(n) = ln Γ(n+1) - (n+1/2) ln n + n - ln √(2π)`.
fn stirlerr(n: f64) -> f64 {
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if n <= 15.0 {
        let ln_sqrt_2pi = 0.918_938_533_204_672_8;
        return lgamma(n + 1.0) - (n + 0.5) * n.ln() + n - ln_sqrt_2pi;
    }
    // Loader's series in 1/n, with one division.
    let r = 1.0 / n;
    let rr = r * r;
    if n > 500.0 {
        (S0 - S1 * rr) * r
    } else if n > 80.0 {
        (S0 - (S1 - S2 * rr) * rr) * r
    } else if n > 35.0 {
        (S0 - (S1 - (S2 - S3 * rr) * rr) * rr) * r
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 * rr) * rr) * rr) * rr) * r
    }
}

/// `1 / (2 j + 1)` for the terms of `bd0`'s series.
const INV_ODD: [f64; 64] = {
    let mut t = [0.0; 64];
    let mut j = 0;
    while j < 64 {
        t[j] = 1.0 / (2 * j + 1) as f64;
        j += 1;
    }
    t
};

/// Loader's deviance term `bd0(x, np) = x ln(x/np) + np - x`, without cancellation.
fn bd0(x: f64, np: f64) -> f64 {
    if (x - np).abs() < 0.1 * (x + np) {
        let v = (x - np) / (x + np);
        let mut s = (x - np) * v;
        let mut ej = 2.0 * x * v;
        let v2 = v * v;
        for j in 1..1000usize {
            ej *= v2;
            let term = match INV_ODD.get(j) {
                Some(inv) => ej * inv,
                None => ej / (2 * j + 1) as f64,
            };
            let s1 = s + term;
            if s1 == s {
                return s1;
            }
            s = s1;
        }
        s
    } else {
        x * (x / np).ln() + np - x
    }
}

/// `ln` of the binomial probability of `x` successes in `n` trials, success probability `p`
/// (`q = 1 - p` given separately to keep precision), by Loader's saddle-point expansion.
pub(crate) fn ln_dbinom_raw(x: f64, n: f64, p: f64, q: f64) -> f64 {
    if p == 0.0 {
        return if x == 0.0 { 0.0 } else { f64::NEG_INFINITY };
    }
    if q == 0.0 {
        return if x == n { 0.0 } else { f64::NEG_INFINITY };
    }
    if x == 0.0 {
        if n == 0.0 {
            return 0.0;
        }
        return if p < 0.1 {
            -bd0(n, n * q) - n * p
        } else {
            n * q.ln()
        };
    }
    if x == n {
        return if q < 0.1 {
            -bd0(n, n * p) - n * q
        } else {
            n * p.ln()
        };
    }
    if x < 0.0 || x > n {
        return f64::NEG_INFINITY;
    }
    let lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
    let lf = std::f64::consts::LN_2 + std::f64::consts::PI.ln() + x.ln() + (-x / n).ln_1p();
    lc - 0.5 * lf
}

/// `ln` of the hypergeometric probability of drawing `x` marked items in `n` draws from a
/// population of `r` marked and `b` unmarked items (R's `dhyper` construction).
pub(crate) fn ln_dhyper(x: f64, r: f64, b: f64, n: f64) -> f64 {
    if x < 0.0 || x > r || n - x < 0.0 || n - x > b || n > r + b {
        return f64::NEG_INFINITY;
    }
    if n == 0.0 {
        return if x == 0.0 { 0.0 } else { f64::NEG_INFINITY };
    }
    let p = n / (r + b);
    let q = (r + b - n) / (r + b);
    let p1 = ln_dbinom_raw(x, r, p, q);
    let p2 = ln_dbinom_raw(n - x, b, p, q);
    let p3 = ln_dbinom_raw(n, r + b, p, q);
    p1 + p2 - p3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn chi2_sf_known_values() {
        // scipy.stats.chi2.sf(3.84, 1) = 0.05004352124870519
        assert!(rel(chi2_sf(3.84, 1.0).0, 0.050_043_521_248_705_19) < 1e-12);
        // scipy.stats.chi2.sf(10, 4) = 0.04042768199451279
        assert!(rel(chi2_sf(10.0, 4.0).0, 0.040_427_681_994_512_79) < 1e-12);
        // scipy.stats.chi2.sf(1400, 1) = 2.1010145162644003e-306
        assert!(rel(chi2_sf(1400.0, 1.0).0, 2.101_014_516_264_400_3e-306) < 1e-9);
        // scipy gives 0 at 1500 (Cephes underflow); the log stays finite.
        let (p, lp) = chi2_sf(1500.0, 1.0);
        assert_eq!(p, 0.0);
        assert!(lp.is_finite() && lp < -700.0);
    }

    #[test]
    fn hypergeom_pmf_sums_to_one() {
        let total: f64 = (0..=20)
            .map(|x| ln_dhyper(x as f64, 30.0, 25.0, 20.0).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-13, "{total}");
    }

    #[test]
    fn kv_quarter_matches_scipy() {
        // scipy.special.kve(0.25, z) for z = 1, 0.01, 30 (scipy 1.17.1)
        assert!(rel(kv_quarter_scaled(1.0), 1.170_872_101_678_126_5) < 1e-12);
        assert!(rel(kv_quarter_scaled(0.01), 6.227_707_994_041_582) < 1e-12);
        assert!(rel(kv_quarter_scaled(30.0), 0.228_120_345_350_226_85) < 1e-12);
    }
}
