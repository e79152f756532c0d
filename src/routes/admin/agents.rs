//! `/admin/agents` (admins only): the list of agents, a new agent's form, and an agent's page
//! (its settings, chat URL and embed snippet, and its MCP servers with a connection test).
//! Every change is a POST with the session's CSRF token; the service checks, seals secrets
//! and audits. A refused form is drawn again with what was typed and the reason.

use crate::routes::admin::session::Chrome;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::render::Flash;
use super::session::{AdminError, Console, render, see_other};
use crate::routes::AppState;
use crate::service::console::agents::{AgentDetail, AgentInput};
use crate::service::console::mcp_servers::{McpServerInput, TestReport};
use crate::store::{AgentOverview, DEFAULT_SLUG, McpServerRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/agents", web::get().to(list))
        .route("/agents", web::post().to(create))
        .route("/agents/new", web::get().to(new_agent))
        .route("/agents/{id}", web::get().to(show))
        .route("/agents/{id}", web::post().to(update))
        .route("/agents/{id}/enable", web::post().to(enable))
        .route("/agents/{id}/disable", web::post().to(disable))
        .route("/agents/{id}/mcp", web::post().to(add_server))
        .route("/agents/{id}/mcp/{server}", web::post().to(update_server))
        .route(
            "/agents/{id}/mcp/{server}/{action}",
            web::post().to(server_action),
        );
}

#[derive(Template)]
#[template(path = "admin/agents.html")]
struct AgentsPage {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    agents: Vec<AgentOverview>,
}

/// One MCP server on the agent page.
struct ServerView {
    id: String,
    name: String,
    url: String,
    enabled: bool,
    /// Names of the stored headers (their values are never shown).
    header_names: Vec<String>,
    allowed_tools: String,
    /// The edit form's values: the stored ones, or what was typed when refused.
    form: McpServerInput,
    /// Why the last edit was refused.
    error: Option<String>,
    test: Option<TestReport>,
}

#[derive(Template)]
#[template(path = "admin/agent.html")]
struct AgentPage {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    /// Empty for a new agent.
    agent_id: String,
    heading: String,
    form: AgentInput,
    /// The field a refused save names ("" when none).
    error_field: &'static str,
    error_message: String,
    key_set: bool,
    can_store_secrets: bool,
    is_default: bool,
    enabled: bool,
    chat_url: String,
    api_url: String,
    embed: String,
    servers: Vec<ServerView>,
    new_server: McpServerInput,
    new_server_error: Option<String>,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

#[derive(Deserialize)]
struct AgentForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    input: AgentInput,
}

#[derive(Deserialize)]
struct ServerForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    input: McpServerInput,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// The fixed notice after a change (a link cannot make the page say anything else).
fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "created" => "Agent created.",
        "saved" => "Agent saved. The next run uses the new settings.",
        "enabled" => "Agent enabled.",
        "disabled" => "Agent disabled: its chat answers that it is disabled.",
        "server_added" => "MCP server added.",
        "server_saved" => "MCP server saved.",
        "server_enabled" => "MCP server enabled.",
        "server_disabled" => "MCP server disabled.",
        "server_deleted" => "MCP server deleted.",
        _ => return None,
    })
}

