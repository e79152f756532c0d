//! Agents as operators edit them: create, change, switch on and off, and move them in and out
//! of the server as a file. Secret columns (the API key, MCP header values) only ever arrive
//! here sealed by the caller; the one exception is [`Store::seal_plain_secrets`], which reads
//! values stored before sealing existed and writes back what its caller sealed.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::{accounts, agent_changes, agent_mcp_servers, agents};
use super::{
    AccountRow, AgentRow, Found, McpServerFields, McpServerRow, Store, StoreError, db, touched,
};
use crate::chatkit::ids::{self, IdKind};

/// An agent's row and MCP server rows, with the count of agent changes read before them
/// (`None` when the count's row is gone: nothing built from them is then kept).
#[derive(Debug, Clone)]
pub struct AgentRows {
    pub changes: Option<AgentChanges>,
    pub row: AgentRow,
    pub servers: Vec<McpServerRow>,
}

/// How many changes agents and their MCP servers have seen, counted by triggers in the
/// database (so changes from other processes and tools count too). While it stands, what was
/// built from an agent's rows may be used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentChanges(pub i64);

/// The count of agent changes, as of the connection's current transaction; `None` when its
/// row is gone (deleted by hand), which must not fail a turn.
pub(super) fn agent_changes(
    conn: &mut db::AnyConnection,
) -> Result<Option<AgentChanges>, StoreError> {
    Ok(agent_changes::table
        .select(agent_changes::n)
        .first::<i64>(conn)
        .optional()?
        .map(AgentChanges))
}

/// What happens to a stored secret on a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    /// The stored value stays (the form's "replace" field was left empty).
    Keep,
    /// The value is removed.
    Clear,
    /// The new value, already sealed.
    Set(String),
}

/// What an operator sets on an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFields {
    pub slug: String,
    pub name: String,
    pub model: Option<String>,
    pub models: Option<Vec<String>>,
    pub instructions: Option<String>,
    pub temperature: Option<f64>,
    pub llm_base_url: Option<String>,
    pub llm_api_key: SecretChange,
    /// Client tool specs as JSON objects.
    pub client_tools: Option<Vec<serde_json::Value>>,
    pub approval_tools: Option<Vec<String>>,
    pub human_input: Option<bool>,
    pub form_timeout_secs: Option<i64>,
    /// The agent's own webhook for human input, already checked.
    pub human_webhook_url: Option<String>,
    /// The agent's own limits as a JSON object, already checked.
    pub limits: Option<String>,
    pub enabled: bool,
}

/// An agent in the console's list: its account's slug and how many MCP servers it has.
#[derive(Debug, Clone)]
pub struct AgentOverview {
    pub agent: AgentRow,
    pub account_slug: String,
    pub mcp_servers: i64,
}

/// One agent of an import file, with its servers.
#[derive(Debug, Clone)]
pub struct AgentImport {
    /// The slug of the agent's account (created when missing).
    pub account: String,
    pub fields: AgentFields,
    pub mcp_servers: Vec<McpServerImport>,
}

/// One MCP server of an import file: its fields (header values sealed), and the names of the
/// headers whose stored value is kept (the file names them without a value).
#[derive(Debug, Clone)]
pub struct McpServerImport {
    pub fields: McpServerFields,
    pub keep_headers: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub agents_created: usize,
    pub agents_updated: usize,
    pub servers_created: usize,
    pub servers_updated: usize,
    /// `agent/server: header` of headers named without a value and with none stored: left out.
    pub headers_missing: Vec<String>,
}

fn json_list<T: serde::Serialize>(list: &Option<Vec<T>>) -> Result<Option<String>, StoreError> {
    Ok(list.as_ref().map(serde_json::to_string).transpose()?)
}

fn now() -> NaiveDateTime {
    super::to_db_time(ids::now())
}

/// `Conflict` for a slug the account already uses.
fn slug_error(error: DieselError, slug: &str) -> StoreError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict(format!("an agent with the slug '{slug}'"))
        }
        other => other.into(),
    }
}

