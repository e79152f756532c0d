//! `chatkit-server [serve|migrate]`: reads settings, sets up logging, and runs the subcommand.

use std::process::ExitCode;

use chatkit_server::config::Settings;
use chatkit_server::startup::{Application, open_store};

const USAGE: &str = "usage: chatkit-server [serve|migrate]\n\n  serve    apply migrations and serve HTTP (default)\n  migrate  apply migrations and exit\n\nSettings come from environment variables; see the README.";

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let command = std::env::args().nth(1);
    if matches!(command.as_deref(), Some("-h" | "--help" | "help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("chatkit-server: invalid setting {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command.as_deref() {
        None | Some("serve") => serve(settings).await,
        Some("migrate") => open_store(&settings)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Some(other) => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatkit-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let bind = settings.http.bind;
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    log::info!(
        "serving ChatKit on http://{}:{}/chatkit",
        bind.ip(),
        app.port()
    );
    app.run_until_stopped().await.map_err(|e| e.to_string())
}
