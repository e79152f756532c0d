//! Which core a thread runs on: the benches that measure the server alone on one core pin it
//! there and their load on another.

/// Runs thread `tid` (0: the calling thread) on `core` only; threads it starts afterwards
/// run there too. A plain system call, safe between fork and exec.
pub fn pin(tid: libc::pid_t, core: usize) -> std::io::Result<()> {
    // SAFETY: the set is a plain bit mask on the stack, sized as the call is told.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