impl AgentFields {
    /// `row` with these fields, the key as `llm_api_key` says.
    fn apply(self, mut row: AgentRow) -> Result<AgentRow, StoreError> {
        row.models = json_list(&self.models)?;
        row.client_tools = json_list(&self.client_tools)?;
        row.approval_tools = json_list(&self.approval_tools)?;
        row.slug = self.slug;
        row.name = self.name;
        row.model = self.model;
        row.instructions = self.instructions;
        row.temperature = self.temperature;
        row.llm_base_url = self.llm_base_url;
        match self.llm_api_key {
            SecretChange::Keep => {}
            SecretChange::Clear => row.llm_api_key = None,
            SecretChange::Set(sealed) => row.llm_api_key = Some(sealed),
        }
        row.human_input = self.human_input;
        row.form_timeout_secs = self.form_timeout_secs;
        row.human_webhook_url = self.human_webhook_url;
        row.limits = self.limits;
        row.enabled = self.enabled;
        row.updated_at = now();
        Ok(row)
    }
}

fn blank_agent(account_id: &str) -> AgentRow {
    let now = now();
    AgentRow {
        id: ids::new_id(IdKind::Agent),
        account_id: account_id.to_owned(),
        slug: String::new(),
        name: String::new(),
        model: None,
        instructions: None,
        enabled: true,
        created_at: now,
        llm_base_url: None,
        llm_api_key: None,
        models: None,
        temperature: None,
        client_tools: None,
        approval_tools: None,
        human_input: None,
        form_timeout_secs: None,
        updated_at: now,
        human_webhook_url: None,
        limits: None,
    }
}

