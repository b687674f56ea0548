//! An adaptive, label-only evasion attacker against the guard (issue 20 item 17), beside the
//! bare model, in one run.
//!
//! The attacker has one identity and sees only what the gateway gives an `infer` caller: the
//! label of an accepted request, or an abstention, which it treats as a failed try (never as
//! information about the boundary). For each target row (a validation row the bare model
//! classifies correctly) it starts from the real row of another class nearest to the target,
//! binary-searches the segment between them for the boundary, then walks toward the target
//! (boundary-attack steps with random perturbations), keeping a point only if it is answered
//! with another label. A row is flipped when such a point lies within `EPS` population
//! standard deviations of the target in every feature (L-infinity, standard deviations of the
//! calibration rows). Queries are paced at 48 per second.
//!
//!   cargo run --release -p vigil-guard --example adaptive -- DEVICE_DIR [ROWS] [QUERIES_PER_ROW] [EPS]
//!
//! Prints one Markdown table: flipped rows, queries used, first alarm and when answers stopped,
//! for the bare model, the guard answering through every alarm (`record`), and the guard under
//! the bundle's shipped `[alarm_response]`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vigil_bundle::{BundlePolicy, Trust};
use vigil_guard::{
    Action, ClientOverrides, DangerousNoAudit, Guard, GuardOptions, RequestOptions, Verdict,
};

/// SplitMix64: the attack is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn normal(&mut self) -> f64 {
        let u = ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v = ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Rows and their integer labels.
type Labelled = (Vec<Vec<f64>>, Vec<usize>);

/// Rows and integer labels of a CSV with a `label` column.
fn read(path: &Path) -> Result<Labelled, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let li = header
        .iter()
        .position(|h| *h == "label")
        .ok_or("no label column")?;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let mut x = Vec::with_capacity(cells.len() - 1);
        for (i, c) in cells.iter().enumerate() {
            if i != li {
                x.push(c.trim().parse::<f64>()?);
            }
        }
        ys.push(cells.get(li).ok_or("short row")?.trim().parse::<f64>()? as usize);
        xs.push(x);
    }
    Ok((xs, ys))
}

/// What the attacker learns from one query.
#[derive(Clone, Copy, PartialEq)]
enum Seen {
    Label(usize),
    /// An abstention: a failed try.
    Nothing,
    /// Answers stopped for good (the client is suspended).
    Stopped,
}

/// The oracle the attacker queries.
trait Oracle {
    fn ask(&mut self, x: &[f64]) -> Seen;
    fn queries(&self) -> u64;
    fn first_alarm(&self) -> Option<u64>;
}

struct Bare<'a> {
    guard: &'a Guard,
    n: u64,
}

impl Oracle for Bare<'_> {
    fn ask(&mut self, x: &[f64]) -> Seen {
        self.n += 1;
        let row: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let mut shape = [0usize; 2];
        // The bare model: the guard's stateless screening reports the model's class even
        // when the guard would abstain; the contract's physical ranges still bound the input.
        match self.guard.screen(&self.guard.row(&row, &mut shape)).class {
            Some(c) => Seen::Label(c),
            None => Seen::Nothing,
        }
    }
    fn queries(&self) -> u64 {
        self.n
    }
    fn first_alarm(&self) -> Option<u64> {
        None
    }
}

struct Guarded<'a> {
    guard: &'a Guard,
    overrides: ClientOverrides,
    n: u64,
    alarm: Option<u64>,
}

impl Oracle for Guarded<'_> {
    fn ask(&mut self, x: &[f64]) -> Seen {
        self.n += 1;
        let row: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let mut shape = [0usize; 2];
        let request = RequestOptions::new()
            .overrides(self.overrides.clone())
            .at(Duration::from_secs_f64(self.n as f64 / 48.0));
        let d = self
            .guard
            .infer("attacker", &self.guard.row(&row, &mut shape), &request);
        if self.alarm.is_none() && d.alarms.iter().any(|a| a.code() == "extraction") {
            self.alarm = Some(self.n);
        }
        match d.verdict {
            Verdict::Accept { output } => Seen::Label(output.class),
            Verdict::Abstain { reason } if reason.code() == "client_suspended" => Seen::Stopped,
            Verdict::Abstain { .. } => Seen::Nothing,
        }
    }
    fn queries(&self) -> u64 {
        self.n
    }
    fn first_alarm(&self) -> Option<u64> {
        self.alarm
    }
}

fn linf(a: &[f64], b: &[f64], sd: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(sd)
        .map(|((p, q), s)| ((p - q) / s).abs())
        .fold(0.0, f64::max)
}

