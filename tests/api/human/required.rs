//! Required fields left empty are refused with a message, whatever their type: a blank text,
//! an empty choice, an unticked required checkbox (not taken as `false`).

use serde_json::json;

use super::{spawn, status};
use crate::support::answer::event_types;
use crate::support::app::Db;
use crate::support::fake_llm::Reply;
use crate::support::fixtures::{action, form_of};
use crate::support::macros::db_case;

db_case!(required_fields_left_empty_are_refused);
async fn required_fields_left_empty_are_refused(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "request_human_input".into(),
            json!({"title": "Terms", "fields": [
                {"name": "name", "type": "string", "required": true},
                {"name": "plan", "type": "select", "options": ["a", "b"], "required": true},
                {"name": "agree", "label": "I agree", "type": "boolean", "required": true}
            ]}),
        )],
    });
    let (thread, events) = app.create_thread("ann", "Sign me up").await;
    let (item, id) = form_of(&events);
    for empty in [
        json!({"__interaction": id}),
        json!({"__interaction": id, "name": "  ", "plan": "", "agree": false}),
        json!({"__interaction": id, "name": "", "plan": "", "agree": "false"}),
    ] {
        let events = app
            .stream(
                "ann",
                "threads.custom_action",
                action(&thread, &item, "human.form_submit", empty),
            )
            .await;
        assert_eq!(event_types(&events), ["thread.item.replaced"]);
        let shown = events[0]["item"]["widget"].to_string();
        assert_eq!(
            shown.matches("This field is required.").count(),
            2,
            "{shown}"
        );
        assert!(shown.contains("Tick this box to go on."), "{shown}");
        assert_eq!(status(&app, &id).await.0, "pending");
    }
    llm.push(Reply::Text(vec!["Welcome.".into()]));
    let ticked = json!({"__interaction": id, "name": "Ann", "plan": "a", "agree": "true"});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", ticked),
        )
        .await;
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "Welcome.")
    );
    assert_eq!(status(&app, &id).await.0, "answered");
}
