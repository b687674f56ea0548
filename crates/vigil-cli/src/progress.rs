//! Progress bars, drawn on standard error only when it is a terminal, and only once an
//! operation has run for a second, so quick runs print nothing extra.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte counter with throughput, for hashing.
pub(crate) struct Meter {
    bar: ProgressBar,
    start: Instant,
    terminal: bool,
    shown: AtomicBool,
}

impl Meter {
    /// Counts `n` more bytes; draws the bar from the first second on.
    pub(crate) fn inc(&self, n: u64) {
        self.bar.inc(n);
        if self.terminal
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() >= Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar
                .set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            self.bar.enable_steady_tick(Duration::from_millis(250));
        }
    }

    /// Removes the bar, if it was drawn.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A meter labelled `what` ("hashing", "verifying").
pub(crate) fn bytes(what: &str) -> Meter {
    use std::io::IsTerminal as _;
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg} {bytes} ({binary_bytes_per_sec}) {elapsed}")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    Meter {
        bar,
        start: Instant::now(),
        terminal: std::io::stderr().is_terminal(),
        shown: AtomicBool::new(false),
    }
}

/// A counter of `total` items labelled `what` ("attacking rows"), with the time left.
pub(crate) fn count(what: &str, total: u64) -> Meter {
    use std::io::IsTerminal as _;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} {elapsed} (eta {eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    Meter {
        bar,
        start: Instant::now(),
        terminal: std::io::stderr().is_terminal(),
        shown: AtomicBool::new(false),
    }
}
