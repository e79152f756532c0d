//! Builds the application from [`Settings`]: database, services, and the bound HTTP server.
//! Binding happens here (port 0 allowed), so tests learn the real port before serving.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::agent::llm::{ChatCompletions, LlmError, ToolSpec};
use crate::agent::mcp::McpServer;
use crate::agent::tools::{CurrentTime, HumanInput, Tool, ToolRegistry};
use crate::agent::{Agent, AgentSettings};
use crate::auth::Authenticator;
use crate::chatkit::server::ChatKitServer;
use crate::config::Settings;
use crate::routes::{self, AppState};
use crate::runs::RunManager;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot set up the model client: {0}")]
    Llm(#[from] LlmError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// A server that is bound but not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    chatkit: ChatKitServer,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let store = open_store(&settings).await?;
        let (account, agent) = store.ensure_defaults().await?;
        let auth = Authenticator::new(settings.auth.clone(), store.clone(), account, agent);
        let runs = RunManager::new(
            store.clone(),
            Arc::new(build_agent(&settings)?),
            settings.human_input_timeout,
        );
        let chatkit = ChatKitServer::new(store.clone(), auth.clone(), runs);
        let service = chatkit.clone();

        let listener = TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind,
            source,
        })?;
        let addr = settings.bind;
        let bind_error = |source| StartupError::Bind { addr, source };
        let port = listener.local_addr().map_err(bind_error)?.port();
        let static_dir = settings.static_dir.clone();
        let state = web::Data::new(AppState {
            settings,
            store,
            auth,
            chatkit,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(|cfg| routes::configure(cfg, &static_dir))
        })
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Application {
            port,
            server,
            chatkit: service,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The ChatKit service, for callers inside the process (the admin console, tests).
    pub fn chatkit(&self) -> ChatKitServer {
        self.chatkit.clone()
    }

    /// A handle that stops the HTTP server.
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The default agent: the configured model (if any), the built-in tools and the client tools.
fn build_agent(settings: &Settings) -> Result<Agent, StartupError> {
    let Some(llm) = &settings.llm else {
        return Ok(Agent::default());
    };
    let provider = ChatCompletions::new(
        &llm.base_url,
        llm.api_key.clone(),
        llm.connect_timeout,
        llm.idle_timeout,
    )?;
    let client_tools = settings
        .client_tools
        .iter()
        .map(|t| ToolSpec {
            name: t.name.clone(),
            description: t.description.clone(),
            parameters: t.parameters.clone(),
        })
        .collect();
    let mut server_tools: Vec<Arc<dyn Tool>> = vec![Arc::new(CurrentTime::default())];
    if settings.human_input {
        server_tools.push(Arc::new(HumanInput::default()));
    }
    let tools = ToolRegistry::new(server_tools, client_tools);
    let agent_settings = AgentSettings {
        model: llm.model.clone(),
        allowed_models: llm.allowed_models.clone(),
        instructions: llm.instructions.clone(),
        max_steps: llm.max_steps,
        max_retries: llm.max_retries,
        retry_backoff: llm.retry_backoff,
        auto_titles: llm.auto_titles,
        approval_tools: settings.approval_tools.clone(),
    };
    let mcp = settings
        .mcp_servers
        .iter()
        .cloned()
        .map(|s| Arc::new(McpServer::new(s)))
        .collect();
    Ok(Agent::new(Arc::new(provider), agent_settings, tools, mcp))
}

/// Opens the database and applies migrations, off the async executor.
pub async fn open_store(settings: &Settings) -> Result<Store, StoreError> {
    let (url, max) = (
        settings.database_url.clone(),
        settings.database_max_connections,
    );
    tokio::task::spawn_blocking(move || Store::connect(&url, max)).await?
}
