//! `chatkit-server [serve|migrate|admin create-operator|agents export|agents import]`: reads
//! settings, sets up logging, and runs the subcommand.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use chatkit_server::config::Settings;
use chatkit_server::observe::logging;
use chatkit_server::service::console::{Actor, Role};
use chatkit_server::startup::{
    Application, agents_command, console_services, open_store, raise_open_file_limit,
    spawn_memory_trimmer, use_small_pages,
};

/// mimalloc rather than glibc's malloc: see its line in `Cargo.toml`. Only the binary sets it,
/// so the library and its tests keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: chatkit-server [serve|migrate]
       chatkit-server admin create-operator EMAIL [--role admin|reviewer]
       chatkit-server agents export | agents import FILE

  serve    apply migrations and serve HTTP (default)
  migrate  apply migrations and exit
  admin create-operator EMAIL [--role admin|reviewer]
           add a console operator (role: admin by default); the password is read from
           standard input, one line (prompted without echo on a terminal), never from the
           command line
  agents export
           print every agent and its MCP servers as JSON (secrets left out)
  agents import FILE
           create or update the agents of FILE (matched by account and slug) and their MCP
           servers (matched by name) in one transaction; secrets in the file are encrypted
           with CHATKIT_SECRET_KEY, secrets left out keep their stored values

Settings come from environment variables; see the README.";

#[actix_web::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned();
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
    // After the settings, which choose the format; a bad setting is reported on stderr.
    let format = settings.observe.log_format;
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(move |out, record| logging::write_line(out, format, record))
        .init();
    let outcome = match command.as_deref() {
        None | Some("serve") => serve(settings).await,
        Some("migrate") => open_store(&settings)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Some("admin") => admin(settings, &args[1..]).await,
        Some("agents") => agents_command(&settings, &args[1..]).await.map(|out| {
            print!("{out}");
        }),
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
    use_small_pages();
    raise_open_file_limit();
    spawn_memory_trimmer();
    let bind = settings.http.bind;
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    log::info!(
        "serving ChatKit on http://{}:{}/chatkit",
        bind.ip(),
        app.port()
    );
    app.run_until_signalled().await.map_err(|e| e.to_string())
}

/// `admin create-operator EMAIL [--role admin|reviewer]`.
async fn admin(settings: Settings, args: &[String]) -> Result<(), String> {
    let (email, role) = match args {
        [command, email] if command == "create-operator" => (email, Role::Admin),
        [command, email, flag, role] if command == "create-operator" && flag == "--role" => {
            (email, role.parse::<Role>().map_err(|e| e.to_string())?)
        }
        _ => return Err(format!("unexpected arguments\n\n{USAGE}")),
    };
    let password = read_password()?;
    let store = open_store(&settings).await.map_err(|e| e.to_string())?;
    let (operators, _) = console_services(&settings, &store)
        .await
        .map_err(|e| e.to_string())?;
    let operator = operators
        .create(&Actor::system(), email, role, &password)
        .await
        .map_err(|e| e.to_string())?;
    println!("created {} operator {}", operator.role, operator.email);
    Ok(())
}

/// One line from standard input, without its line ending; on a terminal, a prompt without
/// echo.
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Password: ").map_err(|e| e.to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err("no password on standard input".to_owned());
    }
    Ok(password.to_owned())
}
