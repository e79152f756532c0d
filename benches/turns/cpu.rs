//! CPU time, from /proc, and where threads run: the client and the fake share the machine with
//! the server (on the other core when the bench is pinned), so the server's own CPU time per
//! turn, delta or request is the steadier figure.

use super::*;

/// The name of the client runtime's threads (the main thread is the client's too).
pub(crate) const CLIENT_THREAD: &str = "bench-client";

/// Where the threads run when the bench is pinned: the server alone on one core, the load
/// (client and fake model) on the other, as issue 15 measured turns.
const SERVER_CORE: usize = 0;
const LOAD_CORE: usize = 1;

/// Whether the bench pins its threads: on two cores or more, unless `CHATKIT_BENCH_UNPINNED`
/// is set (the scheduler then places them, as in the runs before the bench pinned).
pub(crate) fn pinned() -> bool {
    std::env::var_os("CHATKIT_BENCH_UNPINNED").is_none()
        && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// Whose a thread of this process is.
enum Owner {
    Server,
    Fake,
    Client,
}

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
    /// Whether [`CpuMeter::start`] places the threads on their cores ([`pinned`]).
    pub(crate) pinned: bool,
}

impl CpuMeter {
    /// Starts a measured phase: places every thread on its core when the bench is pinned
    /// (those made since the last phase too: tokio starts blocking threads as it needs them,
    /// and a new thread runs where the thread that made it ran), then samples.
    pub(crate) fn start(&self) -> CpuSample {
        self.place();
        self.sample()
    }

    /// The server's threads on [`SERVER_CORE`], the others on [`LOAD_CORE`].
    pub(crate) fn place(&self) {
        if !self.pinned {
            return;
        }
        for tid in threads() {
            let core = match self.owner(tid) {
                Owner::Server => SERVER_CORE,
                Owner::Fake | Owner::Client => LOAD_CORE,
            };
            // A thread that ended meanwhile has nothing to place.
            if let Ok(tid) = libc::pid_t::try_from(tid) {
                let _ = crate::affinity::pin(tid, core);
            }
        }
    }

    pub(crate) fn sample(&self) -> CpuSample {
        CpuSample(crate::schedstat::threads_cpu("self"))
    }

    /// Whose thread `tid` is: the client's (the main thread and the named runtime threads),
    /// the fake's, or else the server's (its actix workers and their blocking threads).
    pub(crate) fn slot<'a>(&self, cpu: &'a mut Cpu, tid: u32) -> &'a mut Duration {
        match self.owner(tid) {
            Owner::Client => &mut cpu.client,
            Owner::Fake => &mut cpu.fake,
            Owner::Server => &mut cpu.server,
        }
    }

    fn owner(&self, tid: u32) -> Owner {
        let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"));
        if tid == std::process::id() || name.is_ok_and(|n| n.starts_with(CLIENT_THREAD)) {
            Owner::Client
        } else if self.fake.contains(&tid) {
            Owner::Fake
        } else {
            Owner::Server
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