/// Attacks one target; whether it found another label within `eps` sd, and whether the
/// oracle stopped answering.
#[allow(clippy::too_many_arguments)]
fn attack(
    o: &mut dyn Oracle,
    x: &[f64],
    y: usize,
    starts: &[&Vec<f64>],
    sd: &[f64],
    lo: &[f64],
    hi: &[f64],
    eps: f64,
    budget: u64,
    rng: &mut Rng,
) -> (bool, bool) {
    let clamp = |v: &mut Vec<f64>| {
        for ((e, l), h) in v.iter_mut().zip(lo).zip(hi) {
            *e = e.clamp(*l, *h);
        }
    };
    let flipped = |s: Seen| matches!(s, Seen::Label(c) if c != y);
    let start_q = o.queries();
    // A start of another class, as the oracle answers it.
    let mut adv = None;
    for s in starts {
        let seen = o.ask(s);
        if seen == Seen::Stopped {
            return (false, true);
        }
        if flipped(seen) {
            adv = Some((*s).clone());
            break;
        }
    }
    let Some(mut adv) = adv else {
        return (false, false);
    };
    // Binary search on the segment target -> start.
    let (mut a, mut b) = (0.0f64, 1.0f64);
    for _ in 0..12 {
        let t = (a + b) / 2.0;
        let p: Vec<f64> = x.iter().zip(&adv).map(|(u, v)| u + t * (v - u)).collect();
        let seen = o.ask(&p);
        if seen == Seen::Stopped {
            return (false, true);
        }
        if flipped(seen) {
            b = t;
        } else {
            a = t;
        }
    }
    adv = x.iter().zip(&adv).map(|(u, v)| u + b * (v - u)).collect();
    // Boundary-attack walk toward the target.
    let mut step = 0.1f64;
    let mut spread = 0.3f64;
    while o.queries() - start_q < budget {
        if linf(&adv, x, sd) <= eps {
            return (true, false);
        }
        let mut cand: Vec<f64> = adv
            .iter()
            .zip(x)
            .zip(sd)
            .map(|((a, t), s)| a + step * (t - a) + spread * s * step * rng.normal())
            .collect();
        clamp(&mut cand);
        let seen = o.ask(&cand);
        if seen == Seen::Stopped {
            return (false, true);
        }
        if flipped(seen) {
            adv = cand;
            step = (step * 1.5).min(0.5);
        } else {
            step *= 0.7;
            if step < 1e-3 {
                step = 0.1;
                spread *= 1.5;
            }
        }
    }
    (linf(&adv, x, sd) <= eps, false)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let device = Path::new(
        args.get(1)
            .ok_or("usage: adaptive DEVICE_DIR [ROWS] [QUERIES] [EPS]")?,
    );
    let rows: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let budget: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(400);
    let eps: f64 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1.0);
    let policy = BundlePolicy::load(&device.join("policy.toml"))?;
    let open = || {
        Guard::open(
            &device.join("bundle"),
            &Trust::Policy(policy.clone()),
            GuardOptions::new(Arc::new(DangerousNoAudit)),
        )
    };
    let (cal, _) = read(&device.join("data/calibration.csv"))?;
    let (val, val_y) = read(&device.join("data/validation.csv"))?;
    let (train, train_y) = read(&device.join("data/training.csv"))?;
    let width = cal.first().map(Vec::len).ok_or("no calibration rows")?;
    let mean: Vec<f64> = (0..width)
        .map(|j| cal.iter().map(|r| r[j]).sum::<f64>() / cal.len() as f64)
        .collect();
    let sd: Vec<f64> = (0..width)
        .map(|j| {
            let v = cal.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / cal.len() as f64;
            v.sqrt().max(1e-9)
        })
        .collect();
    let probe = open()?;
    let lo: Vec<f64> = probe.contract().features.iter().map(|f| f.min).collect();
    let hi: Vec<f64> = probe.contract().features.iter().map(|f| f.max).collect();
    // Targets: validation rows the bare model gets right.
    let mut bare_check = Bare {
        guard: &probe,
        n: 0,
    };
    let targets: Vec<usize> = (0..val.len())
        .filter(|&i| bare_check.ask(&val[i]) == Seen::Label(val_y[i]))
        .take(rows)
        .collect();
    println!(
        "device {} ({} target rows, {budget} queries per row, budget {eps} sd L-inf, 48 queries/s, one identity)",
        device.display(),
        targets.len()
    );
    println!("| oracle | rows flipped within {eps} sd | queries | first extraction alarm at query | answers stopped at query |");
    println!("|---|---|---|---|---|");
    let g_record = open()?;
    let g_shipped = open()?;
    let record = ClientOverrides {
        extraction_response: Some(Action::Record),
        volume_response: Some(Action::Record),
        ..ClientOverrides::default()
    };
    let mut oracles: Vec<(&str, Box<dyn Oracle>)> = vec![
        (
            "bare model",
            Box::new(Bare {
                guard: &probe,
                n: 0,
            }),
        ),
        (
            "guard, alarms only recorded",
            Box::new(Guarded {
                guard: &g_record,
                overrides: record,
                n: 0,
                alarm: None,
            }),
        ),
        (
            "guard, shipped [alarm_response]",
            Box::new(Guarded {
                guard: &g_shipped,
                overrides: ClientOverrides::default(),
                n: 0,
                alarm: None,
            }),
        ),
    ];
    for (name, oracle) in &mut oracles {
        let mut rng = Rng(2020);
        let mut flipped = 0;
        let mut stopped_at = None;
        for &i in &targets {
            let x = &val[i];
            let y = val_y[i];
            let mut others: Vec<&Vec<f64>> = train
                .iter()
                .zip(&train_y)
                .filter(|(_, c)| **c != y)
                .map(|(r, _)| r)
                .collect();
            others.sort_by(|a, b| linf(a, x, &sd).total_cmp(&linf(b, x, &sd)));
            others.truncate(5);
            let (ok, stopped) = attack(
                oracle.as_mut(),
                x,
                y,
                &others,
                &sd,
                &lo,
                &hi,
                eps,
                budget,
                &mut rng,
            );
            flipped += usize::from(ok);
            if stopped && stopped_at.is_none() {
                stopped_at = Some(oracle.queries());
            }
        }
        let show = |v: Option<u64>| v.map_or("-".to_string(), |q| q.to_string());
        println!(
            "| {name} | {flipped} of {} | {} | {} | {} |",
            targets.len(),
            oracle.queries(),
            show(oracle.first_alarm()),
            show(stopped_at)
        );
    }
    Ok(())
}
