//! Statistics and the report.

use super::*;
pub(crate) use crate::stats::{load_average, percentile};

pub(crate) fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 50.0)
}

pub(crate) fn latency(samples: &[Duration]) -> String {
    format!(
        "p50 {} p90 {} p99 {}",
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 90.0)),
        ms(percentile(samples, 99.0))
    )
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn us(secs: f64) -> String {
    format!("{:.2} µs", secs * 1e6)
}

#[derive(Default)]
pub(crate) struct Report {
    pub(crate) facts: Vec<String>,
    pub(crate) rows: Vec<(String, String)>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn row(&mut self, what: &str, result: &str) {
        // Shown as it comes, so a long run shows progress.
        eprintln!("{what}: {result}");
        self.rows.push((what.to_owned(), result.to_owned()));
    }

    pub(crate) fn note(&mut self, note: &str) {
        self.notes.push(note.to_owned());
    }

    pub(crate) fn print(&self) {
        println!();
        for fact in &self.facts {
            println!("- {fact}");
        }
        println!();
        println!("| what | result |");
        println!("|---|---|");
        for (what, result) in &self.rows {
            println!("| {what} | {result} |");
        }
        println!();
        for note in &self.notes {
            println!("{note}");
        }
    }
}

pub(crate) fn machine_facts(report: &mut Report) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let output = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    report.facts.push(format!("cores (nproc): {cores}"));
    report.facts.push(format!("CPU: {cpu}"));
    report.facts.push(
        if super::cpu::pinned() {
            "threads: the server's pinned to core 0, the client's and the fake model's to core 1"
        } else {
            "threads: not pinned (placed by the scheduler)"
        }
        .to_owned(),
    );
    report
        .facts
        .push(format!("rustc: {}", output("rustc", &["--version"])));
    report.facts.push(format!(
        "commit: {}",
        output("git", &["rev-parse", "--short", "HEAD"])
    ));
    // Other work on the machine takes cores from the bench: the load says how much.
    report
        .facts
        .push(format!("load average at the start: {}", load_average()));
}