fn save(conn: &mut db::AnyConnection, row: &AgentRow) -> Result<(), StoreError> {
    diesel::update(agents::table.find(&row.id))
        .set((
            agents::slug.eq(&row.slug),
            agents::name.eq(&row.name),
            agents::model.eq(&row.model),
            agents::instructions.eq(&row.instructions),
            agents::enabled.eq(row.enabled),
            agents::llm_base_url.eq(&row.llm_base_url),
            agents::llm_api_key.eq(&row.llm_api_key),
            agents::models.eq(&row.models),
            agents::temperature.eq(row.temperature),
            agents::client_tools.eq(&row.client_tools),
            agents::approval_tools.eq(&row.approval_tools),
            agents::human_input.eq(row.human_input),
            agents::form_timeout_secs.eq(row.form_timeout_secs),
            agents::human_webhook_url.eq(&row.human_webhook_url),
            agents::limits.eq(&row.limits),
            agents::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map_err(|e| slug_error(e, &row.slug))?;
    Ok(())
}

fn insert(conn: &mut db::AnyConnection, row: &AgentRow) -> Result<(), StoreError> {
    diesel::insert_into(agents::table)
        .values(row)
        .execute(conn)
        .map_err(|e| slug_error(e, &row.slug))?;
    Ok(())
}

fn agent_by_id(conn: &mut db::AnyConnection, id: &str) -> Result<AgentRow, StoreError> {
    agents::table
        .find(id)
        .select(AgentRow::as_select())
        .first(conn)
        .found("agent")
}

impl Store {
    /// Agent `id` of any account, enabled or not.
    pub async fn agent_by_id(&self, id: &str) -> Result<AgentRow, StoreError> {
        let id = id.to_owned();
        self.read_conn(move |conn| agent_by_id(conn, &id)).await
    }

    /// Agent `id` as it is now, with its MCP server rows: what a run starts from, in one trip.
    pub async fn agent_rows(&self, id: &str) -> Result<AgentRows, StoreError> {
        let id = id.to_owned();
        self.read_conn(move |conn| {
            // The count first: rows read after it are at least as new as it says.
            let changes = agent_changes(conn)?;
            Ok(AgentRows {
                changes,
                row: agent_by_id(conn, &id)?,
                servers: super::mcp_servers::servers_of(conn, &id)?,
            })
        })
        .await
    }

    /// Every agent, by name, with its account's slug and its number of MCP servers.
    pub async fn agents_overview(&self) -> Result<Vec<AgentOverview>, StoreError> {
        self.with_conn(|conn| {
            let rows: Vec<(AgentRow, String)> = agents::table
                .inner_join(accounts::table)
                .order((agents::name.asc(), agents::slug.asc(), agents::id.asc()))
                .select((AgentRow::as_select(), accounts::slug))
                .load(conn)?;
            let counts: BTreeMap<String, i64> = agent_mcp_servers::table
                .group_by(agent_mcp_servers::agent_id)
                .select((agent_mcp_servers::agent_id, count_star()))
                .load::<(String, i64)>(conn)?
                .into_iter()
                .collect();
            Ok(rows
                .into_iter()
                .map(|(agent, account_slug)| AgentOverview {
                    mcp_servers: counts.get(&agent.id).copied().unwrap_or(0),
                    agent,
                    account_slug,
                })
                .collect())
        })
        .await
    }

    /// Adds an agent to an account; `Conflict` when the account has one with that slug.
    pub async fn create_agent(
        &self,
        account_id: &str,
        fields: AgentFields,
    ) -> Result<AgentRow, StoreError> {
        let row = fields.apply(blank_agent(account_id))?;
        self.with_conn(move |conn| {
            insert(conn, &row)?;
            Ok(row)
        })
        .await
    }

    /// Replaces what an operator sets on agent `id`; returns the row before and after.
    pub async fn update_agent(
        &self,
        id: &str,
        fields: AgentFields,
    ) -> Result<(AgentRow, AgentRow), StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let before = agent_by_id(conn, &id)?;
                let after = fields.apply(before.clone())?;
                save(conn, &after)?;
                Ok((before, after))
            })
        })
        .await
    }

    /// Switches agent `id` on or off; `NotFound` when there is none.
    pub async fn set_agent_enabled(&self, id: &str, enabled: bool) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let updated = diesel::update(agents::table.find(&id))
                .set((agents::enabled.eq(enabled), agents::updated_at.eq(now())))
                .execute(conn)?;
            touched(updated, "agent")
        })
        .await
    }

    /// One of an agent's MCP servers.
    pub async fn mcp_server(&self, agent_id: &str, id: &str) -> Result<McpServerRow, StoreError> {
        let (agent_id, id) = (agent_id.to_owned(), id.to_owned());
        self.with_conn(move |conn| {
            agent_mcp_servers::table
                .find(&id)
                .filter(agent_mcp_servers::agent_id.eq(&agent_id))
                .select(McpServerRow::as_select())
                .first(conn)
                .found("MCP server")
        })
        .await
    }

    /// Every agent with its account's slug and its MCP servers, for an export.
    pub async fn export_agents(
        &self,
    ) -> Result<Vec<(String, AgentRow, Vec<McpServerRow>)>, StoreError> {
        self.with_conn(|conn| {
            let rows: Vec<(AgentRow, String)> = agents::table
                .inner_join(accounts::table)
                .order((accounts::slug.asc(), agents::slug.asc()))
                .select((AgentRow::as_select(), accounts::slug))
                .load(conn)?;
            let mut servers: BTreeMap<String, Vec<McpServerRow>> = BTreeMap::new();
            for server in agent_mcp_servers::table
                .order((
                    agent_mcp_servers::created_at.asc(),
                    agent_mcp_servers::id.asc(),
                ))
                .select(McpServerRow::as_select())
                .load(conn)?
            {
                servers
                    .entry(server.agent_id.clone())
                    .or_default()
                    .push(server);
            }
            Ok(rows
                .into_iter()
                .map(|(agent, account)| {
                    let own = servers.remove(&agent.id).unwrap_or_default();
                    (account, agent, own)
                })
                .collect())
        })
        .await
    }

    /// Writes the agents of an import file in one transaction: each agent is matched by its
    /// account and slug (created or updated), each of its servers by name. Any failure leaves
    /// the database as it was.
    pub async fn import_agents(
        &self,
        agents_in: Vec<AgentImport>,
    ) -> Result<ImportSummary, StoreError> {
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let mut summary = ImportSummary::default();
                for import in agents_in {
                    import_one(conn, import, &mut summary)?;
                }
                Ok(summary)
            })
        })
        .await
    }

    /// Seals the secrets stored before a key was configured (an agent's API key, MCP header
    /// values), in one transaction; returns how many values were sealed.
    pub async fn seal_plain_secrets<F>(&self, seal: F) -> Result<usize, StoreError>
    where
        F: Fn(&str) -> Result<String, String> + Send + 'static,
    {
        self.with_conn(move |conn| {
            // SQLite keeps an updated row's old bytes in the page's free space and in the
            // write-ahead log; secure_delete zeroes the first, a truncating checkpoint the
            // second, so the plain values are gone from the files too.
            let sqlite = matches!(conn, db::AnyConnection::Sqlite(_));
            if sqlite {
                diesel::sql_query("PRAGMA secure_delete = ON").execute(conn)?;
            }
            let sealed = db::write_transaction(conn, |conn| {
                let seal = |plain: &str| seal(plain).map_err(StoreError::Seal);
                let mut sealed = 0;
                let keys: Vec<(String, String)> = agents::table
                    .filter(agents::llm_api_key.is_not_null())
                    .filter(agents::llm_api_key.not_like(format!("{SEALED}%")))
                    .select((agents::id, agents::llm_api_key.assume_not_null()))
                    .load(conn)?;
                for (id, plain) in keys {
                    diesel::update(agents::table.find(&id))
                        .set(agents::llm_api_key.eq(seal(&plain)?))
                        .execute(conn)?;
                    sealed += 1;
                }
                let servers: Vec<McpServerRow> = agent_mcp_servers::table
                    .filter(agent_mcp_servers::headers.is_not_null())
                    .select(McpServerRow::as_select())
                    .load(conn)?;
                for server in servers {
                    let mut headers = server.header_map()?;
                    let mut changed = false;
                    for value in headers.values_mut() {
                        if !value.starts_with(SEALED) {
                            *value = seal(value)?;
                            changed = true;
                            sealed += 1;
                        }
                    }
                    if changed {
                        diesel::update(agent_mcp_servers::table.find(&server.id))
                            .set(agent_mcp_servers::headers.eq(serde_json::to_string(&headers)?))
                            .execute(conn)?;
                    }
                }
                Ok(sealed)
            });
            if sqlite {
                diesel::sql_query("PRAGMA secure_delete = OFF").execute(conn)?;
                if matches!(sealed, Ok(n) if n > 0) {
                    diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").execute(conn)?;
                }
            }
            sealed
        })
        .await
    }
}

