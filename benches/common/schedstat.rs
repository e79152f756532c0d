//! Time on CPU of a process's threads, from `/proc/<pid>/task/*/schedstat` (nanoseconds):
//! precise enough for a phase of a few hundred milliseconds, which clock ticks are not.

use std::collections::HashMap;
use std::time::Duration;

/// Each live thread of `process` (a pid, or `self`) and its time on CPU so far. Elsewhere
/// than Linux there are none.
pub fn threads_cpu(process: &str) -> HashMap<u32, Duration> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{process}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let tid = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let ns = stat.split_whitespace().next()?.parse().ok()?;
            Some((tid, Duration::from_nanos(ns)))
        })
        .collect()
}
