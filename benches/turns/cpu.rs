//! CPU time, from /proc: on one machine the client and the fake take cores from the server,
//! so the server's own CPU time per turn, delta or request is the steadier figure.

use super::*;

/// The name of the client runtime's threads (the main thread is the client's too).
pub(crate) const CLIENT_THREAD: &str = "bench-client";

/// On-CPU time of this process's threads, split by whose they are.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub(crate) server: Duration,
    pub(crate) fake: Duration,
    pub(crate) client: Duration,
}

impl std::ops::AddAssign for Cpu {
    fn add_assign(&mut self, other: Cpu) {
        self.server += other.server;
        self.fake += other.fake;
        self.client += other.client;
    }
}

/// Each thread's CPU time at one moment.
pub(crate) struct CpuSample(pub(crate) HashMap<u32, Duration>);

impl CpuSample {
    /// The CPU time used since this sample. Threads are compared one by one, so a thread that
    /// exited in between (a stopped server's) changes nothing; a thread that exits between the
    /// samples loses its time, but tokio's blocking threads only exit after 10 s idle, longer
    /// than any measured phase.
    pub(crate) fn elapsed(&self, meter: &CpuMeter) -> Cpu {
        let now = meter.sample();
        let mut cpu = Cpu::default();
        for (tid, used) in now.0 {
            let used = used.saturating_sub(self.0.get(&tid).copied().unwrap_or_default());
            *meter.slot(&mut cpu, tid) += used;
        }
        cpu
    }
}

/// Reads `/proc/self/task/*/schedstat` (nanoseconds on CPU). Elsewhere than Linux every
/// figure is zero.
pub(crate) struct CpuMeter {
    /// The fake model's threads (those that appeared when it started).
    pub(crate) fake: std::collections::HashSet<u32>,
}

impl CpuMeter {
    pub(crate) fn sample(&self) -> CpuSample {
        let times = threads()
            .into_iter()
            .filter_map(|tid| {
                let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"));
                let ns = stat.ok()?.split_whitespace().next()?.parse().ok()?;
                Some((tid, Duration::from_nanos(ns)))
            })
            .collect();
        CpuSample(times)
    }

    /// Whose thread `tid` is: the client's (the main thread and the named runtime threads),
    /// the fake's, or else the server's (its actix workers and their blocking threads).
    pub(crate) fn slot<'a>(&self, cpu: &'a mut Cpu, tid: u32) -> &'a mut Duration {
        let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"));
        if tid == std::process::id() || name.is_ok_and(|n| n.starts_with(CLIENT_THREAD)) {
            &mut cpu.client
        } else if self.fake.contains(&tid) {
            &mut cpu.fake
        } else {
            &mut cpu.server
        }
    }
}

/// The ids of this process's threads.
pub(crate) fn threads() -> std::collections::HashSet<u32> {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// CPU time per unit of work, in µs.
pub(crate) fn per(cpu: Duration, units: usize) -> String {
    us(cpu.as_secs_f64() / units.max(1) as f64)
}
