//! CPU time over a phase, from `/proc`: each server process (`utime + stime` of
//! `/proc/<pid>/stat`), the Postgres backends serving the servers' connections (told apart by
//! the client port in their process title, matched with the servers' sockets) and all other
//! Postgres processes, this process split into the client and the fake model (by thread name),
//! and the whole machine (`/proc/stat`). On a machine with few cores shared by all of them, the
//! CPU time per unit of work is the steadier figure.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The name of the client runtime's threads (the main thread is the client's too); every
/// other thread of this process is the fake model's.
pub const CLIENT_THREAD: &str = "bench-client";

/// Clock ticks per second of the `/proc` times.
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

fn ticks(n: u64) -> Duration {
    Duration::from_secs_f64(n as f64 / ticks_per_second() as f64)
}

/// The command name and `utime + stime` (ticks) of a `/proc/.../stat` file.
fn stat(path: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_owned();
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let used = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name, used))
}

/// Every process whose command is `postgres`: its ticks, and the client port of a backend
/// (its title reads `postgres: … user db 127.0.0.1(PORT) state`).
fn postgres() -> HashMap<u32, (u64, Option<u16>)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (name, used) = stat(&format!("/proc/{pid}/stat"))?;
            if name != "postgres" {
                return None;
            }
            let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let title = String::from_utf8_lossy(&title);
            let port = title
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(')'))
                .and_then(|(port, _)| port.parse().ok());
            Some((pid, (used, port)))
        })
        .collect()
}

/// The local ports of the servers' TCP connections (their sockets' inodes looked up in the
/// socket tables).
fn server_ports(pids: &[u32]) -> HashSet<u16> {
    let mut ports = HashSet::new();
    for pid in pids {
        let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| {
                dir.filter_map(|fd| {
                    let link = std::fs::read_link(fd.ok()?.path()).ok()?;
                    let link = link.to_str()?;
                    Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
                })
                .collect()
            })
            .unwrap_or_default();
        for table in ["tcp", "tcp6"] {
            let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}"));
            for line in text.unwrap_or_default().lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
                    continue;
                };
                let port = local
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                if let Some(port) = port.filter(|_| inodes.contains(*inode)) {
                    ports.insert(port);
                }
            }
        }
    }
    ports
}

/// This process's CPU time in ticks: the client's threads and the others (the fake model).
fn own() -> (u64, u64) {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let (mut client, mut fake) = (0, 0);
    for tid in dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
        let Some((name, used)) = stat(&format!("/proc/self/task/{tid}/stat")) else {
            continue;
        };
        if tid == me || name.starts_with(CLIENT_THREAD) {
            client += used;
        } else {
            fake += used;
        }
    }
    (client, fake)
}

/// Busy and total ticks of the whole machine (all cores).
fn machine() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let times: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = times.iter().take(8).sum();
    // idle and iowait are the 4th and 5th.
    let idle = times.get(3).copied().unwrap_or(0) + times.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The CPU times at one moment.
pub struct Sample {
    at: Instant,
    servers: Vec<u64>,
    postgres: HashMap<u32, (u64, Option<u16>)>,
    ports: HashSet<u16>,
    own: (u64, u64),
    machine: (u64, u64),
}

/// CPU used over a phase.
#[derive(Debug, Clone)]
pub struct Usage {
    pub wall: Duration,
    pub servers: Vec<Duration>,
    /// The backends of the servers' connections. Postgres processes that ended during the
    /// phase lose their time; new ones count whole.
    pub postgres: Duration,
    /// Every other Postgres process: its own helpers, and other clients' backends.
    pub postgres_other: Duration,
    pub client: Duration,
    pub fake: Duration,
    /// Busy share of all the machine's cores (0 to 1).
    pub machine_busy: f64,
}

impl Usage {
    /// A CPU time as cores in use over the phase (1.0 = one core all the time).
    pub fn cores(&self, used: Duration) -> f64 {
        used.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn servers_total(&self) -> Duration {
        self.servers.iter().sum()
    }
}

impl Sample {
    pub fn now(server_pids: &[u32]) -> Sample {
        Sample {
            at: Instant::now(),
            servers: server_pids
                .iter()
                .map(|pid| stat(&format!("/proc/{pid}/stat")).map_or(0, |(_, used)| used))
                .collect(),
            postgres: postgres(),
            ports: server_ports(server_pids),
            own: own(),
            machine: machine(),
        }
    }

    /// What was used since this sample, by the same servers.
    pub fn elapsed(&self, server_pids: &[u32]) -> Usage {
        let now = Sample::now(server_pids);
        let (mut postgres, mut postgres_other) = (0, 0);
        for (pid, (used, port)) in &now.postgres {
            let before = self.postgres.get(pid).map_or(0, |(used, _)| *used);
            let ours = port.is_some_and(|p| self.ports.contains(&p) || now.ports.contains(&p));
            *(if ours {
                &mut postgres
            } else {
                &mut postgres_other
            }) += used.saturating_sub(before);
        }
        let (busy, total) = (
            now.machine.0.saturating_sub(self.machine.0),
            now.machine.1.saturating_sub(self.machine.1),
        );
        Usage {
            wall: now.at.duration_since(self.at),
            servers: now
                .servers
                .iter()
                .zip(&self.servers)
                .map(|(after, before)| ticks(after.saturating_sub(*before)))
                .collect(),
            postgres: ticks(postgres),
            postgres_other: ticks(postgres_other),
            client: ticks(now.own.0.saturating_sub(self.own.0)),
            fake: ticks(now.own.1.saturating_sub(self.own.1)),
            machine_busy: busy as f64 / total.max(1) as f64,
        }
    }
}
