//! Accounts (tenants) and their agents. An agent's own MCP servers are in `mcp_servers`.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{accounts, agents};
use super::{Found, Store, StoreError, db};
use crate::chatkit::ids;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agents)]
pub struct AgentRow {
    pub id: String,
    pub account_id: String,
    pub slug: String,
    pub name: String,
    /// Model override; `None` means the server's default model.
    pub model: Option<String>,
    /// Instructions override; `None` means the server's default instructions.
    pub instructions: Option<String>,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
    /// The agent's own OpenAI-compatible endpoint; `None` means the server's.
    pub llm_base_url: Option<String>,
    /// The key for the agent's own endpoint, sealed (`v1:...`) once `CHATKIT_SECRET_KEY` is
    /// set; `None` means the server's.
    pub llm_api_key: Option<String>,
    /// JSON list of the models a client may pick; `None` means the server's list.
    pub models: Option<String>,
    /// Sampling temperature; `None` leaves it to the model.
    pub temperature: Option<f64>,
    /// JSON list of client tool specs (`{name, description, parameters}`); `None` means the
    /// server's.
    pub client_tools: Option<String>,
    /// JSON list of tool names that wait for approval; `None` means the server's.
    pub approval_tools: Option<String>,
    /// Whether the built-in human-input tools are offered; `None` means the server's setting.
    pub human_input: Option<bool>,
    /// How long a form stays answerable; `None` means the server's setting.
    pub form_timeout_secs: Option<i64>,
    pub updated_at: NaiveDateTime,
    /// Where this agent's human-input webhooks go, instead of `CHATKIT_HUMAN_WEBHOOK_URL`.
    pub human_webhook_url: Option<String>,
    /// JSON object of the agent's own limits (`config::LimitOverrides`); `None`: the server's.
    pub limits: Option<String>,
}

/// Slug of the account and of the agent created on first start.
pub const DEFAULT_SLUG: &str = "default";

impl Store {
    /// Creates the default account and its default agent unless they exist, and returns them.
    /// Safe to run on every start and from several processes at once.
    pub async fn ensure_defaults(&self) -> Result<(AccountRow, AgentRow), StoreError> {
        self.with_conn(|conn| {
            db::write_transaction(conn, |conn| {
                let now = Utc::now().naive_utc();
                let account = match accounts::table
                    .filter(accounts::slug.eq(DEFAULT_SLUG))
                    .select(AccountRow::as_select())
                    .first(conn)
                    .optional()?
                {
                    Some(account) => account,
                    None => {
                        let account = AccountRow {
                            id: ids::new_id(ids::IdKind::Account),
                            slug: DEFAULT_SLUG.into(),
                            name: "Default account".into(),
                            created_at: now,
                        };
                        diesel::insert_into(accounts::table)
                            .values(&account)
                            .execute(conn)?;
                        account
                    }
                };
                let agent = match agents::table
                    .filter(agents::account_id.eq(&account.id))
                    .filter(agents::slug.eq(DEFAULT_SLUG))
                    .select(AgentRow::as_select())
                    .first(conn)
                    .optional()?
                {
                    Some(agent) => agent,
                    None => {
                        let agent = AgentRow {
                            id: ids::new_id(ids::IdKind::Agent),
                            account_id: account.id.clone(),
                            slug: DEFAULT_SLUG.into(),
                            name: "Assistant".into(),
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
                        };
                        diesel::insert_into(agents::table)
                            .values(&agent)
                            .execute(conn)?;
                        agent
                    }
                };
                Ok((account, agent))
            })
        })
        .await
    }

    /// The agent `slug` of an account, enabled or not (the caller says which it serves).
    pub async fn find_agent(&self, account_id: &str, slug: &str) -> Result<AgentRow, StoreError> {
        let (account_id, slug) = (account_id.to_owned(), slug.to_owned());
        self.read_conn(move |conn| {
            agents::table
                .filter(agents::account_id.eq(&account_id))
                .filter(agents::slug.eq(&slug))
                .select(AgentRow::as_select())
                .first(conn)
                .found("agent")
        })
        .await
    }
}

impl Store {
    /// The account whose id or slug is `key`: tokens and proxies may name a tenant either way.
    pub async fn find_account(&self, key: &str) -> Result<AccountRow, StoreError> {
        let key = key.to_owned();
        self.read_conn(move |conn| {
            accounts::table
                .filter(accounts::id.eq(&key).or(accounts::slug.eq(&key)))
                .order(accounts::created_at)
                .select(AccountRow::as_select())
                .first(conn)
                .found("account")
        })
        .await
    }
}
