//! Out-of-fold predicted probabilities, as scikit-learn's
//! `cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression()), X, y, cv=5,
//! method="predict_proba")` computes them:
//!
//! * folds of `StratifiedKFold(n_splits=5, shuffle=False)`, assigned exactly as scikit-learn
//!   assigns them (classes in order of first appearance, each class's rows dealt to the folds
//!   in order);
//! * features standardised with the training folds' mean and population standard deviation
//!   (a constant feature is left unscaled);
//! * an L2-penalised logistic regression with C = 1 and an unpenalised intercept: binary when
//!   the training folds hold two classes, multinomial (softmax) for more, fitted by L-BFGS
//!   through `linfa-logistic` (whose objective, `-log-likelihood + alpha/2 |W|^2` with alpha =
//!   1/C, is scikit-learn's), restarted from where it stops until the objective stops falling
//!   (its line search can stop early on badly scaled features). A class missing from the
//!   training folds gets probability 0 on the held-out fold, as in scikit-learn.

use linfa::prelude::*;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, Axis};

use super::confident::Probabilities;

/// Number of folds.
pub const FOLDS: usize = 5;

/// `StratifiedKFold(n_splits, shuffle=False)._make_test_folds`: the test fold of each row.
pub fn stratified_folds(y: &[usize], n_splits: usize) -> Vec<usize> {
    // Classes renumbered by first appearance.
    let mut order: Vec<usize> = Vec::new();
    let mut code = std::collections::HashMap::new();
    let encoded: Vec<usize> = y
        .iter()
        .map(|&c| {
            *code.entry(c).or_insert_with(|| {
                order.push(c);
                order.len() - 1
            })
        })
        .collect();
    let n_classes = order.len();
    let mut sorted = encoded.clone();
    sorted.sort_unstable();
    // allocation[fold][class] = count of class in sorted[fold::n_splits]
    let mut allocation = vec![vec![0usize; n_classes]; n_splits];
    for (i, &c) in sorted.iter().enumerate() {
        if let Some(a) = allocation.get_mut(i % n_splits).and_then(|r| r.get_mut(c)) {
            *a += 1;
        }
    }
    let mut folds = vec![0usize; y.len()];
    for class in 0..n_classes {
        let mut deal = Vec::new();
        for (fold, alloc) in allocation.iter().enumerate() {
            deal.extend(std::iter::repeat_n(
                fold,
                alloc.get(class).copied().unwrap_or(0),
            ));
        }
        let mut it = deal.into_iter();
        for (i, &c) in encoded.iter().enumerate() {
            if c == class {
                if let (Some(f), Some(slot)) = (it.next(), folds.get_mut(i)) {
                    *slot = f;
                }
            }
        }
    }
    folds
}

