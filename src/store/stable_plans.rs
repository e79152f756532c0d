//! SQLite's query planner stability guarantee, switched on for every connection this process
//! opens, and SQLite's process-wide threading and memory settings, made before it starts.
//!
//! Without it SQLite marks a prepared statement to be parsed and planned again whenever a new
//! value is bound to a parameter the planner looked at: `LIMIT ?` (every diesel `.first()` and
//! every page), and a comparison that might match a partial index's condition. Diesel binds
//! every value, so those statements, though kept prepared, were compiled afresh on each run,
//! triggers included: about a tenth of the store's CPU in a streamed turn. With the guarantee a
//! statement keeps the plan it was prepared with. Nothing of ours needs value-dependent plans:
//! the console's flag filters state their partial index's condition in literal SQL, and the
//! waiting-forms queries have a full index on `status`.

use std::ffi::{c_char, c_int};
use std::sync::Once;

use libsqlite3_sys as ffi;

/// Configures SQLite and registers, once per process, the hook SQLite runs on each connection
/// it opens.
pub(super) fn enable() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // No allocation statistics (nothing reads them; each allocation took a global mutex
        // to keep them), and no mutex per connection: diesel lends a connection to one thread
        // at a time, which is what SQLite's multi-thread mode asks. Both must precede SQLite's
        // initialisation, which the registration below performs; if something initialised it
        // first (a test opening its own database), they are refused and change nothing.
        // SAFETY: both options take the arguments given; SQLite checks the call's timing.
        unsafe {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD);
        }
        // SAFETY: `stable_plans` has the signature SQLite calls an extension entry point with,
        // and is a plain function, valid for the life of the process.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(stable_plans)) };
        if rc != ffi::SQLITE_OK {
            log::warn!("SQLite query plans are re-prepared per value: registration failed ({rc})");
        }
    });
}

/// The per-connection hook: sets `SQLITE_DBCONFIG_ENABLE_QPSG`. A failure leaves the
/// connection as SQLite made it, which is still correct, only slower.
unsafe extern "C" fn stable_plans(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite hands the hook the connection it is opening; the option takes an int and
    // an optional out-pointer, which may be null.
    unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        );
    }
    ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    use std::ffi::{CString, c_int};

    use libsqlite3_sys as ffi;

    /// How many times a `LIMIT ?` statement is re-prepared over ten runs with ten values, on a
    /// connection opened as every connection is, with the guarantee then set to `qpsg`.
    fn reprepares(qpsg: c_int) -> c_int {
        let (memory, create) = (
            CString::new(":memory:").unwrap(),
            CString::new("CREATE TABLE t (x)").unwrap(),
        );
        let select = CString::new("SELECT x FROM t LIMIT ?").unwrap();
        let (mut db, mut stmt) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: one fresh in-memory connection and statement, both closed before returning;
        // the strings outlive the calls.
        unsafe {
            assert_eq!(ffi::sqlite3_open(memory.as_ptr(), &mut db), ffi::SQLITE_OK);
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                qpsg,
                std::ptr::null_mut::<c_int>(),
            );
            ffi::sqlite3_exec(
                db,
                create.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            let flags = ffi::SQLITE_PREPARE_PERSISTENT;
            ffi::sqlite3_prepare_v3(
                db,
                select.as_ptr(),
                -1,
                flags,
                &mut stmt,
                std::ptr::null_mut(),
            );
            for limit in 1..=10 {
                ffi::sqlite3_bind_int(stmt, 1, limit);
                ffi::sqlite3_step(stmt);
                ffi::sqlite3_reset(stmt);
            }
            let count = ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_REPREPARE, 0);
            ffi::sqlite3_finalize(stmt);
            ffi::sqlite3_close(db);
            count
        }
    }

    #[test]
    fn a_rebound_limit_keeps_its_plan() {
        super::enable();
        // What SQLite does without the guarantee, so this test would notice if it stopped.
        assert!(reprepares(0) > 0);
        assert_eq!(reprepares(1), 0);
    }

    #[test]
    fn every_new_connection_has_the_guarantee() {
        super::enable();
        let memory = CString::new(":memory:").unwrap();
        let (mut db, mut on) = (std::ptr::null_mut(), -1 as c_int);
        // SAFETY: a fresh in-memory connection, closed below; `on` outlives the call.
        unsafe {
            assert_eq!(ffi::sqlite3_open(memory.as_ptr(), &mut db), ffi::SQLITE_OK);
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as c_int,
                &mut on as *mut c_int,
            );
            ffi::sqlite3_close(db);
        }
        assert_eq!(on, 1);
    }
}
