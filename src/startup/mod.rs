//! Builds the application from [`Settings`]: database, services, and the bound HTTP server.
//! Binding happens here (port 0 allowed), so tests learn the real port before serving.
//! `first_run` chooses the model when none is configured; `agents_cli` is the `agents`
//! subcommand; `shutdown` stops the server on SIGTERM or SIGINT without cutting streams short;
//! `open_files`, `backlog` and `memory` fit the serving process for thousands of streams.

mod agents_cli;
mod backlog;
mod first_run;
mod memory;
mod open_files;
mod shutdown;

pub use agents_cli::agents_command;
pub use first_run::ModelChoice;
pub use memory::{spawn_trimmer as spawn_memory_trimmer, use_small_pages};
pub use open_files::raise_and_report as raise_open_file_limit;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::agent::demo::{DEMO_MODEL, DemoModel, DemoWidget};
use crate::agent::llm::transcribe::TranscribeError;
use crate::agent::llm::{Endpoints, LlmError, ToolSpec};
use crate::agent::mcp::{McpServer, ParkedCalls, http_client as mcp_http_client};
use crate::agent::tools::{AskHuman, CurrentTime, Tool, ToolRegistry};
use crate::agent::{Agent, AgentSettings};
use crate::auth::operators::{LoginCsrf, LoginLimiter, LoginLimits};
use crate::auth::signed::UrlSigner;
use crate::auth::{AuthSetupError, Authenticator};
use crate::config::{Sealer, Settings};
use crate::routes::{self, AppState};
use crate::runs::RunManager;
use crate::service::attachments::AttachmentService;
use crate::service::chatkit::ChatKitService;
use crate::service::console::{
    AgentConsole, AttachmentBrowser, AuditService, ConsoleError, FeedbackReview, FormQueue,
    OperatorService, SessionPolicy, ThreadConsoleService, UsageService, WebhookLog,
};
use crate::service::dictation::Dictation;
use crate::service::human::HumanService;
use crate::service::limits::Limiter;
use crate::service::metrics::MetricsService;
use crate::service::webhooks::{RunningWorker, WebhookWorker};
use crate::store::{Backend, BlobStore, DbFault, Outbox, SEARCH_INDEX_EVERY, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The database answers but refuses writes: serving would fail every change.
    #[error("the database cannot be written: {}: {source}", .fault.describe())]
    NotWritable { fault: DbFault, source: StoreError },
    #[error("cannot set up the model client: {0}")]
    Llm(#[from] LlmError),
    #[error("cannot set up the transcription client: {0:?}")]
    Transcribe(#[from] TranscribeError),
    #[error("cannot use the attachment storage {location}: {source}")]
    Storage {
        location: String,
        source: crate::store::BlobError,
    },
    #[error("cannot set up authentication: {0}")]
    Auth(#[from] AuthSetupError),
    #[error("cannot create the first admin (CHATKIT_ADMIN_EMAIL): {0}")]
    FirstAdmin(ConsoleError),
    /// Agents have webhook URLs but there is no key to sign their deliveries with.
    #[error("CHATKIT_SECRET_KEY: must be set to sign webhooks (agents with a webhook URL: {0})")]
    WebhookKey(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// How long a connection being closed may take to receive the rest of our answer.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A server that is bound but not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    human: HumanService,
    /// The webhook worker, when webhooks are on; it stops with the server.
    worker: Option<RunningWorker>,
    /// The runs, which a shutdown lets finish (then interrupts).
    runs: RunManager,
    /// How long a shutdown lets streams run (`CHATKIT_SHUTDOWN_GRACE_SECS`).
    shutdown_grace: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let listener =
            TcpListener::bind(settings.http.bind).map_err(|source| StartupError::Bind {
                addr: settings.http.bind,
                source,
            })?;
        backlog::widen(&listener);
        let addr = settings.http.bind;
        let bind_error = |source| StartupError::Bind { addr, source };
        let port = listener.local_addr().map_err(bind_error)?.port();
        let public_url = public_url(&settings, port);

        let store = with_outbox(
            open_writable_store(&settings).await?,
            &settings,
            &public_url,
        )
        .await?;
        seal_plain_secrets(&settings, &store).await?;
        let (account, agent) = store.ensure_defaults().await?;
        let auth = Authenticator::new(&settings.auth.mode, store.clone(), account, agent).await?;

        let model = first_run::choose_model(&settings, port).await;
        log::info!(
            "model: {}; chat: {public_url}/; admin: {public_url}/admin",
            model.describe()
        );
        let limits = limiter(&settings, &store);
        let attachments = attachment_service(&settings, &store, &auth, public_url, &limits)?;
        let parked = ParkedCalls::default();
        let runs = RunManager::new(
            store.clone(),
            attachments.blobs().clone(),
            Arc::new(build_agent(&settings, &model, &parked)?),
            settings.tools.human_input_timeout,
            Sealer::from_setting(settings.auth.secret_key.as_ref()),
            parked,
        );
        runs.recover(&settings.runs).await;
        let shutdown_grace = settings.runs.shutdown_grace;
        let human = HumanService::new(store.clone(), runs.clone());
        let worker = settings.auth.secret_key.as_ref().and_then(|key| {
            let key = key.expose().as_bytes().to_vec();
            WebhookWorker::new(store.clone(), human.clone(), key, settings.webhooks.clone())
        });
        let chatkit = ChatKitService::new(
            store.clone(),
            auth.clone(),
            runs.clone(),
            attachments.clone(),
            human.clone(),
            limits,
        );
        spawn_sweep(attachments.clone(), settings.attachments.sweep_interval);
        spawn_search_indexing(store.clone());
        let dictation = Dictation::new(settings.transcribe.as_ref())?;
        let chatkit = chatkit
            .with_dictation(dictation, settings.http.max_request_bytes)
            .with_read_cache(settings.database.read_cache_bytes);
        let (operators, audit) = console_services(&settings, &store).await?;
        let login_csrf = LoginCsrf::new(signing_key(&settings));
        let attachment_browser =
            AttachmentBrowser::new(store.clone(), attachments.clone(), audit.clone());
        let feedback = FeedbackReview::new(store.clone());
        let threads = ThreadConsoleService::new(
            store.clone(),
            attachments.clone(),
            audit.clone(),
            runs.clone(),
        );
        let usage = UsageService::new(store.clone(), audit.clone());
        let forms = FormQueue::new(store.clone(), human.clone(), threads.clone(), audit.clone());
        let webhooks = WebhookLog::new(store.clone(), audit.clone());
        let agents = AgentConsole::new(
            store.clone(),
            audit.clone(),
            Sealer::from_setting(settings.auth.secret_key.as_ref()),
        );

        let metrics = MetricsService::new(store.clone(), settings.observe.metrics_token.clone());
        let static_dir = settings.http.static_dir.clone();
        let (header_timeout, keep_alive) = (settings.http.header_timeout, settings.http.keep_alive);
        let allowed_origins = settings.http.allowed_origins.clone();
        let state = web::Data::new(AppState {
            settings,
            store,
            auth,
            chatkit,
            attachments,
            operators,
            audit,
            attachment_browser,
            feedback,
            usage,
            threads,
            forms,
            webhooks,
            agents,
            login_csrf,
            metrics,
        });
        let server = HttpServer::new(move || {
            memory::collect_on_this_thread();
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    routes::body_deadline::body_deadline,
                ))
                .wrap(actix_web::middleware::from_fn(
                    routes::access_log::log_request,
                ))
                .app_data(state.clone())
                .configure(|cfg| routes::configure(cfg, &static_dir, &allowed_origins))
        })
        // SSE frames are small writes spaced by the run's pace: with Nagle's algorithm a frame
        // waits for the ACK of the previous one, which the client delays by up to 40 ms.
        .tcp_nodelay(true)
        // Connections that send nothing useful are closed: a request head must arrive within
        // its timeout, an idle connection is kept for the next request only so long, and a
        // closing one gets a moment to take our last bytes. (Bodies: `body_deadline`.)
        .client_request_timeout(header_timeout)
        .keep_alive(keep_alive)
        .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
        // Signals are ours (see `shutdown`): streams get their grace, then a clean end, and
        // only then may the server close what is left.
        .disable_signals()
        .shutdown_timeout(shutdown::server_timeout(shutdown_grace))
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Application {
            port,
            server,
            human,
            worker: worker.map(WebhookWorker::spawn),
            runs,
            shutdown_grace,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The human-interaction service, for callers inside the process (tests answering as an
    /// operator).
    pub fn human(&self) -> HumanService {
        self.human.clone()
    }

    /// A handle that stops the HTTP server.
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(worker) = self.worker {
            worker.stop().await;
        }
        served
    }
}

/// The console's services, and the first admin from the environment when there is no
/// operator yet.
pub async fn console_services(
    settings: &Settings,
    store: &Store,
) -> Result<(OperatorService, AuditService), StartupError> {
    let audit = AuditService::new(store.clone());
    let operators = OperatorService::new(
        store.clone(),
        audit.clone(),
        LoginLimiter::new(LoginLimits::default()),
        SessionPolicy {
            idle: settings.console.session_idle,
            max: settings.console.session_max,
        },
    );
    if let Some((email, password)) = &settings.console.first_admin
        && let Some(admin) = operators
            .ensure_first_admin(email, password.expose())
            .await
            .map_err(StartupError::FirstAdmin)?
    {
        log::info!(
            "created the first console admin, {}, from CHATKIT_ADMIN_EMAIL",
            admin.email
        );
    }
    Ok((operators, audit))
}

/// The key of the console's sign-in form tokens: `CHATKIT_SECRET_KEY`, or a random one (forms
/// opened before a restart then need a reload).
fn signing_key(settings: &Settings) -> Vec<u8> {
    settings
        .auth
        .secret_key
        .as_ref()
        .map(|key| key.expose().as_bytes().to_vec())
        .unwrap_or_else(UrlSigner::random_key)
}

/// The attachment service: the storage folder, the URL signing key (a random one, with a
/// warning, when none is configured) and the public base of the URLs it hands out.
fn attachment_service(
    settings: &Settings,
    store: &Store,
    auth: &Authenticator,
    public_url: String,
    limits: &Limiter,
) -> Result<AttachmentService, StartupError> {
    let storage = &settings.attachments.storage;
    let blobs = BlobStore::from_settings(storage).map_err(|source| StartupError::Storage {
        location: storage.describe(),
        source,
    })?;
    let key = match &settings.auth.secret_key {
        Some(key) => key.expose().as_bytes().to_vec(),
        None => {
            log::warn!(
                "CHATKIT_SECRET_KEY is not set: using a random key, so upload and preview URLs \
                 stop working when the server restarts"
            );
            UrlSigner::random_key()
        }
    };
    Ok(AttachmentService::new(
        store.clone(),
        blobs,
        auth.clone(),
        UrlSigner::new(key),
        settings.attachments.clone(),
        public_url,
        limits.clone(),
    ))
}

/// Turns on the webhook outbox when there is a key to sign deliveries with; refuses to start
/// when agents have webhook URLs but there is no key (the global URL is checked with the
/// settings).
async fn with_outbox(
    store: Store,
    settings: &Settings,
    public_url: &str,
) -> Result<Store, StartupError> {
    if settings.auth.secret_key.is_none() {
        let agents = store.agents_with_webhook_url().await?;
        if !agents.is_empty() {
            return Err(StartupError::WebhookKey(agents.join(", ")));
        }
        return Ok(store);
    }
    let outbox = Outbox::new(settings.webhooks.human_url.clone(), public_url.to_owned());
    Ok(store.with_outbox(outbox))
}

/// Where users reach the server: `CHATKIT_PUBLIC_URL`, or the bound address.
fn public_url(settings: &Settings, port: u16) -> String {
    settings
        .http
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", SocketAddr::new(settings.http.bind.ip(), port)))
}

/// Runs `job` every `every` for as long as the process runs; a late round delays the next
/// instead of bunching them.
fn spawn_every<F, Fut>(every: Duration, mut job: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            job().await;
        }
    });
}

