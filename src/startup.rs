//! Builds the application from [`Settings`]: database, services, and the bound HTTP server.
//! Binding happens here (port 0 allowed), so tests learn the real port before serving.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::agent::Agent;
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
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let store = open_store(&settings).await?;
        let (account, agent) = store.ensure_defaults().await?;
        let auth = Authenticator::new(settings.auth.clone(), store.clone(), account, agent);
        let runs = RunManager::new(store.clone(), Arc::new(Agent::default()));
        let chatkit = ChatKitServer::new(store.clone(), auth, runs);

        let listener = TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind,
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.bind,
                source,
            })?
            .port();
        let state = web::Data::new(AppState {
            settings,
            store,
            chatkit,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(routes::configure)
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: std::net::SocketAddr::from(([0, 0, 0, 0], port)),
            source,
        })?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Opens the database and applies migrations, off the async executor.
pub async fn open_store(settings: &Settings) -> Result<Store, StoreError> {
    let (url, max) = (
        settings.database_url.clone(),
        settings.database_max_connections,
    );
    tokio::task::spawn_blocking(move || Store::connect(&url, max)).await?
}
