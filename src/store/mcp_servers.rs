//! An agent's own MCP servers, one row each, as operators edit them in the console. A row keeps
//! what was entered (headers and allowed tools as JSON text); making a working server of it,
//! and reporting a row that cannot become one, is the run layer's job, so one bad row costs
//! only its own tools.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::agent_mcp_servers;
use super::{Found, Store, StoreError, db, to_db_time, touched};
use crate::chatkit::ids::{self, IdKind};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = agent_mcp_servers, treat_none_as_null = true)]
pub struct McpServerRow {
    pub id: String,
    pub agent_id: String,
    /// Unique per agent; names the server in logs, tool-name clashes and the console.
    pub name: String,
    pub url: String,
    /// JSON object of extra HTTP headers; `None` for none.
    pub headers: Option<String>,
    /// JSON list of the tools offered to the model; `None` offers all of them.
    pub allowed_tools: Option<String>,
    pub timeout_ms: i64,
    /// How to open a session: `auto` or `legacy` (the names of `config::McpProtocol`).
    pub protocol: String,
    pub structured_widgets: bool,
    pub elicitation_timeout_ms: i64,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl McpServerRow {
    /// The extra headers; an error when the column is not a JSON object of strings.
    pub fn header_map(&self) -> Result<BTreeMap<String, String>, StoreError> {
        match self.headers.as_deref() {
            None => Ok(BTreeMap::new()),
            Some(json) => Ok(serde_json::from_str(json)?),
        }
    }

    /// The tools offered to the model (`None`: all); an error when the column is not a JSON
    /// list of strings.
    pub fn allowed_tool_list(&self) -> Result<Option<Vec<String>>, StoreError> {
        match self.allowed_tools.as_deref() {
            None => Ok(None),
            Some(json) => Ok(Some(serde_json::from_str(json)?)),
        }
    }

    pub fn timeout(&self) -> Duration {
        millis(self.timeout_ms)
    }

    pub fn elicitation_timeout(&self) -> Duration {
        millis(self.elicitation_timeout_ms)
    }
}

/// What an operator sets on a server, when adding it and on each edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServerFields {
    pub name: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub allowed_tools: Option<Vec<String>>,
    pub timeout: Duration,
    pub protocol: String,
    pub structured_widgets: bool,
    pub elicitation_timeout: Duration,
    pub enabled: bool,
}

impl McpServerFields {
    /// A server at `url` with the table's defaults for everything else.
    pub fn new(name: &str, url: &str) -> Self {
        McpServerFields {
            name: name.to_owned(),
            url: url.to_owned(),
            headers: BTreeMap::new(),
            allowed_tools: None,
            timeout: Duration::from_secs(30),
            protocol: "auto".to_owned(),
            structured_widgets: false,
            elicitation_timeout: Duration::from_secs(15 * 60),
            enabled: true,
        }
    }

    /// The row of server `id` of `agent_id` with these fields, updated now.
    pub(super) fn into_row(
        self,
        id: String,
        agent_id: String,
        created_at: NaiveDateTime,
    ) -> Result<McpServerRow, StoreError> {
        let headers = if self.headers.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&self.headers)?)
        };
        Ok(McpServerRow {
            id,
            agent_id,
            name: self.name,
            url: self.url,
            headers,
            allowed_tools: self
                .allowed_tools
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
            timeout_ms: to_millis(self.timeout),
            protocol: self.protocol,
            structured_widgets: self.structured_widgets,
            elicitation_timeout_ms: to_millis(self.elicitation_timeout),
            enabled: self.enabled,
            created_at,
            updated_at: now(),
        })
    }
}

/// Now as stored: microseconds, so a returned row equals the row read back.
fn now() -> NaiveDateTime {
    to_db_time(ids::now())
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn to_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The errors a write can meet that are the caller's to fix: a name the agent already uses,
/// or an agent that does not exist.
fn write_error(error: DieselError, name: &str) -> StoreError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict(format!("an MCP server named '{name}'"))
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            StoreError::NotFound("agent")
        }
        other => other.into(),
    }
}

/// Server `id` of agent `agent_id`: what every per-server query starts from, so that an agent
/// never reaches another's servers.
type OwnedServer<'a> = dsl::Filter<
    dsl::Find<agent_mcp_servers::table, &'a str>,
    dsl::Eq<agent_mcp_servers::agent_id, &'a str>,
>;

fn owned<'a>(agent_id: &'a str, id: &'a str) -> OwnedServer<'a> {
    agent_mcp_servers::table
        .find(id)
        .filter(agent_mcp_servers::agent_id.eq(agent_id))
}

