//! The progress bar: an [`indicatif`] bar on stderr, the binary's
//! [`Observer`] of the library's progress counters. A bar (with the
//! total, rate and ETA) when the total is known, else a spinner with the
//! bytes and entries done.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use alientar::{Observer, Progress, Snapshot};

/// A bar on stderr, if stderr is a terminal (else [`Progress::hidden`]).
/// `verb` names the operation in the bar ("creating", "extracting"...).
pub(super) fn stderr(verb: &'static str) -> Progress {
    if !std::io::stderr().is_terminal() {
        return Progress::hidden();
    }
    Progress::observed(Box::new(Bar::new(
        ProgressDrawTarget::stderr_with_hz(10),
        verb,
    )))
}

const UNKNOWN: u64 = u64::MAX;

/// The entries done and their total, for the bar's `{entries}` key.
struct Entries {
    done: AtomicU64,
    total: AtomicU64,
}

impl Entries {
    fn text(&self) -> String {
        let n = self.done.load(Relaxed);
        match self.total.load(Relaxed) {
            UNKNOWN => format!("{n} entries"),
            t => format!("{n}/{t} entries"),
        }
    }
}

struct Bar {
    bar: ProgressBar,
    /// Where the bar goes once started (hidden until then).
    target: Mutex<Option<ProgressDrawTarget>>,
    /// The style is the bar's (not the spinner's).
    is_bar: AtomicBool,
    entries: Arc<Entries>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Bar {
    /// A spinner until a total is known, drawn to `target` once started.
    fn new(target: ProgressDrawTarget, verb: &'static str) -> Bar {
        let entries = Arc::new(Entries {
            done: AtomicU64::new(0),
            total: AtomicU64::new(UNKNOWN),
        });
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(spinner_style(&entries));
        bar.set_prefix(verb);
        Bar {
            bar,
            target: Mutex::new(Some(target)),
            is_bar: AtomicBool::new(false),
            entries,
        }
    }
}

impl Observer for Bar {
    fn start(&self) {
        if let Some(t) = lock(&self.target).take() {
            self.bar.set_draw_target(t);
        }
    }

    fn draw(&self, now: &Snapshot) {
        self.entries.done.store(now.entries, Relaxed);
        let total_entries = now.total_entries.unwrap_or(UNKNOWN);
        self.entries.total.store(total_entries, Relaxed);
        let total = now.total_bytes;
        if total.is_some() && !self.is_bar.swap(true, Relaxed) {
            self.bar.set_style(bar_style(&self.entries));
        }
        self.bar.update(|s| {
            if let Some(t) = total {
                s.set_len(t);
                s.set_pos(now.bytes.min(t));
            } else {
                s.set_pos(now.bytes);
            }
        });
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn suspend(&self, f: &mut dyn FnMut()) {
        self.bar.suspend(f);
    }
}

fn entries_key(
    e: &Arc<Entries>,
) -> impl Fn(&ProgressState, &mut dyn fmt::Write) + Clone + Send + Sync + 'static {
    let e = Arc::clone(e);
    move |_: &ProgressState, w: &mut dyn fmt::Write| {
        let _ = w.write_str(&e.text());
    }
}

fn bar_style(e: &Arc<Entries>) -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {entries}",
    )
    .expect("valid template")
    .with_key("entries", entries_key(e))
    .progress_chars("=> ")
}

fn spinner_style(e: &Arc<Entries>) -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {prefix} {binary_bytes} {binary_bytes_per_sec} {entries}, {elapsed}",
    )
    .expect("valid template")
    .with_key("entries", entries_key(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_to_a_hidden_target_without_panicking() {
        let p = Progress::observed(Box::new(Bar::new(ProgressDrawTarget::hidden(), "testing")));
        p.add_entry();
        p.set_total(100, 1);
        p.add_bytes(50);
        assert_eq!(p.suspend(|| 7), 7);
        p.finish();
    }

    #[test]
    fn entries_text_shows_the_total_when_known() {
        let bar = Bar::new(ProgressDrawTarget::hidden(), "testing");
        let mut now = Snapshot {
            entries: 3,
            ..Snapshot::default()
        };
        bar.draw(&now);
        assert_eq!(bar.entries.text(), "3 entries");
        now.total_entries = Some(9);
        now.total_bytes = Some(10);
        bar.draw(&now);
        assert_eq!(bar.entries.text(), "3/9 entries");
        assert!(bar.is_bar.load(Relaxed));
    }
}
