//! `/admin/feedback`: what users rated, thumbs-down first and then newest, filtered by kind,
//! agent, user and date range, paged by keyset ("Older" carries the last entry's key). Each
//! entry shows the verdict, the rated answer (sanitised Markdown, clipped), the user message
//! before it, and links into the transcript at the rated item. Read-only.

use super::AgentOption;
use crate::routes::admin::session::Chrome;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::audit::{day, some};
use super::error::{encode_component, list_link};
use super::render::Flash;
use super::render::markdown::markdown_to_html;
use super::render::widgets::widget_to_html;
use super::session::{AdminError, Console, render};
use crate::chatkit::types::{Attachment, FeedbackKind, ItemBody, ThreadItem, UserMessageContent};
use crate::routes::AppState;
use crate::store::{FeedbackEntry, FeedbackFilter};

/// Entries per page.
const PAGE_SIZE: usize = 25;
/// Characters of a rated answer shown before it is clipped (the transcript has all of it).
const MAX_RATED_CHARS: usize = 800;
/// Characters of the user's message shown before it is clipped.
const MAX_PROMPT_CHARS: usize = 600;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/feedback", web::get().to(feedback_page));
}

/// The query string: every filter optional; dates as `YYYY-MM-DD` (UTC days, both included).
#[derive(Debug, Default, Deserialize)]
struct FeedbackQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    after: String,
}

/// One entry as the page shows it.
struct EntryView {
    item_id: String,
    /// `positive` or `negative`.
    kind: &'static str,
    user_id: String,
    user_link: String,
    at_iso: String,
    at_text: String,
    agent_label: String,
    thread_title: Option<String>,
    thread_link: String,
    /// The transcript at the rated item.
    item_link: String,
    /// Sanitised HTML of the rated item, inserted with `|safe`.
    rated_html: String,
    rated_clipped: bool,
    /// The user message before the rated item, as plain text.
    prompt: Option<String>,
    prompt_clipped: bool,
    /// Names of the files the user message carried.
    prompt_files: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/feedback.html")]
struct FeedbackPage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    query: &'a FeedbackQuery,
    agents: Vec<AgentOption>,
    entries: Vec<EntryView>,
    /// Link to the next page, with the same filters.
    older: Option<String>,
    /// Whether this is a later page (offer a way back to the first).
    paged: bool,
    /// Link to the first page with the same filters.
    first: String,
    filtered: bool,
}

/// `GET /admin/feedback`.
async fn feedback_page(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<FeedbackQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let kind = match query.kind.trim() {
        "" => None,
        "positive" => Some(FeedbackKind::Positive),
        "negative" => Some(FeedbackKind::Negative),
        other => {
            problems.push(format!(
                "Kind: '{other}' is not positive or negative; ignored."
            ));
            None
        }
    };
    let filter = FeedbackFilter {
        kind,
        agent_id: some(&query.agent),
        user_id: some(&query.user),
        from: day(&query.from, 0, "From", &mut problems),
        until: day(&query.until, 1, "Until", &mut problems),
    };
    let after = some(&query.after);
    let page = state
        .feedback
        .page(&filter, PAGE_SIZE, after.clone())
        .await?;
    let agents = state.feedback.agents().await?;
    let older = page.after.as_deref().map(|last| link(&query, Some(last)));
    let page = FeedbackPage {
        chrome: console.chrome("feedback").await,
        flash: (!problems.is_empty()).then(|| Flash::error(problems.join(" "))),
        agents: agents.iter().map(AgentOption::from).collect(),
        entries: page.data.iter().map(view).collect(),
        older,
        paged: after.is_some(),
        first: link(&query, None),
        filtered: filter != FeedbackFilter::default(),
        query: &query,
    };
    render(&page)
}

/// `/admin/feedback?…` with the query's filters and, for a later page, `after`.
fn link(query: &FeedbackQuery, after: Option<&str>) -> String {
    let pairs = [
        ("kind", query.kind.as_str()),
        ("agent", query.agent.as_str()),
        ("user", query.user.as_str()),
        ("from", query.from.as_str()),
        ("until", query.until.as_str()),
        ("after", after.unwrap_or("")),
    ];
    list_link("/admin/feedback", &pairs)
}

