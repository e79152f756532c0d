//! The open-file limit. Every stream holds a client socket and, while the model answers, one to
//! the model service; the usual soft limit of 1,024 descriptors caps a process at a few hundred
//! streams although the hard limit allows far more. The serving process raises its soft limit
//! to the hard limit at start and says so.

/// The soft limit before and after raising it to the hard limit, or why it could not be raised
/// (the process then keeps the limit it was given).
pub fn raise_to_hard_limit() -> Result<(u64, u64), std::io::Error> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes into the struct we own and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `setrlimit` only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok((before, limit.rlim_cur))
}

/// Raises the limit and logs the outcome once.
pub fn raise_and_report() {
    match raise_to_hard_limit() {
        Ok((before, after)) if before < after => {
            log::info!("open-file limit raised from {before} to {after} descriptors");
        }
        Ok((_, after)) => log::info!("open-file limit: {after} descriptors"),
        Err(e) => log::warn!("could not raise the open-file limit: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let (before, after) = raise_to_hard_limit().unwrap();
        assert!(after >= before);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }
}
