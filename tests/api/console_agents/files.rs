//! `agents export` and `agents import FILE` through the command's entry function: the export
//! leaves every secret out (header names stay, without values); importing it into another
//! database gives the same export; secrets in a file are sealed on import and a secret left
//! out keeps its stored value; an invalid file is refused with a clear message and nothing
//! of it is written.

use serde_json::{Value, json};

use super::{API_KEY, MCP_TOKEN, SECRET_KEY, VARS, add_server, admin, agent_form, create_agent};
use crate::support::app::{Db, TestApp, TestDb, test_settings};
use crate::support::macros::db_test;
use chatkit_server::startup::agents_command;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

async fn export(db_url: &str) -> Value {
    let settings = test_settings(db_url, &[("CHATKIT_SECRET_KEY", SECRET_KEY)]);
    let out = agents_command(&settings, &args(&["export"])).await.unwrap();
    serde_json::from_str(&out).unwrap()
}

async fn import(db_url: &str, file: &Value) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agents.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let settings = test_settings(db_url, &[("CHATKIT_SECRET_KEY", SECRET_KEY)]);
    agents_command(&settings, &args(&["import", path.to_str().unwrap()])).await
}

/// A fresh database of the same kind as `app`'s.
fn other_db(app: &TestApp) -> Option<(TestDb, String)> {
    let db = if app.db_url.starts_with("sqlite:") {
        Db::Sqlite
    } else {
        Db::Postgres
    };
    TestDb::create(db)
}

db_test!(export_omits_secrets_and_import_round_trips, vars = VARS);
async fn export_omits_secrets_and_import_round_trips(app: TestApp) {
    let session = admin(&app).await;
    let id = create_agent(&session, &agent_form("support", "http://127.0.0.1:9/v1")).await;
    add_server(&app, &session, &id, "http://127.0.0.1:9/mcp").await;

    let exported = export(&app.db_url).await;
    let text = exported.to_string();
    assert!(
        !text.contains(API_KEY) && !text.contains(MCP_TOKEN),
        "{text}"
    );
    assert!(!text.contains("v1:"), "not even sealed: {text}");
    assert_eq!(exported["version"], 1);
    let support = exported["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["slug"] == "support")
        .expect("the agent is exported")
        .clone();
    assert_eq!(support["model"], "own-model");
    assert_eq!(support["models"], json!(["own-alt", "own-other"]));
    assert_eq!(support["temperature"], 0.3);
    assert_eq!(support["human_input"], false);
    assert!(support.get("llm_api_key").is_none(), "{support}");
    assert_eq!(
        support["mcp_servers"][0]["headers"],
        json!({"Authorization": null})
    );

    // Into another database: the same export back, and the file's own key sealed.
    let Some((_other, other_url)) = other_db(&app) else {
        return;
    };
    let mut file = exported.clone();
    for agent in file["agents"].as_array_mut().unwrap() {
        if agent["slug"] == "support" {
            agent["llm_api_key"] = json!("sk-from-file");
            agent["mcp_servers"][0]["headers"]["Authorization"] = json!("Bearer from-file");
        }
    }
    let out = import(&other_url, &file).await.unwrap();
    assert!(
        out.contains("2 agent(s) created, 0 updated; 1 MCP server(s) created"),
        "{out}"
    );
    assert_eq!(export(&other_url).await, exported);
    let other = chatkit_server::store::Store::connect(&other_url, 1).unwrap();
    let all = other.export_agents().await.unwrap();
    let (_, agent, servers) = all.iter().find(|(_, a, _)| a.slug == "support").unwrap();
    let key = agent.llm_api_key.clone().unwrap();
    assert!(
        key.starts_with("v1:") && !key.contains("sk-from-file"),
        "{key}"
    );
    let headers = servers[0].headers.clone().unwrap();
    assert!(!headers.contains("from-file"), "{headers}");

    // Importing the secret-free export again keeps the stored secrets.
    import(&other_url, &exported).await.unwrap();
    let again = other.export_agents().await.unwrap();
    let again = again.iter().find(|(_, a, _)| a.slug == "support").unwrap();
    assert_eq!(again.1.llm_api_key.as_ref(), Some(&key));
    assert_eq!(again.2[0].headers.as_ref(), Some(&headers));
}

db_test!(an_invalid_file_writes_nothing, vars = VARS);
async fn an_invalid_file_writes_nothing(app: TestApp) {
    let before = export(&app.db_url).await;
    let file = json!({"version": 1, "agents": [
        {"slug": "first", "name": "First", "model": "m"},
        {"slug": "second", "name": "Second", "temperature": 7}
    ]});
    let error = import(&app.db_url, &file).await.unwrap_err();
    assert!(
        error.contains("agent 'second'") && error.contains("temperature"),
        "{error}"
    );
    assert!(error.contains("nothing was imported"), "{error}");
    assert_eq!(export(&app.db_url).await, before);

    let error = import(&app.db_url, &json!({"agents": "nope"}))
        .await
        .unwrap_err();
    assert!(error.contains("not an agents file"), "{error}");
    let error = import(&app.db_url, &json!({"version": 9, "agents": []}))
        .await
        .unwrap_err();
    assert!(error.contains("version 9"), "{error}");
    // The same agent twice is refused before anything is written.
    let error = import(
        &app.db_url,
        &json!({"version": 1, "agents": [
            {"slug": "dup", "name": "A"}, {"slug": "dup", "name": "B"}
        ]}),
    )
    .await
    .unwrap_err();
    assert!(error.contains("appears twice"), "{error}");
    assert_eq!(export(&app.db_url).await, before);

    // Without a secret key, a file with a secret is refused.
    let settings = test_settings(&app.db_url, &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agents.json");
    std::fs::write(
        &path,
        json!({"version": 1, "agents": [{"slug": "k", "name": "K", "llm_api_key": "sk"}]})
            .to_string(),
    )
    .unwrap();
    let error = agents_command(&settings, &args(&["import", path.to_str().unwrap()]))
        .await
        .unwrap_err();
    assert!(error.contains("CHATKIT_SECRET_KEY"), "{error}");
    assert_eq!(export(&app.db_url).await, before);
}
