//! Memory the allocator keeps. glibc's malloc gives freed memory back to the system only from
//! the top of each heap, so after a burst of thousands of streams a process would keep its
//! peak resident set for good although most of it is free. The serving process asks malloc,
//! from a thread of its own, to hand free pages back every few seconds; on an idle heap that
//! costs microseconds. Other allocators (musl's, or a platform without glibc) return memory
//! themselves, and nothing is done there.

use std::time::Duration;

/// How often free memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Starts the thread that trims the heap (glibc only).
pub fn spawn_trimmer() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::thread::Builder::new()
            .name("malloc-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TRIM_EVERY);
                    // SAFETY: malloc_trim only walks malloc's own heaps, under their locks.
                    unsafe { libc::malloc_trim(0) };
                }
            });
        if let Err(e) = started {
            log::warn!("free memory will not be handed back to the system: {e}");
        }
    }
}