fn view(entry: &FeedbackEntry) -> EntryView {
    let (rated, rated_clipped) = rated_html(&entry.rated);
    let (prompt, prompt_clipped, prompt_files) = match entry.prompt.as_ref().map(prompt_text) {
        Some((text, clipped, files)) => (Some(text), clipped, files),
        None => (None, false, Vec::new()),
    };
    let thread = encode_component(&entry.thread_id);
    EntryView {
        item_id: entry.item_id.clone(),
        kind: match entry.kind {
            FeedbackKind::Positive => "positive",
            FeedbackKind::Negative => "negative",
        },
        user_id: entry.user_id.clone(),
        user_link: format!("/admin/feedback?user={}", encode_component(&entry.user_id)),
        at_iso: entry
            .created_at
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        at_text: entry.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        agent_label: entry.agent_name.clone(),
        thread_title: entry.thread_title.clone(),
        thread_link: format!("/admin/threads/{thread}"),
        item_link: format!(
            "/admin/threads/{thread}#item-{}",
            encode_component(&entry.item_id)
        ),
        rated_html: rated,
        rated_clipped,
        prompt,
        prompt_clipped,
        prompt_files,
    }
}

/// The rated item as safe HTML: an answer's text as Markdown, a widget drawn read-only,
/// anything else named. `true` when the text was clipped.
fn rated_html(item: &ThreadItem) -> (String, bool) {
    match &item.body {
        ItemBody::AssistantMessage(message) => {
            let text: Vec<&str> = message.content.iter().map(|c| c.text.as_str()).collect();
            let (text, clipped) = clip(&text.join("\n\n"), MAX_RATED_CHARS);
            (markdown_to_html(&text), clipped)
        }
        ItemBody::Widget(widget) => match serde_json::to_value(&widget.widget) {
            Ok(tree) => (widget_to_html(&tree), false),
            Err(_) => (described(item), false),
        },
        _ => (described(item), false),
    }
}

/// `<p class="subtle">A task item.</p>`, for items with nothing to show here.
fn described(item: &ThreadItem) -> String {
    format!(
        "<p class=\"subtle\">A {} item; open the transcript to see it.</p>",
        item.body.type_name().replace('_', " ")
    )
}

/// The user message's text (clipped), whether it was clipped, and its files' names.
fn prompt_text(item: &ThreadItem) -> (String, bool, Vec<String>) {
    let ItemBody::UserMessage(message) = &item.body else {
        return (String::new(), false, Vec::new());
    };
    let text: String = message
        .content
        .iter()
        .map(|part| match part {
            UserMessageContent::InputText { text } | UserMessageContent::InputTag { text, .. } => {
                text.as_str()
            }
        })
        .collect();
    let (text, clipped) = clip(text.trim(), MAX_PROMPT_CHARS);
    let files = message
        .attachments
        .iter()
        .map(|attachment| match attachment {
            Attachment::File(file) => file.name.clone(),
            Attachment::Image(image) => image.name.clone(),
        })
        .collect();
    (text, clipped, files)
}

/// At most `max` characters of `text`, cut after a word when one ends near the limit, with
/// `…` added; `true` when anything was cut.
fn clip(text: &str, max: usize) -> (String, bool) {
    let Some((cut, _)) = text.char_indices().nth(max) else {
        return (text.to_owned(), false);
    };
    let head = &text[..cut];
    let at_word = head
        .rfind(char::is_whitespace)
        .filter(|&space| space >= cut - cut / 5)
        .unwrap_or(cut);
    (format!("{}…", head[..at_word].trim_end()), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_ends_at_a_word_when_one_is_near() {
        assert_eq!(clip("short", 10), ("short".to_owned(), false));
        assert_eq!(
            clip("one two three four", 15),
            ("one two three…".to_owned(), true)
        );
        assert_eq!(clip("abcdefghij", 4), ("abcd…".to_owned(), true));
        assert_eq!(clip("ééééé", 2), ("éé…".to_owned(), true));
    }

    #[test]
    fn pager_links_keep_the_filters_and_encode_them() {
        let query = FeedbackQuery {
            kind: "negative".into(),
            user: "ana b".into(),
            ..Default::default()
        };
        assert_eq!(
            link(&query, Some("msg_1.ana b")),
            "/admin/feedback?kind=negative&user=ana%20b&after=msg_1.ana%20b"
        );
        assert_eq!(link(&FeedbackQuery::default(), None), "/admin/feedback");
    }
}
