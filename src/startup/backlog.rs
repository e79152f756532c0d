//! The listening socket's queue of connections not yet accepted. The standard library listens
//! with a backlog of 128; when thousands of clients connect at once (a page's worth of chat
//! widgets after a deploy, or a load test), the rest of their handshakes are dropped and
//! retried by their kernels after 1, 3 and 7 seconds, which shows as seconds of delay before
//! the first word. The serving socket asks for the largest queue the system allows
//! (`net.core.somaxconn` caps it).

use std::net::TcpListener;

/// What is asked for; the kernel lowers it to its own cap.
const BACKLOG: libc::c_int = 65_535;

/// Listens again on the bound socket with the larger backlog (on Linux, a second `listen`
/// only changes the backlog). A failure keeps the standard one and is logged.
pub fn widen(listener: &TcpListener) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: `listen` on a socket this process owns and keeps open.
        if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } != 0 {
            log::warn!(
                "the listen backlog stays at the default: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