/// `GET /admin/agents`.
async fn list(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AdminError> {
    console.require_admin()?;
    let agents = state.agents.list(&console.actor()).await?;
    render(&AgentsPage {
        chrome: console.chrome("agents").await,
        flash: query.done.as_deref().and_then(done_message).map(Flash::ok),
        agents,
    })
}

/// `GET /admin/agents/new`.
async fn new_agent(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    console.require_admin()?;
    let page = Draft::new(AgentInput::new_agent());
    page.render(&state, &console, &req, None, StatusCode::OK)
        .await
}

/// `POST /admin/agents`.
async fn create(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    form: web::Form<AgentForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let AgentForm { input, .. } = form.into_inner();
    match state.agents.create(&console.actor(), &input).await {
        Ok(agent) => Ok(see_other(&format!(
            "/admin/agents/{}?done=created",
            agent.id
        ))),
        Err(e) => {
            Draft::new(AgentInput::new_agent())
                .send_back(input, e.into(), &state, &console, &req)
                .await
        }
    }
}

/// `GET /admin/agents/{id}`.
async fn show(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AdminError> {
    console.require_admin()?;
    let detail = state.agents.detail(&console.actor(), &id).await?;
    let flash = query.done.as_deref().and_then(done_message).map(Flash::ok);
    Draft::of(detail)
        .render(&state, &console, &req, flash, StatusCode::OK)
        .await
}

/// `POST /admin/agents/{id}`: saves the settings.
async fn update(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<AgentForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let AgentForm { input, .. } = form.into_inner();
    match state.agents.update(&console.actor(), &id, &input).await {
        Ok(_) => Ok(see_other(&format!("/admin/agents/{id}?done=saved"))),
        Err(e) => {
            Draft::of(state.agents.detail(&console.actor(), &id).await?)
                .send_back(input, e.into(), &state, &console, &req)
                .await
        }
    }
}

async fn enable(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    switch(state, console, req, id.into_inner(), form, true).await
}

async fn disable(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    switch(state, console, req, id.into_inner(), form, false).await
}

/// `POST /admin/agents/{id}/enable|disable`.
async fn switch(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    id: String,
    form: web::Form<CsrfForm>,
    enabled: bool,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    match state
        .agents
        .set_enabled(&console.actor(), &id, enabled)
        .await
    {
        Ok(()) => {
            let done = if enabled { "enabled" } else { "disabled" };
            Ok(see_other(&format!("/admin/agents/{id}?done={done}")))
        }
        Err(e) => {
            let error: AdminError = e.into();
            let mut page = Draft::of(state.agents.detail(&console.actor(), &id).await?);
            let status = page.refused(error)?;
            page.render(&state, &console, &req, None, status).await
        }
    }
}

/// `POST /admin/agents/{id}/mcp`: adds a server.
async fn add_server(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ServerForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let ServerForm { mut input, .. } = form.into_inner();
    match state.agents.add_server(&console.actor(), &id, &input).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/agents/{id}?done=server_added#mcp"
        ))),
        Err(e) => {
            let error = form_error(e.into())?;
            let mut page = Draft::of(state.agents.detail(&console.actor(), &id).await?);
            // Header values are secrets: never sent back, even as typed.
            input.headers.clear();
            page.new_server = input;
            page.new_server_error = Some(error.1);
            page.render(&state, &console, &req, None, error.0).await
        }
    }
}

/// `POST /admin/agents/{id}/mcp/{server}`: saves a server.
async fn update_server(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<ServerForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let (id, server) = path.into_inner();
    let ServerForm { mut input, .. } = form.into_inner();
    let actor = console.actor();
    match state
        .agents
        .update_server(&actor, &id, &server, &input)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/agents/{id}?done=server_saved#server-{server}"
        ))),
        Err(e) => {
            let (status, message) = form_error(e.into())?;
            let mut page = Draft::of(state.agents.detail(&actor, &id).await?);
            if let Some(view) = page.servers.iter_mut().find(|s| s.id == server) {
                input.headers.clear();
                view.form = input;
                view.error = Some(message);
            }
            page.render(&state, &console, &req, None, status).await
        }
    }
}

/// `POST /admin/agents/{id}/mcp/{server}/enable|disable|delete|test`.
async fn server_action(
    state: web::Data<AppState>,
    console: Console,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let (id, server, action) = path.into_inner();
    let actor = console.actor();
    let done = match action.as_str() {
        "enable" => state.agents.set_server_enabled(&actor, &id, &server, true),
        "disable" => state.agents.set_server_enabled(&actor, &id, &server, false),
        "delete" => {
            state.agents.delete_server(&actor, &id, &server).await?;
            return Ok(see_other(&format!(
                "/admin/agents/{id}?done=server_deleted#mcp"
            )));
        }
        "test" => {
            let report = state.agents.test_server(&actor, &id, &server).await?;
            let mut page = Draft::of(state.agents.detail(&actor, &id).await?);
            if let Some(view) = page.servers.iter_mut().find(|s| s.id == server) {
                view.test = Some(report);
            }
            return page
                .render(&state, &console, &req, None, StatusCode::OK)
                .await;
        }
        _ => return Err(AdminError::NotFound("page")),
    };
    done.await?;
    let done = format!("server_{action}d");
    Ok(see_other(&format!(
        "/admin/agents/{id}?done={done}#server-{server}"
    )))
}

/// The status and message of a refused form; other errors are error pages.
fn form_error(error: AdminError) -> Result<(StatusCode, String), AdminError> {
    match &error {
        AdminError::InvalidInput(_, message) | AdminError::Conflict(message) => {
            Ok((error.status_code(), message.clone()))
        }
        _ => Err(error),
    }
}

