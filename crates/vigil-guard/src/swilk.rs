//! The Shapiro-Wilk W statistic by Royston's approximation (Royston 1995, algorithm AS R94),
//! as `scipy.stats.shapiro` computes it (scipy's `swilk.c`), for 3 <= n <= 5000 complete
//! samples. Only W is computed (PRADA compares W with a threshold); the p-value is not.
//! Normal quantiles use Wichura's AS 241 (PPND16).

// AS 241's published coefficients, digit for digit.
#![allow(clippy::excessive_precision)]

/// `c[0] + c[1] x + ... + c[k-1] x^(k-1)`.
fn poly(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, v| acc * x + v)
}

/// The standard normal quantile (AS 241, PPND16, relative accuracy about 1e-16).
pub(crate) fn ppnd16(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * poly(
            &[
                3.387_132_872_796_366_5,
                133.141_667_891_784_38,
                1_971.590_950_306_551_3,
                13_731.693_765_509_461,
                45_921.953_931_549_87,
                67_265.770_927_008_7,
                33_430.575_583_588_13,
                2_509.080_928_730_122_7,
            ],
            r,
        ) / poly(
            &[
                1.0,
                42.313_330_701_600_91,
                687.187_007_492_057_9,
                5_394.196_021_424_751,
                21_213.794_301_586_597,
                39_307.895_800_092_71,
                28_729.085_735_721_943,
                5_226.495_278_852_545,
            ],
            r,
        );
    }
    let r = if q < 0.0 { p } else { 1.0 - p };
    if r <= 0.0 {
        return if q < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let r = (-r.ln()).sqrt();
    let v = if r <= 5.0 {
        let r = r - 1.6;
        poly(
            &[
                1.423_437_110_749_683_5,
                4.630_337_846_156_546,
                5.769_497_221_460_691,
                3.647_848_324_763_204_5,
                1.270_458_252_452_368_4,
                0.241_780_725_177_450_6,
                0.022_723_844_989_269_184,
                7.745_450_142_783_414e-4,
            ],
            r,
        ) / poly(
            &[
                1.0,
                2.053_191_626_637_759,
                1.676_384_830_183_803_8,
                0.689_767_334_985_1,
                0.148_103_976_427_480_08,
                0.015_198_666_563_616_457,
                5.475_938_084_995_345e-4,
                1.050_750_071_644_416_9e-9,
            ],
            r,
        )
    } else {
        let r = r - 5.0;
        poly(
            &[
                6.657_904_643_501_103,
                5.463_784_911_164_114,
                1.784_826_539_917_291_3,
                0.296_560_571_828_504_9,
                0.026_532_189_526_576_124,
                0.001_242_660_947_388_078_4,
                2.711_555_568_743_487_6e-5,
                2.010_334_399_292_288_1e-7,
            ],
            r,
        ) / poly(
            &[
                1.0,
                0.599_832_206_555_888,
                0.136_929_880_922_735_8,
                0.014_875_361_290_850_615,
                7.868_691_311_456_133e-4,
                1.846_318_317_510_054_8e-5,
                1.421_511_758_316_446e-7,
                2.044_263_103_389_939_7e-15,
            ],
            r,
        )
    };
    if q < 0.0 {
        -v
    } else {
        v
    }
}

/// The Shapiro-Wilk W of `x` (any order). `None` when n < 3, n > 5000, a value is not
/// finite, or all values are equal (zero range).
pub fn shapiro_wilk(x: &[f64]) -> Option<f64> {
    let n = x.len();
    if !(3..=5000).contains(&n) || x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut xs = x.to_vec();
    xs.sort_by(f64::total_cmp);
    Coefficients::new(n)?.w_sorted(&xs)
}

/// The coefficients of the test for one sample size, computed once and reused (the extraction
/// monitor tests windows of the same size again and again).
#[derive(Debug, Clone)]
pub(crate) struct Coefficients {
    /// Per order statistic: its coefficient less the coefficients' mean.
    centred: Vec<f64>,
    /// Sum of squares of `centred`.
    ssa: f64,
}