/// The prefix of a sealed value (see `config::sealed`).
const SEALED: &str = crate::config::sealed::SEALED_PREFIX;

fn import_one(
    conn: &mut db::AnyConnection,
    import: AgentImport,
    summary: &mut ImportSummary,
) -> Result<(), StoreError> {
    let account = match accounts::table
        .filter(accounts::slug.eq(&import.account))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
    {
        Some(account) => account,
        None => {
            let account = AccountRow {
                id: ids::new_id(IdKind::Account),
                slug: import.account.clone(),
                name: import.account.clone(),
                created_at: Utc::now().naive_utc(),
            };
            diesel::insert_into(accounts::table)
                .values(&account)
                .execute(conn)?;
            account
        }
    };
    let existing = agents::table
        .filter(agents::account_id.eq(&account.id))
        .filter(agents::slug.eq(&import.fields.slug))
        .select(AgentRow::as_select())
        .first(conn)
        .optional()?;
    let agent = match existing {
        Some(row) => {
            let row = import.fields.apply(row)?;
            save(conn, &row)?;
            summary.agents_updated += 1;
            row
        }
        None => {
            let row = import.fields.apply(blank_agent(&account.id))?;
            insert(conn, &row)?;
            summary.agents_created += 1;
            row
        }
    };
    for server in import.mcp_servers {
        import_server(conn, &agent, server, summary)?;
    }
    Ok(())
}

fn import_server(
    conn: &mut db::AnyConnection,
    agent: &AgentRow,
    server: McpServerImport,
    summary: &mut ImportSummary,
) -> Result<(), StoreError> {
    let McpServerImport {
        mut fields,
        keep_headers,
    } = server;
    let existing = agent_mcp_servers::table
        .filter(agent_mcp_servers::agent_id.eq(&agent.id))
        .filter(agent_mcp_servers::name.eq(&fields.name))
        .select(McpServerRow::as_select())
        .first(conn)
        .optional()?;
    let stored = match &existing {
        Some(row) => row.header_map()?,
        None => BTreeMap::new(),
    };
    for name in keep_headers {
        match stored.get(&name) {
            Some(value) => {
                fields.headers.insert(name, value.clone());
            }
            None => summary
                .headers_missing
                .push(format!("{}/{}: {name}", agent.slug, fields.name)),
        }
    }
    let (id, created_at) = match &existing {
        Some(row) => (row.id.clone(), row.created_at),
        None => (ids::new_id(IdKind::McpServer), now()),
    };
    let row = fields.into_row(id, agent.id.clone(), created_at)?;
    if existing.is_some() {
        diesel::update(agent_mcp_servers::table.find(&row.id))
            .set(&row)
            .execute(conn)?;
        summary.servers_updated += 1;
    } else {
        diesel::insert_into(agent_mcp_servers::table)
            .values(&row)
            .execute(conn)?;
        summary.servers_created += 1;
    }
    Ok(())
}