/// Purges unused uploads now and then.
fn spawn_sweep(attachments: AttachmentService, every: Duration) {
    spawn_every(every, move || {
        let attachments = attachments.clone();
        async move {
            if let Err(e) = attachments.sweep().await {
                log::error!("attachment sweep failed: {e}");
            }
        }
    });
}

/// Indexes the messages that wait for the search index about once a second (SQLite batches
/// them: see `store::search_index`).
fn spawn_search_indexing(store: Store) {
    if store.backend() != Backend::Sqlite {
        return;
    }
    spawn_every(SEARCH_INDEX_EVERY, move || {
        let store = store.clone();
        async move {
            if let Err(e) = store.index_pending_search().await {
                log::error!("indexing messages for search failed: {e}");
            }
        }
    });
}

/// The chat endpoint's limiter, with a task that writes the refusals it counted every few
/// seconds and forgets idle buckets every minute.
fn limiter(settings: &Settings, store: &Store) -> Limiter {
    let limiter = Limiter::new(settings.limits.clone(), store.clone());
    let background = limiter.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(5));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for tick in 0u64.. {
            ticks.tick().await;
            background.write_refusals().await;
            if (tick + 1).is_multiple_of(12) {
                background.forget_idle();
            }
        }
    });
    limiter
}

/// The default agent: the chosen model (if any), the built-in tools and the client tools.
fn build_agent(
    settings: &Settings,
    model: &ModelChoice,
    parked: &ParkedCalls,
) -> Result<Agent, StartupError> {
    // The one HTTP client of every MCP server, built now rather than on a first turn.
    if let Err(e) = mcp_http_client() {
        log::error!("MCP servers cannot be used: {e}");
    }
    let mcp: Vec<Arc<McpServer>> = settings
        .tools
        .mcp_servers
        .iter()
        .cloned()
        .map(|s| Arc::new(McpServer::new(s).with_parked(parked)))
        .collect();
    let Some(llm) = model.llm() else {
        if !matches!(model, ModelChoice::Demo) {
            return Ok(Agent::default());
        }
        let demo_settings = AgentSettings {
            model: DEMO_MODEL.into(),
            allowed_models: vec![],
            instructions: None,
            max_steps: settings.local_llm.max_steps,
            max_retries: 0,
            retry_backoff: Duration::ZERO,
            auto_titles: settings.local_llm.auto_titles,
            approval_tools: settings.tools.approval_tools.clone(),
            temperature: None,
            context_tokens: settings.local_llm.context_tokens,
        };
        let tools = tool_registry(settings, Some(Arc::new(DemoWidget::default())));
        return Ok(Agent::new(Arc::new(DemoModel), demo_settings, tools, mcp));
    };
    let endpoints = Endpoints::new(
        &llm.base_url,
        llm.api_key.as_ref().map(|key| key.expose().to_owned()),
        llm.connect_timeout,
        llm.idle_timeout,
        llm.http2_prior_knowledge,
    );
    let provider = endpoints.provider(None, None)?;
    let agent_settings = AgentSettings {
        model: llm.model.clone(),
        allowed_models: llm.allowed_models.clone(),
        instructions: llm.instructions.clone(),
        max_steps: llm.max_steps,
        max_retries: llm.max_retries,
        retry_backoff: llm.retry_backoff,
        auto_titles: llm.auto_titles,
        approval_tools: settings.tools.approval_tools.clone(),
        temperature: None,
        context_tokens: llm.context_tokens,
    };
    let tools = tool_registry(settings, None);
    Ok(Agent::new(provider, agent_settings, tools, mcp).with_endpoints(Arc::new(endpoints)))
}

