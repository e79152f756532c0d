//! Console operators and their sign-in sessions. Roles are typed here, at the store's edge; the
//! rule that an enabled admin always remains is checked in the same transaction as the change,
//! so two admins demoting each other at once cannot both succeed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::{operator_sessions, operators};
use super::{Store, StoreError, db, from_db_time, to_db_time};
use crate::chatkit::ids::{self, IdKind};

/// What an operator may do: admins everything, reviewers read and answer but not manage
/// operators or settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Reviewer,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Reviewer];

    /// The stored and displayed name; the one place roles get their names.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a role (admin or reviewer)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// An operator as the services see it.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: String,
    /// Lower-cased.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// Leaves the password hash out, so an operator in a log line gives nothing to crack.
impl fmt::Debug for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operator")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("created_at", &self.created_at)
            .field("last_login_at", &self.last_login_at)
            .finish_non_exhaustive()
    }
}

impl Operator {
    fn is_enabled_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = operators)]
struct OperatorRow {
    id: String,
    email: String,
    password_hash: String,
    role: String,
    disabled: bool,
    created_at: NaiveDateTime,
    last_login_at: Option<NaiveDateTime>,
}

impl From<OperatorRow> for Operator {
    fn from(row: OperatorRow) -> Self {
        Operator {
            id: row.id,
            email: row.email,
            password_hash: row.password_hash,
            // The column's CHECK allows only known roles; were one unknown, the least
            // privilege is the safe reading.
            role: row.role.parse().unwrap_or(Role::Reviewer),
            disabled: row.disabled,
            created_at: from_db_time(row.created_at),
            last_login_at: row.last_login_at.map(from_db_time),
        }
    }
}

/// A new operator; the email is lower-cased on the way in.
#[derive(Clone)]
pub struct NewOperator {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
}

/// Changes to one operator; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OperatorChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

/// What [`Store::change_operator`] did.
#[derive(Debug, Clone)]
pub enum ChangeOutcome {
    Changed {
        before: Box<Operator>,
        after: Box<Operator>,
    },
    /// Refused: no enabled admin would remain.
    LastAdmin,
}