/// The agent page before drawing: an agent's stored state, or a new agent's form.
struct Draft {
    detail: Option<AgentDetail>,
    form: AgentInput,
    error_field: &'static str,
    error_message: String,
    servers: Vec<ServerView>,
    new_server: McpServerInput,
    new_server_error: Option<String>,
}

impl Draft {
    fn new(form: AgentInput) -> Draft {
        Draft {
            detail: None,
            form,
            error_field: "",
            error_message: String::new(),
            servers: Vec::new(),
            new_server: McpServerInput::new_server(),
            new_server_error: None,
        }
    }

    fn of(detail: AgentDetail) -> Draft {
        let mut draft = Draft::new(AgentInput::of(&detail.agent));
        draft.servers = detail.servers.iter().map(server_view).collect();
        draft.detail = Some(detail);
        draft
    }

    /// Marks the form with a refusal; returns its status (other errors are error pages).
    fn refused(&mut self, error: AdminError) -> Result<StatusCode, AdminError> {
        let status = error.status_code();
        match error {
            AdminError::InvalidInput(field, message) => {
                self.error_field = field;
                self.error_message = message;
            }
            AdminError::Conflict(message) => self.error_message = message,
            other => return Err(other),
        }
        Ok(status)
    }

    /// The page again with the form as the operator sent it and why it was refused (other
    /// errors are error pages). A new key is never sent back, even as typed.
    async fn send_back(
        mut self,
        mut input: AgentInput,
        error: AdminError,
        state: &AppState,
        console: &Console,
        req: &HttpRequest,
    ) -> Result<HttpResponse, AdminError> {
        input.llm_api_key.clear();
        self.form = input;
        let status = self.refused(error)?;
        self.render(state, console, req, None, status).await
    }

    async fn render(
        self,
        state: &AppState,
        console: &Console,
        req: &HttpRequest,
        flash: Option<Flash>,
        status: StatusCode,
    ) -> Result<HttpResponse, AdminError> {
        let base = public_base(state, req);
        let agent = self.detail.as_ref().map(|d| &d.agent);
        let slug = agent.map_or("", |a| a.slug.as_str());
        let chat_url = format!("{base}/agents/{slug}/chat");
        let heading = agent.map_or_else(|| "New agent".to_owned(), |a| a.name.clone());
        let page = AgentPage {
            chrome: console.chrome("agents").await,
            flash: flash.or_else(|| {
                (!self.error_message.is_empty()).then(|| Flash::error(self.error_message.clone()))
            }),
            agent_id: agent.map(|a| a.id.clone()).unwrap_or_default(),
            heading,
            error_field: self.error_field,
            error_message: self.error_message,
            key_set: agent.is_some_and(|a| a.llm_api_key.is_some()),
            can_store_secrets: state.agents.can_store_secrets(),
            is_default: slug == DEFAULT_SLUG,
            enabled: agent.is_none_or(|a| a.enabled),
            embed: format!(
                "<iframe src=\"{chat_url}\" title=\"{}\" width=\"400\" height=\"640\" \
                 style=\"border:0\" allow=\"clipboard-write; microphone\"></iframe>",
                agent.map_or("", |a| a.name.as_str()).replace('"', "&quot;")
            ),
            api_url: format!("{base}/chatkit?agent={slug}"),
            chat_url,
            form: self.form,
            servers: self.servers,
            new_server: self.new_server,
            new_server_error: self.new_server_error,
        };
        let mut response = render(&page)?;
        *response.status_mut() = status;
        Ok(response)
    }
}

fn server_view(row: &McpServerRow) -> ServerView {
    let header_names: Vec<String> = row.header_map().unwrap_or_default().into_keys().collect();
    let allowed_tools = row
        .allowed_tool_list()
        .ok()
        .flatten()
        .map(|l| l.join(", "))
        .unwrap_or_default();
    ServerView {
        id: row.id.clone(),
        name: row.name.clone(),
        url: row.url.clone(),
        enabled: row.enabled,
        form: McpServerInput {
            name: row.name.clone(),
            url: row.url.clone(),
            headers: String::new(),
            clear_headers: None,
            allowed_tools: allowed_tools.clone(),
            timeout_secs: (row.timeout_ms / 1000).max(1).to_string(),
            protocol: row.protocol.clone(),
            enabled: row.enabled.then(|| "on".to_owned()),
        },
        header_names,
        allowed_tools,
        error: None,
        test: None,
    }
}

/// Where users reach the server: `CHATKIT_PUBLIC_URL`, or the address this page was asked at.
fn public_base(state: &AppState, req: &HttpRequest) -> String {
    match &state.settings.http.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}