/// The built-in tools that are on, `extra` (the demo's own tool), and the client tools.
fn tool_registry(settings: &Settings, extra: Option<Arc<dyn Tool>>) -> ToolRegistry {
    let client_tools = settings
        .tools
        .client_tools
        .iter()
        .map(|t| ToolSpec {
            name: t.name.clone(),
            description: t.description.clone(),
            parameters: t.parameters.clone().into(),
        })
        .collect();
    let mut server_tools: Vec<Arc<dyn Tool>> = vec![Arc::new(CurrentTime::default())];
    if settings.tools.human_input {
        server_tools.push(Arc::new(AskHuman::form()));
    }
    if settings.tools.ask_questions {
        server_tools.push(Arc::new(AskHuman::questions()));
    }
    server_tools.extend(extra);
    ToolRegistry::new(server_tools, client_tools)
}

/// Seals the secrets stored in plain text before `CHATKIT_SECRET_KEY` was set, so that none
/// stays readable in the database once a key exists; without a key, says what is left plain.
pub async fn seal_plain_secrets(settings: &Settings, store: &Store) -> Result<(), StoreError> {
    let Some(sealer) = Sealer::from_setting(settings.auth.secret_key.as_ref()) else {
        return Ok(());
    };
    let sealed = store
        .seal_plain_secrets(move |plain| sealer.seal(plain).map_err(|e| e.to_string()))
        .await?;
    if sealed > 0 {
        log::info!("sealed {sealed} agent secret(s) that were stored in plain text");
    }
    Ok(())
}

/// Opens the database and checks that it takes writes: a server started on a read-only or full
/// database would answer reads and fail every turn, which is harder to notice than a refusal.
async fn open_writable_store(settings: &Settings) -> Result<Store, StartupError> {
    let refused = |e: StoreError| match e.fault() {
        Some(fault @ (DbFault::ReadOnly | DbFault::Full | DbFault::Io)) => {
            StartupError::NotWritable { fault, source: e }
        }
        _ => StartupError::Store(e),
    };
    let store = open_store(settings).await.map_err(refused)?;
    store.check_writable().await.map_err(refused)?;
    Ok(store)
}

/// Opens the database and applies migrations, off the async executor.
pub async fn open_store(settings: &Settings) -> Result<Store, StoreError> {
    let (url, max) = (
        settings.database.url.clone(),
        settings.database.max_connections,
    );
    tokio::task::spawn_blocking(move || Store::connect(&url, max)).await?
}
