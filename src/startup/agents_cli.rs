//! `chatkit-server agents export` and `agents import FILE`: agents and their MCP servers as
//! JSON, for configuration kept as code. The command line acts as the system (no operator);
//! an import is audited like a console change.

use super::{open_store, seal_plain_secrets};
use crate::config::{Sealer, Settings};
use crate::service::console::{Actor, AgentConsole, AuditService};

/// Runs `agents <args>` and returns what goes to standard output.
pub async fn agents_command(settings: &Settings, args: &[String]) -> Result<String, String> {
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    seal_plain_secrets(settings, &store)
        .await
        .map_err(|e| e.to_string())?;
    let console = AgentConsole::new(
        store.clone(),
        AuditService::new(store),
        Sealer::from_setting(settings.auth.secret_key.as_ref()),
    );
    match args {
        [command] if command == "export" => {
            let file = console
                .export(&Actor::system())
                .await
                .map_err(|e| e.to_string())?;
            let mut json = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
            json.push('\n');
            Ok(json)
        }
        [command, path] if command == "import" => {
            let json =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            let summary = console
                .import(&Actor::system(), &json)
                .await
                .map_err(|e| format!("{path}: {e}; nothing was imported"))?;
            let mut out = format!(
                "imported {path}: {} agent(s) created, {} updated; {} MCP server(s) created, \
                 {} updated\n",
                summary.agents_created,
                summary.agents_updated,
                summary.servers_created,
                summary.servers_updated
            );
            for missing in summary.headers_missing {
                out.push_str(&format!(
                    "note: header {missing} has no value in the file and none stored; set it \
                     in the console\n"
                ));
            }
            Ok(out)
        }
        _ => Err("usage: chatkit-server agents export | agents import FILE".to_owned()),
    }
}