/// A session to store: the SHA-256 of its token, never the token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub operator_id: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_sessions)]
struct SessionRow {
    id: String,
    token_hash: String,
    operator_id: String,
    csrf_token: String,
    created_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRow> for SessionRecord {
    fn from(row: SessionRow) -> Self {
        SessionRecord {
            id: row.id,
            operator_id: row.operator_id,
            csrf_token: row.csrf_token,
            created_at: from_db_time(row.created_at),
            last_seen_at: from_db_time(row.last_seen_at),
            expires_at: from_db_time(row.expires_at),
            ip: row.ip,
            user_agent: row.user_agent,
        }
    }
}

fn load_operator(conn: &mut db::AnyConnection, id: &str) -> Result<Operator, StoreError> {
    operators::table
        .find(id)
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?
        .map(Operator::from)
        .ok_or(StoreError::NotFound("operator"))
}

impl Store {
    /// Adds an operator; [`StoreError::Duplicate`] when the email is taken (in any case).
    pub async fn create_operator(&self, new: NewOperator) -> Result<Operator, StoreError> {
        self.with_conn(move |conn| {
            let row = OperatorRow {
                id: ids::new_id(IdKind::Operator),
                email: new.email.to_lowercase(),
                password_hash: new.password_hash,
                role: new.role.as_str().to_owned(),
                disabled: false,
                created_at: to_db_time(ids::now()),
                last_login_at: None,
            };
            match diesel::insert_into(operators::table)
                .values(&row)
                .execute(conn)
            {
                Ok(_) => Ok(Operator::from(row)),
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    Err(StoreError::Duplicate("operator"))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    pub async fn operator(&self, id: &str) -> Result<Operator, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| load_operator(conn, &id)).await
    }

    /// The operator with this email (compared case-insensitively), if any.
    pub async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>, StoreError> {
        let email = email.to_lowercase();
        self.with_conn(move |conn| {
            Ok(operators::table
                .filter(operators::email.eq(email))
                .select(OperatorRow::as_select())
                .first(conn)
                .optional()?
                .map(Operator::from))
        })
        .await
    }

    /// Every operator, by email.
    pub async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        self.with_conn(|conn| {
            Ok(operators::table
                .order(operators::email.asc())
                .select(OperatorRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Operator::from)
                .collect())
        })
        .await
    }

    pub async fn count_operators(&self) -> Result<i64, StoreError> {
        self.with_conn(|conn| Ok(operators::table.count().get_result(conn)?))
            .await
    }

    /// Applies `change` unless it would leave no enabled admin. Disabling an operator or
    /// setting a new password ends their sessions in the same transaction.
    pub async fn change_operator(
        &self,
        id: &str,
        change: OperatorChange,
    ) -> Result<ChangeOutcome, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let before = load_operator(conn, &id)?;
                let mut after = before.clone();
                if let Some(role) = change.role {
                    after.role = role;
                }
                if let Some(disabled) = change.disabled {
                    after.disabled = disabled;
                }
                if let Some(hash) = &change.password_hash {
                    after.password_hash.clone_from(hash);
                }
                if before.is_enabled_admin() && !after.is_enabled_admin() {
                    let others: i64 = operators::table
                        .filter(operators::role.eq(Role::Admin.as_str()))
                        .filter(operators::disabled.eq(false))
                        .filter(operators::id.ne(&id))
                        .count()
                        .get_result(conn)?;
                    if others == 0 {
                        return Ok(ChangeOutcome::LastAdmin);
                    }
                }
                diesel::update(operators::table.find(&id))
                    .set((
                        operators::role.eq(after.role.as_str()),
                        operators::disabled.eq(after.disabled),
                        operators::password_hash.eq(&after.password_hash),
                    ))
                    .execute(conn)?;
                if (after.disabled && !before.disabled) || change.password_hash.is_some() {
                    diesel::delete(
                        operator_sessions::table.filter(operator_sessions::operator_id.eq(&id)),
                    )
                    .execute(conn)?;
                }
                Ok(ChangeOutcome::Changed {
                    before: Box::new(before),
                    after: Box::new(after),
                })
            })
        })
        .await
    }

    /// Stores a new session of the operator, notes the sign-in time, and drops sessions past
    /// their absolute end (anyone's), so the table does not grow without bound.
    pub async fn start_session(
        &self,
        operator_id: &str,
        session: NewSession,
    ) -> Result<SessionRecord, StoreError> {
        let operator_id = operator_id.to_owned();
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let now = to_db_time(session.created_at);
                diesel::delete(
                    operator_sessions::table.filter(operator_sessions::expires_at.le(now)),
                )
                .execute(conn)?;
                let row = SessionRow {
                    id: ids::new_id(IdKind::OperatorSession),
                    token_hash: session.token_hash,
                    operator_id: operator_id.clone(),
                    csrf_token: session.csrf_token,
                    created_at: now,
                    last_seen_at: now,
                    expires_at: to_db_time(session.expires_at),
                    ip: session.ip,
                    user_agent: session.user_agent,
                };
                diesel::insert_into(operator_sessions::table)
                    .values(&row)
                    .execute(conn)?;
                diesel::update(operators::table.find(&operator_id))
                    .set(operators::last_login_at.eq(now))
                    .execute(conn)?;
                Ok(SessionRecord::from(row))
            })
        })
        .await
    }

    /// The session whose token hashes to `token_hash`, with its operator.
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<(SessionRecord, Operator)>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.with_conn(move |conn| {
            let found: Option<(SessionRow, OperatorRow)> = operator_sessions::table
                .inner_join(operators::table)
                .filter(operator_sessions::token_hash.eq(token_hash))
                .select((SessionRow::as_select(), OperatorRow::as_select()))
                .first(conn)
                .optional()?;
            Ok(found.map(|(s, o)| (s.into(), o.into())))
        })
        .await
    }

    /// Notes activity on a session (the idle timeout counts from here).
    pub async fn touch_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            diesel::update(operator_sessions::table.find(id))
                .set(operator_sessions::last_seen_at.eq(to_db_time(at)))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Ends a session; `false` when it was already gone.
    pub async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            Ok(diesel::delete(operator_sessions::table.find(id)).execute(conn)? == 1)
        })
        .await
    }

    /// The live sessions of an operator, newest first.
    pub async fn operator_sessions(
        &self,
        operator_id: &str,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let operator_id = operator_id.to_owned();
        self.with_conn(move |conn| {
            Ok(operator_sessions::table
                .filter(operator_sessions::operator_id.eq(operator_id))
                .order(operator_sessions::created_at.desc())
                .select(SessionRow::as_select())
                .load(conn)?
                .into_iter()
                .map(SessionRecord::from)
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!(
            "Admin".parse::<Role>(),
            Err(UnknownRole("Admin".to_owned()))
        );
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn debug_output_leaves_the_password_hash_out() {
        let operator = Operator {
            id: "op_1".into(),
            email: "a@example.com".into(),
            password_hash: "$argon2id$secret".into(),
            role: Role::Admin,
            disabled: false,
            created_at: Utc::now(),
            last_login_at: None,
        };
        let shown = format!("{operator:?}");
        assert!(shown.contains("a@example.com"), "{shown}");
        assert!(!shown.contains("argon2"), "{shown}");
    }
}
