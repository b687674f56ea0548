//! ROC statistics of an attack's scores, as scikit-learn computes them.

/// The area under the ROC curve of `scores` with `positive` flags: the Mann-Whitney U statistic
/// with ties at half weight (midranks), which is what `sklearn.metrics.roc_auc_score` returns.
/// `None` when either class is empty.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n = scores.len().min(positive.len());
    let np = positive.iter().take(n).filter(|p| **p).count();
    let nn = n - np;
    if np == 0 || nn == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mid = (i + j + 2) as f64 / 2.0;
        for k in &idx[i..=j] {
            if positive[*k] {
                rank_sum += mid;
            }
        }
        i = j + 1;
    }
    let np = np as f64;
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * nn as f64))
}

/// The ROC curve's points `(fpr, tpr)` from `(0, 0)`, one per distinct score (from the
/// highest), as `sklearn.metrics.roc_curve` with `drop_intermediate=False`.
pub fn roc_curve(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let n = scores.len().min(positive.len());
    let np = positive.iter().take(n).filter(|p| **p).count().max(1) as f64;
    let nn = (n - positive.iter().take(n).filter(|p| **p).count()).max(1) as f64;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let mut out = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < n {
        let s = scores[idx[i]];
        while i < n && scores[idx[i]] == s {
            if positive[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push((fp as f64 / nn, tp as f64 / np));
    }
    out
}

/// The largest true-positive rate at a threshold whose false-positive rate is at most `fpr`
/// (the points of [`roc_curve`], no interpolation).
pub fn tpr_at_fpr(scores: &[f64], positive: &[bool], fpr: f64) -> f64 {
    roc_curve(scores, positive)
        .into_iter()
        .filter(|(f, _)| *f <= fpr + 1e-12)
        .map(|(_, t)| t)
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_computed_values_with_ties() {
        // sklearn.metrics.roc_auc_score([1,0,1,0,1], [0.9,0.9,0.5,0.1,0.1]) == 0.5: of the six
        // member/non-member pairs, two are won, two lost and two tied.
        let s = [0.9, 0.9, 0.5, 0.1, 0.1];
        let p = [true, false, true, false, true];
        let auc = roc_auc(&s, &p).unwrap_or(f64::NAN);
        assert!((auc - 0.5).abs() < 1e-12, "{auc}");
        let auc = roc_auc(&[0.9, 0.8, 0.5, 0.1], &[true, false, true, false]).unwrap_or(f64::NAN);
        assert!((auc - 0.75).abs() < 1e-12, "{auc}");
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, true]), None);
        let perfect = roc_auc(&[3.0, 2.0, 1.0], &[true, true, false]);
        assert_eq!(perfect, Some(1.0));
    }

    #[test]
    fn tpr_at_low_fpr_takes_only_points_under_it() {
        let s = [5.0, 4.0, 3.0, 2.0];
        let p = [true, false, true, false];
        assert_eq!(tpr_at_fpr(&s, &p, 0.01), 0.5);
        assert_eq!(tpr_at_fpr(&s, &p, 0.5), 1.0);
    }
}
