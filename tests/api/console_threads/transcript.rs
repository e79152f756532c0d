//! The transcript page of one thread that holds every kind of item, all made through the
//! ChatKit endpoint with the fake model and real MCP servers: a user message with quoted text
//! and an image, sanitised Markdown from the model, an MCP tool call (server, tool, arguments,
//! output) and the widget it returned, the hidden context of a widget action, a client tool
//! call, an answered form, a failed run with its partial text, feedback, the raw JSON of each
//! item and the link to the user's other threads.

use chatkit_server::store::Role;
use serde_json::{Value, json};

use super::{REVIEWER, operator};
use crate::support::app::{Db, TestApp, spawn_mcp_app};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{PNG, action, ask, form_of, user_input, valid_values};
use crate::support::macros::db_case;
use crate::support::mcp_server::TestMcpServer;
use crate::support::turns::{rate, say};

/// Markdown with script in every way it can carry it.
const XSS_ANSWER: &str = "Here is **bold** text. <script>alert(1)</script> \
                          <img src=x onerror=alert(2)> [click](javascript:alert(3))";

/// The thread of [`seed`] and the ids of what is in it.
pub(super) struct Everything {
    pub thread: String,
    pub user_message: String,
    pub attachment: String,
    pub answer: String,
    pub widget: String,
    pub form: String,
}

/// The done item of `kind` in a stream; the last one.
fn done(events: &[Value], kind: &str) -> Value {
    events
        .iter()
        .rev()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == kind)
        .unwrap_or_else(|| panic!("a {kind}: {events:#?}"))["item"]
        .clone()
}

fn id(item: &Value) -> String {
    item["id"].as_str().unwrap().to_owned()
}

/// Makes a thread of ana's with every kind of item (`app` talks to the two MCP servers of
/// [`servers`], which both have `echo`, so beta's is offered as `beta__echo`).
pub(super) async fn seed(app: &TestApp, llm: &FakeLlm) -> Everything {
    let upload = app
        .upload_direct("ana", "photo.png", Some("image/png"), PNG)
        .await;
    assert_eq!(upload.status, 200, "{upload:?}");
    let attachment = upload.json()["id"].as_str().unwrap().to_owned();

    // A message with quoted text and an image; the model calls a tool of `beta` and the
    // weather tool (whose result is a widget), then answers.
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![
            ("beta__echo".into(), json!({"text": "from beta"})),
            ("weather".into(), json!({"city": "Oslo"})),
        ],
    });
    llm.push(Reply::Text(vec![XSS_ANSWER.into()]));
    let input = json!({
        "content": [{"type": "input_text", "text": "Look at <b>this</b> photo"}],
        "quoted_text": "the quoted bit",
        "attachments": [attachment],
        "inference_options": {},
    });
    let (thread, events) = say(app, None, "ana", None, input).await;
    let user_message = id(&done(&events, "user_message"));
    let widget = id(&done(&events, "widget"));
    let answer = id(&done(&events, "assistant_message"));
    rate(app, None, "ana", &thread, &[&answer], "negative").await;

    // A widget action the agent is told about as hidden context.
    llm.push(Reply::Text(vec!["You clicked it.".into()]));
    let clicked = app
        .send(
            "ana",
            "threads.custom_action",
            action(&thread, &widget, "demo.click", json!({"n": 1})),
        )
        .await;
    assert_eq!(clicked.status, 200, "{clicked:?}");

    // A tool the browser runs.
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_selection".into(), json!({"what": "text"}))],
    });
    say(
        app,
        None,
        "ana",
        Some(&thread),
        user_input("Explain my selection"),
    )
    .await;
    llm.push(Reply::Text(vec!["That is a haiku.".into()]));
    let output = app
        .send(
            "ana",
            "threads.add_client_tool_output",
            json!({"thread_id": thread, "result": {"text": "old pond"}}),
        )
        .await;
    assert_eq!(output.status, 200, "{output:?}");

    // A form, answered by the user.
    ask(llm);
    let (_, events) = say(app, None, "ana", Some(&thread), user_input("Book a room")).await;
    let (form, interaction) = form_of(&events);
    llm.push(Reply::Text(vec!["Booked Oslo.".into()]));
    let answered = app
        .send(
            "ana",
            "threads.custom_action",
            action(
                &thread,
                &form,
                "human.form_submit",
                valid_values(&interaction),
            ),
        )
        .await;
    assert_eq!(answered.status, 200, "{answered:?}");

    // A run whose stream broke after some text.
    llm.push(Reply::BreakAfter(vec!["Partial ".into(), "words".into()]));
    let (_, events) = say(app, None, "ana", Some(&thread), user_input("And then?")).await;
    assert_eq!(events.last().unwrap()["type"], "error");

    Everything {
        thread,
        user_message,
        attachment,
        answer,
        widget,
        form,
    }
}