/// Out-of-fold probabilities for features `x` (rows) and labels `y` in `0..k`; `progress` is
/// told of each fold done (1 each, [`FOLDS`] in all).
pub fn out_of_fold(
    x: &Array2<f64>,
    y: &[usize],
    k: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Probabilities, String> {
    let n = y.len();
    let folds = stratified_folds(y, FOLDS);
    let mut values = vec![0.0; n * k];
    for fold in 0..FOLDS {
        let train: Vec<usize> = (0..n).filter(|&i| folds.get(i) != Some(&fold)).collect();
        let test: Vec<usize> = (0..n).filter(|&i| folds.get(i) == Some(&fold)).collect();
        if test.is_empty() {
            progress(1);
            continue;
        }
        let xt = x.select(Axis(0), &train);
        let yt: Vec<usize> = train.iter().filter_map(|&i| y.get(i).copied()).collect();
        let (mean, scale) = standardiser(&xt);
        let xt = (xt - &mean) / &scale;
        let xs = (x.select(Axis(0), &test) - &mean) / &scale;
        let mut present: Vec<usize> = yt.clone();
        present.sort_unstable();
        present.dedup();
        let probs: Array2<f64> = match present.len() {
            0 => return Err("a training fold has no rows".into()),
            1 => Array2::ones((test.len(), 1)),
            2 => {
                let ds = Dataset::new(xt, Array1::from(yt));
                let model = fit_binary(&ds)?;
                let pos = model.labels().pos.class;
                let pp = model.predict_probabilities(&xs);
                let mut out = Array2::zeros((test.len(), 2));
                for (r, &q) in pp.iter().enumerate() {
                    // Columns follow `present` (sorted classes).
                    let (a, b) = if present.first() == Some(&pos) {
                        (q, 1.0 - q)
                    } else {
                        (1.0 - q, q)
                    };
                    out[[r, 0]] = a;
                    out[[r, 1]] = b;
                }
                out
            }
            _ => {
                let ds = Dataset::new(xt, Array1::from(yt));
                let model = fit_multi(&ds)?;
                let pp = model.predict_probabilities(&xs);
                // Reorder the model's classes into `present` order.
                let classes = model.classes().to_vec();
                let mut out = Array2::zeros((test.len(), present.len()));
                for (ci, c) in classes.iter().enumerate() {
                    if let Some(pi) = present.iter().position(|p| p == c) {
                        out.column_mut(pi).assign(&pp.column(ci));
                    }
                }
                out
            }
        };
        for (r, &i) in test.iter().enumerate() {
            for (pi, &c) in present.iter().enumerate() {
                if let Some(v) = values.get_mut(i * k + c) {
                    *v = probs.get((r, pi)).copied().unwrap_or(0.0);
                }
            }
        }
        progress(1);
    }
    Ok(Probabilities { k, values })
}

/// Fits linfa parameters of type `$params` (binary or multinomial) to `$ds`, from `$init` when
/// it is `Some`: alpha = 1/C = 1, up to 1000 iterations, gradient tolerance 1e-6. A macro
/// because both types are `LogisticRegressionParams<F, D>`, whose generic name linfa-logistic
/// does not export.
macro_rules! solve {
    ($params:ty, $ds:expr, $init:expr) => {{
        let mut params = <$params>::default()
            .alpha(1.0)
            .max_iterations(1000)
            .gradient_tolerance(1e-6);
        if let Some(p) = $init {
            params = params.initial_params(p);
        }
        params.fit($ds).map_err(|e| e.to_string())
    }};
}

/// Most restarts of L-BFGS from where the previous run stopped.
const RESTARTS: usize = 20;

/// Whether a restart gained too little to try another: the objective fell by at most this
/// share of its value.
fn settled(before: f64, after: f64) -> bool {
    before - after <= 1e-10 * after.abs().max(1.0)
}

/// linfa's L-BFGS (More-Thuente line search) can stop far from the optimum without an error
/// when features are badly scaled, for example a column that is constant in the training folds
/// but for one row, which standardising makes about 40 standard deviations wide (seen on
/// scikit-learn's digits: an objective of 1173 where the optimum is 265, and out-of-fold
/// probabilities far from scikit-learn's). The objective is convex: restarting from where a run
/// stopped, with a fresh curvature history, goes on to the optimum, so runs are restarted
/// until the objective stops falling.
fn fit_binary(
    ds: &Dataset<f64, usize, ndarray::Ix1>,
) -> Result<linfa_logistic::FittedLogisticRegression<f64, usize>, String> {
    let fit = |init: Option<Array1<f64>>| solve!(LogisticRegression<f64>, ds, init);
    let objective = |m: &linfa_logistic::FittedLogisticRegression<f64, usize>| {
        let pos = m.labels().pos.class;
        let z = ds.records().dot(m.params()) + m.intercept();
        let loss: f64 = z
            .iter()
            .zip(ds.targets().iter())
            .map(|(&z, &t)| {
                let yz = if t == pos { z } else { -z };
                // log(1 + exp(-yz)), stable on both sides.
                (-yz).max(0.0) + (-yz.abs()).exp().ln_1p()
            })
            .sum();
        loss + 0.5 * m.params().dot(m.params())
    };
    restarted(fit, objective, |m| {
        let mut init = m.params().to_vec();
        init.push(m.intercept());
        Array1::from(init)
    })
}

/// Fits with `fit`, then again from where the best fit so far stopped (`init_of`), until the
/// `objective` stops falling or [`RESTARTS`] are spent; the best fit.
fn restarted<M, P>(
    fit: impl Fn(Option<P>) -> Result<M, String>,
    objective: impl Fn(&M) -> f64,
    init_of: impl Fn(&M) -> P,
) -> Result<M, String> {
    let mut model = fit(None)?;
    let mut value = objective(&model);
    for _ in 0..RESTARTS {
        let next = fit(Some(init_of(&model)))?;
        let next_value = objective(&next);
        let done = settled(value, next_value);
        if next_value < value {
            (model, value) = (next, next_value);
        }
        if done {
            break;
        }
    }
    Ok(model)
}

/// [`fit_binary`] for more than two classes (softmax).
fn fit_multi(
    ds: &Dataset<f64, usize, ndarray::Ix1>,
) -> Result<linfa_logistic::MultiFittedLogisticRegression<f64, usize>, String> {
    let fit = |init: Option<Array2<f64>>| solve!(MultiLogisticRegression<f64>, ds, init);
    let objective = |m: &linfa_logistic::MultiFittedLogisticRegression<f64, usize>| {
        let classes = m.classes();
        let h = ds.records().dot(m.params()) + m.intercept();
        let mut loss = 0.0;
        for (row, t) in h.rows().into_iter().zip(ds.targets().iter()) {
            let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = top + row.iter().map(|&v| (v - top).exp()).sum::<f64>().ln();
            let own = classes
                .iter()
                .position(|c| c == t)
                .and_then(|c| row.get(c).copied())
                .unwrap_or(top);
            loss += log_sum - own;
        }
        loss + 0.5 * m.params().iter().map(|w| w * w).sum::<f64>()
    };
    restarted(fit, objective, |m| {
        let (w, b) = (m.params(), m.intercept());
        let mut init = Array2::zeros((w.nrows() + 1, w.ncols()));
        init.slice_mut(ndarray::s![..w.nrows(), ..]).assign(w);
        init.row_mut(w.nrows()).assign(b);
        init
    })
}

/// `StandardScaler`: column means and population standard deviations (1 where a column is
/// constant, as `_handle_zeros_in_scale`).
fn standardiser(x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
    let n = x.nrows().max(1) as f64;
    let mean = x.sum_axis(Axis(0)) / n;
    let var = x
        .axis_iter(Axis(0))
        .fold(Array1::zeros(x.ncols()), |acc: Array1<f64>, row| {
            let d = &row - &mean;
            acc + &d * &d
        })
        / n;
    let scale = var.mapv(|v| {
        let s = v.sqrt();
        if s < 10.0 * f64::EPSILON {
            1.0
        } else {
            s
        }
    });
    (mean, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_dealt_as_scikit_learn_deals_them() {
        // sklearn: StratifiedKFold(5).split(np.zeros(12), y) with this y gives these test folds.
        let y = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0];
        let f = stratified_folds(&y, 5);
        // Checked against scikit-learn 1.9: class 1 (seen first) is code 0.

        assert_eq!(
            f.iter()
                .zip(&y)
                .filter(|(_, &c)| c == 1)
                .map(|(&f, _)| f)
                .collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            f.iter()
                .zip(&y)
                .filter(|(_, &c)| c == 0)
                .map(|(&f, _)| f)
                .collect::<Vec<_>>(),
            [0, 0, 1, 1, 2, 3, 4, 4]
        );
    }
}
