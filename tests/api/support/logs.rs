//! The server's log lines, captured in memory: the test binary installs this logger (once, at
//! `info`) the first time a test asks, and tests find their lines by something unique to them,
//! such as a request id, since every test in the binary logs here. A line is kept as the
//! server's text format writes its message: with ` request_id=…` after it when it was written
//! for a request.

use std::sync::{Mutex, OnceLock};

static LINES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata())
            && let Ok(mut lines) = LINES.lock()
        {
            let message = chatkit_server::observe::logging::Message(record).to_string();
            lines.push((record.target().to_owned(), message));
        }
    }

    fn flush(&self) {}
}

/// Starts capturing (from now on; earlier lines are not kept).
pub fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).expect("no other logger in the tests");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// The captured lines of `target` that contain `needle`.
pub fn lines(target: &str, needle: &str) -> Vec<String> {
    lines_after(0, target, needle)
}

/// Where the captured lines end now, for [`lines_after`].
pub fn mark() -> usize {
    LINES.lock().expect("log lines").len()
}

/// The lines of `target` containing `needle` captured after `mark`: for a needle another test
/// may have logged before, such as a server address (the kernel hands ports out again).
pub fn lines_after(mark: usize, target: &str, needle: &str) -> Vec<String> {
    LINES
        .lock()
        .expect("log lines")
        .iter()
        .skip(mark)
        .filter(|(t, line)| t == target && line.contains(needle))
        .map(|(_, line)| line.clone())
        .collect()
}

/// The captured lines of every target that contain `needle`, with their targets.
pub fn all_lines(needle: &str) -> Vec<(String, String)> {
    LINES
        .lock()
        .expect("log lines")
        .iter()
        .filter(|(_, line)| line.contains(needle))
        .cloned()
        .collect()
}