/// The MCP servers of [`seed`]'s app.
pub(super) fn servers(alpha: &TestMcpServer, beta: &TestMcpServer) -> Value {
    json!([
        {"name": "alpha", "url": alpha.url, "timeout_ms": 5000},
        {"name": "beta", "url": beta.url, "timeout_ms": 5000, "allowed_tools": ["echo"]},
    ])
}

/// The `<article>` of item `id`.
fn article<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"item-{id}\""))
        .unwrap_or_else(|| panic!("item {id} shown"));
    let start = html[..at].rfind("<article").unwrap();
    let end = html[start..].find("</article>").unwrap() + start;
    &html[start..end]
}

/// Every `<article>` whose role (`data-kind`) is `role`.
fn articles<'a>(html: &'a str, role: &str) -> Vec<&'a str> {
    html.match_indices(&format!("data-kind=\"{role}\""))
        .map(|(at, _)| {
            let start = html[..at].rfind("<article").unwrap();
            let end = html[start..].find("</article>").unwrap() + start;
            &html[start..end]
        })
        .collect()
}

/// The summary of run `id` and the error box below it: up to the next entry.
fn run_html<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"run-{id}\""))
        .unwrap_or_else(|| panic!("run {id} shown"));
    let rest = &html[start + 1..];
    let end = ["<article", "class=\"run-summary", "<aside"]
        .iter()
        .filter_map(|next| rest.find(next))
        .min()
        .unwrap();
    &html[start..start + 1 + end]
}

fn assert_has(html: &str, parts: &[&str]) {
    for part in parts {
        assert!(html.contains(part), "{part} in {html}");
    }
}

