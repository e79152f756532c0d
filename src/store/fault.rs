//! Database failures that are the database's state rather than a bug in a query: unreachable,
//! refusing writes, full, failing storage. They are told apart here, once, so that callers can
//! answer "try again later" or "an operator must act" instead of an opaque internal error, and
//! so the pool knows which connections are dead.
//!
//! Diesel keeps Postgres' SQLSTATE only as an error kind (connection closed, read-only
//! transaction) and SQLite's result code not at all, so the rest is read from the message:
//! SQLite's are the fixed texts of its result codes (`sqlite3_errstr`), Postgres' the server's
//! own wording of the SQLSTATEs named below.

use diesel::result::{DatabaseErrorKind, Error};

/// What state of the database a failed call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFault {
    /// The database cannot be reached or cannot serve now: connection lost or refused, pool
    /// exhausted, server shutting down or out of connection slots, SQLite file locked past the
    /// busy timeout or not openable. Retrying later may succeed.
    Unavailable,
    /// The database refuses writes: a read-only transaction or replica (SQLSTATE 25006), a
    /// read-only SQLite file (`SQLITE_READONLY`).
    ReadOnly,
    /// No room to grow: SQLSTATE 53100 disk_full, `SQLITE_FULL`.
    Full,
    /// The storage under the database failed (`SQLITE_IOERR`).
    Io,
}

impl DbFault {
    /// The fault a Diesel error stands for, if it is one.
    pub fn of(error: &Error) -> Option<DbFault> {
        match error {
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | Error::BrokenTransactionManager => Some(DbFault::Unavailable),
            Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => {
                Some(DbFault::ReadOnly)
            }
            Error::DatabaseError(_, info) => of_message(info.message()),
            _ => None,
        }
    }

    /// One sentence for whoever runs the server: what is wrong, without internal detail.
    pub fn describe(self) -> &'static str {
        match self {
            DbFault::Unavailable => "the database is unavailable; try again shortly",
            DbFault::ReadOnly => "the database is read-only, so changes cannot be saved",
            DbFault::Full => "the database's disk is full, so changes cannot be saved",
            DbFault::Io => "the database's storage failed (I/O error)",
        }
    }
}

/// Whether the connection that returned `error` is gone and must not go back to the pool.
pub fn is_connection_lost(error: &Error) -> bool {
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | Error::BrokenTransactionManager => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            // 57P01 admin_shutdown, 57P02 crash_shutdown: the server ends the session.
            message.contains("terminating connection")
                || message.contains("server closed the connection")
                || message.contains("no connection to the server")
        }
        _ => false,
    }
}

fn of_message(message: &str) -> Option<DbFault> {
    const TABLE: &[(&str, DbFault)] = &[
        // SQLite result codes.
        ("attempt to write a readonly database", DbFault::ReadOnly),
        ("database or disk is full", DbFault::Full),
        ("database is locked", DbFault::Unavailable),
        ("database table is locked", DbFault::Unavailable),
        ("unable to open database file", DbFault::Unavailable),
        ("disk I/O error", DbFault::Io),
        // Postgres: 25006 (wording kept when diesel did not map it), 53100, 53300, 57P0x.
        ("in a read-only transaction", DbFault::ReadOnly),
        ("No space left on device", DbFault::Full),
        ("could not extend file", DbFault::Full),
        ("too many clients already", DbFault::Unavailable),
        ("terminating connection", DbFault::Unavailable),
        ("the database system is", DbFault::Unavailable),
        ("server closed the connection", DbFault::Unavailable),
    ];
    TABLE
        .iter()
        .find(|(text, _)| message.contains(text))
        .map(|(_, fault)| *fault)
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;

    fn sqlite() -> (tempfile::TempDir, SqliteConnection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn =
            SqliteConnection::establish(&dir.path().join("f.db").display().to_string()).unwrap();
        conn.batch_execute("CREATE TABLE t (b BLOB)").unwrap();
        (dir, conn)
    }

    /// `PRAGMA query_only` makes SQLite answer writes with `SQLITE_READONLY`, what a read-only
    /// file gives too.
    #[test]
    fn a_read_only_sqlite_database_is_read_only() {
        let (_dir, mut conn) = sqlite();
        conn.batch_execute("PRAGMA query_only = 1").unwrap();
        let error = conn
            .batch_execute("INSERT INTO t VALUES (x'00')")
            .unwrap_err();
        assert_eq!(DbFault::of(&error), Some(DbFault::ReadOnly), "{error}");
        assert!(!is_connection_lost(&error));
    }

    /// `PRAGMA max_page_count` caps the file as a full disk would: `SQLITE_FULL`.
    #[test]
    fn a_full_sqlite_database_is_full() {
        let (_dir, mut conn) = sqlite();
        conn.batch_execute("PRAGMA max_page_count = 3").unwrap();
        let error = conn
            .batch_execute("INSERT INTO t VALUES (randomblob(100000))")
            .unwrap_err();
        assert_eq!(DbFault::of(&error), Some(DbFault::Full), "{error}");
    }

    /// Query mistakes are no database fault: they stay internal errors.
    #[test]
    fn a_bad_query_is_no_fault() {
        let (_dir, mut conn) = sqlite();
        let error = conn.batch_execute("SELECT * FROM missing").unwrap_err();
        assert_eq!(DbFault::of(&error), None, "{error}");
        assert_eq!(DbFault::of(&Error::NotFound), None);
    }
}