/// An agent's servers, oldest first.
pub(super) fn servers_of(
    conn: &mut db::AnyConnection,
    agent_id: &str,
) -> Result<Vec<McpServerRow>, StoreError> {
    Ok(agent_mcp_servers::table
        .filter(agent_mcp_servers::agent_id.eq(agent_id))
        .order((
            agent_mcp_servers::created_at.asc(),
            agent_mcp_servers::id.asc(),
        ))
        .select(McpServerRow::as_select())
        .load(conn)?)
}

impl Store {
    /// An agent's MCP servers, disabled ones included, in the order they were added.
    pub async fn list_mcp_servers(&self, agent_id: &str) -> Result<Vec<McpServerRow>, StoreError> {
        let agent_id = agent_id.to_owned();
        self.with_conn(move |conn| servers_of(conn, &agent_id))
            .await
    }

    /// Adds a server to an agent; `Conflict` when the agent has one of that name, `NotFound`
    /// when there is no such agent.
    pub async fn create_mcp_server(
        &self,
        agent_id: &str,
        fields: McpServerFields,
    ) -> Result<McpServerRow, StoreError> {
        let id = ids::new_id(IdKind::McpServer);
        let row = fields.into_row(id, agent_id.to_owned(), now())?;
        self.with_conn(move |conn| {
            diesel::insert_into(agent_mcp_servers::table)
                .values(&row)
                .execute(conn)
                .map_err(|e| write_error(e, &row.name))?;
            Ok(row)
        })
        .await
    }