db_case!(every_item_kind_is_drawn);
async fn every_item_kind_is_drawn(db: Db) {
    let (alpha, beta) = (TestMcpServer::start().await, TestMcpServer::start().await);
    let Some((app, llm)) = spawn_mcp_app(db, servers(&alpha, &beta)).await else {
        return;
    };
    let t = seed(&app, &llm).await;
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;
    let page = reviewer.get(&format!("/admin/threads/{}", t.thread)).await;
    assert_eq!(page.status, 200, "{page:?}");
    page.assert_secure();
    let html = &page.body;

    // The head: the owner links to all of ana's threads; a reviewer has no delete button.
    assert_has(
        html,
        &[
            "<a href=\"/admin/threads?user=ana\" title=\"All threads of this user\">ana</a>",
            &format!("href=\"/admin/threads/{}/export.json\" download", t.thread),
            &format!("href=\"/admin/threads/{}/export.md\" download", t.thread),
            "<span class=\"subtle\">Untitled</span>",
        ],
    );
    assert!(!html.contains("/delete\""), "reviewers cannot delete");

    // The user message: quoted text, text escaped, the image with a signed same-origin URL.
    let message = article(html, &t.user_message);
    assert_has(
        message,
        &[
            "class=\"item item-user\"",
            "<blockquote class=\"quoted\">the quoted bit</blockquote>",
            "Look at &#60;b&#62;this&#60;/b&#62; photo",
            &format!("<img src=\"/chatkit/attachments/{}", t.attachment),
            "alt=\"photo.png\"",
            "photo.png · ",
        ],
    );
    assert!(!message.contains("<b>"), "{message}");

    // The model's Markdown, sanitised, with the thumbs-down on it.
    let answer = article(html, &t.answer);
    assert_has(
        answer,
        &[
            "<strong>bold</strong>",
            "feedback-mark feedback-negative\" title=\"Feedback from ana\"",
        ],
    );
    let drawn = &answer[..answer.find("<details class=\"raw-json\"").unwrap()];
    for live in ["<script", "<img src=x", "onerror", "javascript:"] {
        assert!(!drawn.contains(live), "{live} in {drawn}");
    }

    // The MCP tool call: its server, tool, arguments and output, marked model-only.
    let echo = articles(html, "Tool call")
        .into_iter()
        .find(|a| a.contains("<span class=\"tool-name\">echo</span>"))
        .expect("the echo call");
    assert_has(
        echo,
        &[
            "item item-tool item-hidden",
            "<span class=\"visibility-label\">model only</span>",
            "<span class=\"mono subtle\">beta ·</span>",
            "from beta",
            "echo: from beta",
            "<span class=\"badge badge-ok\">ok</span>",
            ">Arguments<",
            ">Output<",
        ],
    );
    let weather = articles(html, "Tool call")
        .into_iter()
        .find(|a| a.contains("<span class=\"tool-name\">weather</span>"))
        .expect("the weather call");
    assert!(weather.contains("Oslo"), "{weather}");

    // The widget it returned, drawn as inert HTML.
    let widget = article(html, &t.widget);
    assert_has(
        widget,
        &[
            "class=\"item item-widget\"",
            "data-kind=\"Widget\"",
            "<div class=\"w-widget\">",
            "20°C in Oslo (refresh 0)",
            "Refresh",
            "Copy text: Weather in Oslo: 20°C (refresh 0)",
        ],
    );
    let drawn = &widget[widget.find("w-widget").unwrap()..widget.find("copy-text").unwrap()];
    for live in ["onclick", "<script", "<form", "<button"] {
        assert!(!drawn.contains(live), "{live} in {drawn}");
    }

    // The widget action's hidden context, marked as such.
    let hidden = articles(html, "Hidden context");
    assert_eq!(hidden.len(), 1, "{html}");
    assert_has(
        hidden[0],
        &[
            "class=\"item item-hidden\"",
            "<span class=\"visibility-label\">hidden context</span>",
            "The user triggered the widget action &#39;demo.click&#39;",
        ],
    );

    // The client tool call, with its output.
    let client = articles(html, "Client tool call");
    assert_eq!(client.len(), 1);
    assert_has(
        client[0],
        &[
            "in the browser ·",
            "<span class=\"tool-name\">get_selection</span>",
            "<span class=\"badge badge-ok\">completed</span>",
            "old pond",
            ">Output<",
        ],
    );

    // The form: answered, by whom, with the answer.
    let form = article(html, &t.form);
    assert_has(
        form,
        &[
            "class=\"item item-widget item-form\"",
            "data-kind=\"Form\"",
            "<span class=\"badge badge-ok\">answered</span>",
            "form from <span class=\"mono\">request_human_input</span>",
            "answered by the user, ",
            ">Answer<",
            "Oslo",
        ],
    );

    // Runs: model, tokens, outcome; the failed one with its error and partial text.
    let runs = app.store.load_runs(&t.thread).await.unwrap();
    assert_eq!(html.matches("class=\"run-summary").count(), runs.len());
    let failed = runs.iter().find(|r| r.status.as_str() == "failed").unwrap();
    assert_has(
        run_html(html, &failed.id),
        &[
            "<span class=\"badge badge-error\">failed</span>",
            "<span class=\"mono\">fake-model</span>",
            &format!(
                "{} in / {} out",
                failed.prompt_tokens, failed.completion_tokens
            ),
            "<p class=\"run-error\">",
            "Shown to the user before it failed:",
            "<div class=\"run-partial\">Partial words</div>",
        ],
    );
    let completed = runs
        .iter()
        .find(|r| r.status.as_str() == "completed")
        .unwrap();
    let run = run_html(html, &completed.id);
    assert!(
        run.contains("<span class=\"badge badge-ok\">completed</span>"),
        "{run}"
    );
    assert!(!run.contains("run-error"), "{run}");
    assert_has(
        html,
        &[
            &format!(
                "<dt>Runs</dt><dd class=\"num\">{} <span class=\"badge badge-error\">1 failed</span>",
                runs.len()
            ),
            "<dt>Feedback</dt><dd><span class=\"badge badge-negative\">▼ 1 negative</span>",
        ],
    );

    // Every item has its raw JSON behind a toggle, escaped.
    let items = app.store.count_items(&t.thread).await.unwrap();
    assert_eq!(html.matches("<article ").count() as i64, items);
    assert_eq!(
        html.matches("<details class=\"raw-json\"><summary>Raw JSON</summary>")
            .count() as i64,
        items
    );
    let raw = &answer[answer.find("Raw JSON").unwrap()..];
    assert!(
        raw.contains("&#60;script&#62;") || raw.contains("&lt;script&gt;"),
        "{raw}"
    );

    // An unknown thread is a 404 page.
    let missing = reviewer.get("/admin/threads/thr_missing").await;
    assert_eq!(missing.status, 404, "{missing:?}");
}
