//! Memory the allocators keep, handed back to the system after a burst.
//!
//! glibc's malloc (which SQLite uses) gives freed memory back only from the top of each heap,
//! so after a burst of thousands of streams a process would keep its peak resident set for
//! good although most of it is free. The serving process asks malloc, from a thread of its
//! own, to hand free pages back every few seconds; on an idle heap that costs microseconds.
//! Other C allocators (musl's, or a platform without glibc) return memory themselves, and
//! nothing is done there.
//!
//! mimalloc (the binary's allocator) hands a thread's free pages back only when that thread
//! allocates or collects, so a request thread left idle after a burst would keep them: each
//! request thread collects every few seconds.
//!
//! Transparent huge pages are turned off for the process: mimalloc asks for them on its
//! arenas, so the kernel backs each 2 MiB of the arena with a huge page as soon as one byte of
//! it is touched, and later merges sparse ranges into huge pages in the background. Under
//! 10,000 streams that held a third more memory at the peak and twice as much a minute after
//! the load, still growing while idle; see "Simultaneous streams" in `docs/benchmarks.md`.

use std::cell::Cell;
use std::time::Duration;

/// How often free memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Backs the process's memory with ordinary pages only (Linux), before the server allocates
/// in earnest. Children (stdio MCP servers) inherit the setting.
pub fn use_small_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process; no memory is touched.
        if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
            log::warn!(
                "transparent huge pages stay on: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Hands back, every few seconds, the pages mimalloc keeps free on this thread, for as long as
/// the thread's event loop runs; once per thread however often it is called. Under another
/// global allocator (the tests') it collects mimalloc's empty heap: nothing.
pub fn collect_on_this_thread() {
    thread_local!(static STARTED: Cell<bool> = const { Cell::new(false) });
    if STARTED.replace(true) {
        return;
    }
    actix_rt::spawn(async {
        loop {
            actix_rt::time::sleep(TRIM_EVERY).await;
            // SAFETY: mi_collect only walks this thread's heap and mimalloc's arenas.
            unsafe { libmimalloc_sys::mi_collect(false) };
        }
    });
}

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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The setting took: the kernel reports huge pages off for this process.
    #[test]
    fn small_pages_are_used() {
        super::use_small_pages();
        // SAFETY: PR_GET_THP_DISABLE only reads a flag of this process.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }
}