impl Coefficients {
    /// For samples of `n` values, 3 to 5000.
    pub(crate) fn new(n: usize) -> Option<Coefficients> {
        if !(3..=5000).contains(&n) {
            return None;
        }
        let nn2 = n / 2;
        let an = n as f64;
        let mut a = vec![0.0; nn2];
        if n == 3 {
            a[0] = std::f64::consts::FRAC_1_SQRT_2;
        } else {
            const C1: [f64; 6] = [0.0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056];
            const C2: [f64; 6] = [0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633];
            let an25 = an + 0.25;
            let mut summ2 = 0.0;
            for (i, ai) in a.iter_mut().enumerate() {
                *ai = ppnd16((i as f64 + 1.0 - 0.375) / an25);
                summ2 += *ai * *ai;
            }
            summ2 *= 2.0;
            let ssumm2 = summ2.sqrt();
            let rsn = 1.0 / an.sqrt();
            let a1 = poly(&C1, rsn) - a[0] / ssumm2;
            let (i1, fac) = if n > 5 {
                let a2 = -a[1] / ssumm2 + poly(&C2, rsn);
                let fac = ((summ2 - 2.0 * a[0] * a[0] - 2.0 * a[1] * a[1])
                    / (1.0 - 2.0 * a1 * a1 - 2.0 * a2 * a2))
                    .sqrt();
                a[1] = a2;
                (2, fac)
            } else {
                let fac = ((summ2 - 2.0 * a[0] * a[0]) / (1.0 - 2.0 * a1 * a1)).sqrt();
                (1, fac)
            };
            a[0] = a1;
            for ai in a.iter_mut().skip(i1) {
                *ai = -*ai / fac;
            }
        }
        // The antisymmetric coefficient of the i-th order statistic.
        let coef = |i: usize| -> f64 {
            let j = n - 1 - i;
            if i < j {
                -a[i]
            } else if i > j {
                a[j]
            } else {
                0.0
            }
        };
        let sa = (0..n).map(coef).sum::<f64>() / an;
        let centred: Vec<f64> = (0..n).map(|i| coef(i) - sa).collect();
        let ssa = centred.iter().map(|c| c * c).sum();
        Some(Coefficients { centred, ssa })
    }

    /// The sample size.
    pub(crate) fn n(&self) -> usize {
        self.centred.len()
    }

    /// W of `xs`, sorted ascending, of the coefficients' sample size; `None` for another
    /// size, a non-finite value or a zero range.
    pub(crate) fn w_sorted(&self, xs: &[f64]) -> Option<f64> {
        let n = xs.len();
        if n != self.n() || xs.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let range = xs.last()? - xs.first()?;
        if range < 1e-19 {
            return None;
        }
        let an = n as f64;
        let sx = xs.iter().map(|v| v / range).sum::<f64>() / an;
        let (mut ssx, mut sax) = (0.0, 0.0);
        for (v, asa) in xs.iter().zip(&self.centred) {
            let xsx = v / range - sx;
            ssx += xsx * xsx;
            sax += asa * xsx;
        }
        let ssa = self.ssa;
        let ssassx = (ssa * ssx).sqrt();
        let w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx);
        Some(1.0 - w1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppnd_known_values() {
        assert!((ppnd16(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((ppnd16(0.5)).abs() < 1e-15);
        assert!((ppnd16(1e-10) + 6.361_340_902_404_056).abs() < 1e-9);
    }

    #[test]
    fn reused_coefficients_give_the_same_w() {
        for n in [3usize, 4, 5, 6, 11, 100, 1000] {
            let c = Coefficients::new(n).unwrap();
            for seed in 0..3u64 {
                let x: Vec<f64> = (0..n as u64)
                    .map(|i| ((i * 2_654_435_761 + seed * 97) % 1009) as f64 / 7.0)
                    .collect();
                let mut sorted = x.clone();
                sorted.sort_by(f64::total_cmp);
                assert_eq!(c.w_sorted(&sorted), shapiro_wilk(&x), "n {n}");
            }
            assert_eq!(c.w_sorted(&[1.0, 2.0]), None);
        }
        assert!(Coefficients::new(2).is_none());
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(shapiro_wilk(&[1.0, 2.0]), None);
        assert_eq!(shapiro_wilk(&[1.0, 1.0, 1.0, 1.0]), None);
        assert_eq!(shapiro_wilk(&[1.0, f64::NAN, 2.0]), None);
        let w = shapiro_wilk(&[1.0, 2.0, 4.0]).unwrap();
        assert!(w > 0.0 && w <= 1.0);
    }
}