    /// Replaces what an operator sets on one of the agent's servers; `NotFound` when the agent
    /// has no such server, `Conflict` when the new name is another server's.
    pub async fn update_mcp_server(
        &self,
        agent_id: &str,
        id: &str,
        fields: McpServerFields,
    ) -> Result<McpServerRow, StoreError> {
        let (agent_id, id) = (agent_id.to_owned(), id.to_owned());
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let old = owned(&agent_id, &id)
                    .select(McpServerRow::as_select())
                    .first(conn)
                    .found("MCP server")?;
                let row = fields.into_row(old.id, old.agent_id, old.created_at)?;
                diesel::update(owned(&agent_id, &id))
                    .set(&row)
                    .execute(conn)
                    .map_err(|e| write_error(e, &row.name))?;
                Ok(row)
            })
        })
        .await
    }

    /// Turns one of the agent's servers on or off without touching its settings; `NotFound`
    /// when the agent has no such server.
    pub async fn set_mcp_server_enabled(
        &self,
        agent_id: &str,
        id: &str,
        enabled: bool,
    ) -> Result<(), StoreError> {
        let (agent_id, id) = (agent_id.to_owned(), id.to_owned());
        self.with_conn(move |conn| {
            let updated = diesel::update(owned(&agent_id, &id))
                .set((
                    agent_mcp_servers::enabled.eq(enabled),
                    agent_mcp_servers::updated_at.eq(now()),
                ))
                .execute(conn)?;
            touched(updated, "MCP server")
        })
        .await
    }

    /// Removes one of the agent's servers; `NotFound` when the agent has no such server.
    pub async fn delete_mcp_server(&self, agent_id: &str, id: &str) -> Result<(), StoreError> {
        let (agent_id, id) = (agent_id.to_owned(), id.to_owned());
        self.with_conn(move |conn| {
            let deleted = diesel::delete(owned(&agent_id, &id)).execute(conn)?;
            touched(deleted, "MCP server")
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use diesel::backend::Backend;
    use diesel::migration::{MigrationConnection, MigrationSource};
    use diesel::sql_types::{Nullable, Text};
    use diesel_migrations::MigrationHarness;

    use super::*;
    use crate::config::McpServerSettings;
    use crate::store::db::{
        AnyConnection, ConnectionManager, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS,
    };
    use crate::store::test_db::each_backend;

    /// The migration that moved the JSON lists into the table.
    const TABLE_MIGRATION: &str = "2026-11-29-000001_agent_mcp_servers_table";

    /// Applies, in order, the migrations of `source` that `keep` selects by name.
    fn apply<DB: Backend>(
        conn: &mut impl MigrationHarness<DB>,
        source: &impl MigrationSource<DB>,
        keep: impl Fn(&str) -> bool,
    ) {
        let mut migrations = source.migrations().unwrap();
        migrations.sort_by_key(|m| m.name().to_string());
        for migration in migrations {
            if keep(&migration.name().to_string()) {
                conn.run_migration(&*migration).unwrap();
            }
        }
    }

    fn migrate_before_table(conn: &mut AnyConnection) {
        let before = |name: &str| name < TABLE_MIGRATION;
        match conn {
            AnyConnection::Sqlite(c) => {
                c.setup().unwrap();
                apply(c, &SQLITE_MIGRATIONS, before);
            }
            AnyConnection::Postgresql(c) => {
                c.setup().unwrap();
                apply(c, &POSTGRES_MIGRATIONS, before);
            }
        }
    }

    /// Reverts migrations, newest first, down to and including the table migration (later
    /// ones, such as the operators', go first).
    fn revert_table_migration(conn: &mut AnyConnection) {
        let wanted = TABLE_MIGRATION.replace('-', "");
        for _ in 0..100 {
            let reverted = match conn {
                AnyConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
                AnyConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
            };
            let version = reverted.unwrap().to_string();
            assert!(
                !version.is_empty() && version.as_str() >= "20261129000001",
                "{version}"
            );
            if wanted.starts_with(&version) {
                return;
            }
        }
        panic!("the table migration was never reverted");
    }

    #[derive(QueryableByName)]
    struct OldColumn {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Nullable<Text>)]
        mcp_servers: Option<String>,
    }

    fn sql(conn: &mut AnyConnection, query: &str) {
        diesel::sql_query(query)
            .execute(conn)
            .unwrap_or_else(|e| panic!("{query}: {e}"));
    }

    /// Agents' JSON lists become rows: what parses moves, what does not is left behind
    /// without failing the migration; and reverting folds the rows back into lists the
    /// server's own setting would accept.
    #[tokio::test]
    async fn the_migration_moves_json_lists_into_rows() {
        for db in each_backend() {
            let mut conn = ConnectionManager::new(&db.url).connect().unwrap();
            migrate_before_table(&mut conn);
            sql(
                &mut conn,
                "INSERT INTO accounts (id, slug, name, created_at) \
                 VALUES ('acc_1', 'acme', 'Acme', '2026-01-01 00:00:00')",
            );
            let lists = [
                (
                    "agt_list",
                    r#"'[{"name": "w", "url": "http://w.test/mcp", "headers": {"Authorization": "Bearer t"},
                         "allowed_tools": ["weather"], "timeout_ms": 5000, "protocol": "legacy",
                         "structured_widgets": true, "enabled": false},
                        {"name": "w", "url": "http://again.test/mcp"},
                        {"name": "v", "url": "http://v.test/mcp", "timeout_ms": "soon"},
                        {"name": "no url"},
                        3]'"#,
                ),
                ("agt_text", "'not json'"),
                (
                    "agt_object",
                    r#"'{"name": "o", "url": "http://o.test/mcp"}'"#,
                ),
                ("agt_none", "NULL"),
            ];
            for (id, list) in lists {
                sql(
                    &mut conn,
                    &format!(
                        "INSERT INTO agents (id, account_id, slug, name, created_at, mcp_servers) \
                         VALUES ('{id}', 'acc_1', '{id}', '{id}', '2026-01-01 00:00:00', {list})"
                    ),
                );
            }
            db::run_migrations(&mut conn).unwrap();

            let store = Store::connect(&db.url, 2).unwrap();
            let rows = store.list_mcp_servers("agt_list").await.unwrap();
            let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, ["w", "v"], "{}", db.url);
            let (w, v) = (&rows[0], &rows[1]);
            assert!(w.id.starts_with("mcp_"));
            assert_eq!(w.url, "http://w.test/mcp");
            assert_eq!(
                w.header_map().unwrap(),
                BTreeMap::from([("Authorization".to_owned(), "Bearer t".to_owned())])
            );
            assert_eq!(
                w.allowed_tool_list().unwrap(),
                Some(vec!["weather".to_owned()])
            );
            assert_eq!(w.timeout(), Duration::from_millis(5000));
            assert_eq!(w.protocol, "legacy");
            assert!(w.structured_widgets && !w.enabled);
            assert_eq!(
                (v.headers.as_deref(), v.allowed_tools.as_deref()),
                (None, None)
            );
            assert_eq!(
                v.timeout(),
                Duration::from_secs(30),
                "a bad timeout takes the default"
            );
            assert_eq!(v.elicitation_timeout(), Duration::from_secs(15 * 60));
            assert_eq!(v.protocol, "auto");
            assert!(!v.structured_widgets && v.enabled);
            for agent in ["agt_text", "agt_object", "agt_none"] {
                assert_eq!(store.list_mcp_servers(agent).await.unwrap(), []);
            }
            assert!(
                diesel::sql_query("SELECT mcp_servers FROM agents")
                    .execute(&mut conn)
                    .is_err(),
                "the old column is gone"
            );

            revert_table_migration(&mut conn);
            let old: Vec<OldColumn> =
                diesel::sql_query("SELECT id, mcp_servers FROM agents ORDER BY id")
                    .load(&mut conn)
                    .unwrap();
            for agent in old {
                let Some(list) = agent.mcp_servers else {
                    assert_ne!(agent.id, "agt_list");
                    continue;
                };
                assert_eq!(agent.id, "agt_list");
                let list: Vec<McpServerSettings> = serde_json::from_str(&list).unwrap();
                assert_eq!(list.len(), 2, "{list:?}");
                assert_eq!((list[0].name.as_str(), list[1].name.as_str()), ("w", "v"));
                let headers: std::collections::BTreeMap<_, _> = list[0]
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                    .collect();
                assert_eq!(headers, w.header_map().unwrap());
                assert_eq!(list[0].allowed_tools, Some(vec!["weather".to_owned()]));
                assert!(list[0].structured_widgets && !list[0].enabled);
                assert_eq!(list[1].timeout, Duration::from_secs(30));
            }
        }
    }

    /// Adding, listing, editing, switching and removing an agent's servers, each scoped to
    /// the agent.
    #[tokio::test]
    async fn servers_are_kept_per_agent() {
        for db in each_backend() {
            let store = Store::connect(&db.url, 2).unwrap();
            let (account, agent) = store.ensure_defaults().await.unwrap();
            let mut fields = McpServerFields::new("weather", "http://w.test/mcp");
            fields.headers.insert("X-Key".into(), "k".into());
            fields.allowed_tools = Some(vec!["weather".into()]);
            let first = store
                .create_mcp_server(&agent.id, fields.clone())
                .await
                .unwrap();
            assert_eq!(first.header_map().unwrap(), fields.headers);
            let second = store
                .create_mcp_server(&agent.id, McpServerFields::new("maps", "http://m.test"))
                .await
                .unwrap();
            assert_eq!(second.headers, None, "no headers are stored as none");
            assert!(matches!(
                store.create_mcp_server(&agent.id, fields.clone()).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                store.create_mcp_server("agt_nobody", fields.clone()).await,
                Err(StoreError::NotFound("agent"))
            ));

            let mut edit = McpServerFields::new("weather", "http://w2.test/mcp");
            edit.protocol = "legacy".into();
            edit.timeout = Duration::from_millis(1500);
            let edited = store
                .update_mcp_server(&agent.id, &first.id, edit.clone())
                .await
                .unwrap();
            assert_eq!(
                (edited.id.as_str(), edited.created_at),
                (first.id.as_str(), first.created_at)
            );
            assert_eq!((edited.headers.as_deref(), edited.timeout_ms), (None, 1500));
            edit.name = "maps".into();
            assert!(matches!(
                store.update_mcp_server(&agent.id, &first.id, edit).await,
                Err(StoreError::Conflict(_))
            ));
            store
                .set_mcp_server_enabled(&agent.id, &second.id, false)
                .await
                .unwrap();

            let listed = store.list_mcp_servers(&agent.id).await.unwrap();
            assert_eq!(listed.len(), 2);
            assert_eq!(listed[0], edited);
            assert!(!listed[1].enabled);
            assert_eq!(listed[1].url, "http://m.test");

            // Another agent of the account sees and touches none of them.
            let other = "agt_other";
            sql(
                &mut ConnectionManager::new(&db.url).connect().unwrap(),
                &format!(
                    "INSERT INTO agents (id, account_id, slug, name, enabled, created_at) \
                     VALUES ('{other}', '{}', 'other', 'Other', TRUE, '2026-01-01 00:00:00')",
                    account.id
                ),
            );
            assert_eq!(store.list_mcp_servers(other).await.unwrap(), []);
            for result in [
                store.set_mcp_server_enabled(other, &first.id, false).await,
                store.delete_mcp_server(other, &first.id).await,
                store
                    .update_mcp_server(other, &first.id, fields.clone())
                    .await
                    .map(drop),
            ] {
                assert!(matches!(result, Err(StoreError::NotFound("MCP server"))));
            }

            store.delete_mcp_server(&agent.id, &first.id).await.unwrap();
            assert!(matches!(
                store.delete_mcp_server(&agent.id, &first.id).await,
                Err(StoreError::NotFound(_))
            ));
            assert_eq!(
                store.list_mcp_servers(&agent.id).await.unwrap(),
                [listed[1].clone()]
            );
        }
    }
}
