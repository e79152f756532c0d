//! `/admin/attachments`: every attachment, newest first, filtered by user, agent, type, upload
//! state and orphans, paged by keyset ("Older" carries the last row's id), with the count and
//! bytes of everything the filter matches. An attachment's bytes download (audited) at
//! `{id}/download`, always as an attachment and never as active content; images have a
//! thumbnail at `{id}/preview`. Admins delete at `{id}/delete`: a confirmation page, then a POST
//! with the CSRF token.

use super::AgentOption;
use crate::routes::admin::session::Chrome;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::audit::some;
use super::error::{encode_component, list_link};
use super::render::Flash;
use super::session::{AdminError, Console, render, see_other};
use crate::chatkit::files::ImageKind;
use crate::routes::AppState;
use crate::routes::attachments::blob_response;
use crate::service::console::attachments::{OpenedFile, UPLOAD_STATES, mime_filter, upload_state};
use crate::store::{AttachmentFilter, ConsoleAttachment};

/// Rows per page.
const PAGE_SIZE: usize = 50;
/// Characters of a sha256 the table shows (all of it is in the cell's title).
const SHA_SHOWN: usize = 12;
/// Nothing a file says may run: no script, no style, no plugin, no frame of it.
const FILE_CSP: &str = "default-src 'none'; sandbox";
/// A thumbnail is an image and nothing else.
const PREVIEW_CSP: &str = "default-src 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/attachments", web::get().to(list))
        .route("/attachments/{id}/download", web::get().to(download))
        .route("/attachments/{id}/preview", web::get().to(preview))
        .route("/attachments/{id}/delete", web::get().to(confirm_delete))
        .route("/attachments/{id}/delete", web::post().to(delete));
}

/// The query string: every filter optional.
#[derive(Debug, Default, Deserialize)]
struct AttachmentQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    agent: String,
    /// A MIME prefix (`image/`) or an exact type.
    #[serde(default, rename = "type")]
    mime: String,
    #[serde(default)]
    state: String,
    /// `1` for attachments no message uses.
    #[serde(default)]
    orphaned: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
}

/// One row of the table.
struct RowView {
    id: String,
    name: String,
    mime_type: String,
    /// A short label for a file without a thumbnail (`PDF`, `TXT`).
    kind_label: String,
    size_text: String,
    size_bytes: i64,
    sha_short: Option<String>,
    sha_full: Option<String>,
    state: String,
    uploaded: bool,
    /// A thumbnail can be shown (an uploaded image).
    previewable: bool,
    user_id: String,
    /// The list filtered to this row's user.
    user_link: String,
    agent_label: String,
    thread_id: Option<String>,
    thread_title: Option<String>,
    at_iso: String,
    at_text: String,
}

#[derive(Template)]
#[template(path = "admin/attachments.html")]
struct AttachmentsPage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    query: &'a AttachmentQuery,
    agents: Vec<AgentOption>,
    states: Vec<&'static str>,
    rows: Vec<RowView>,
    total_count: i64,
    total_size: String,
    total_bytes: i64,
    /// Link to the next (older) page, with the same filters.
    older: Option<String>,
    /// Whether this is a later page (offer a way back to the first).
    paged: bool,
    /// Link to the first page with the same filters.
    first: String,
    filtered: bool,
}

#[derive(Template)]
#[template(path = "admin/attachment_delete.html")]
struct DeletePage {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    row: RowView,
    /// The file is stored (deleting removes bytes, not just a record).
    has_file: bool,
    /// The message that carries the attachment, when it was sent in one.
    message_id: Option<String>,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// The notice after a successful change; a fixed text, so a link cannot make the page say
/// anything else.
fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "deleted" => Some("Attachment deleted."),
        _ => None,
    }
}

/// `GET /admin/attachments`.
async fn list(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<AttachmentQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let upload = some(&query.state).and_then(|raw| {
        let parsed = upload_state(&raw);
        if parsed.is_none() {
            problems.push(format!("State: '{raw}' is not an upload state; ignored."));
        }
        parsed
    });
    let filter = AttachmentFilter {
        user_id: some(&query.user),
        agent_id: some(&query.agent),
        mime_type: mime_filter(&query.mime),
        state: upload,
        orphaned: !query.orphaned.trim().is_empty(),
    };
    let after = some(&query.after);
    let browser = &state.attachment_browser;
    let listing = browser.page(&filter, PAGE_SIZE, after.clone()).await?;
    let agents = browser.agents().await?;
    let flash = if problems.is_empty() {
        done_message(&query.done).map(Flash::ok)
    } else {
        Some(Flash::error(problems.join(" ")))
    };
    let page = AttachmentsPage {
        chrome: console.chrome("attachments").await,
        flash,
        agents: agents.iter().map(AgentOption::from).collect(),
        states: UPLOAD_STATES.iter().map(|s| s.as_str()).collect(),
        rows: listing.page.data.iter().map(view).collect(),
        total_count: listing.totals.count,
        total_size: human_bytes(listing.totals.bytes),
        total_bytes: listing.totals.bytes,
        older: listing
            .page
            .after
            .as_deref()
            .map(|last| link(&query, Some(last))),
        paged: after.is_some(),
        first: link(&query, None),
        filtered: filter != AttachmentFilter::default(),
        query: &query,
    };
    render(&page)
}

/// `GET /admin/attachments/{id}/download`: the bytes as a download, audited.
async fn download(
    state: web::Data<AppState>,
    console: Console,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let file = state
        .attachment_browser
        .download(&console.actor(), &id)
        .await?;
    serve(file, DispositionType::Attachment, FILE_CSP, &request)
}

/// `GET /admin/attachments/{id}/preview`: an image attachment, inline, for a thumbnail.
async fn preview(
    state: web::Data<AppState>,
    _console: Console,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let file = state.attachment_browser.preview(&id).await?;
    serve(file, DispositionType::Inline, PREVIEW_CSP, &request)
}

/// `GET /admin/attachments/{id}/delete`: what deleting takes away (admins only).
async fn confirm_delete(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    console.require_admin()?;
    let detail = state.attachment_browser.detail(&id).await?;
    let row = &detail.attachment.row;
    let page = DeletePage {
        chrome: console.chrome("attachments").await,
        has_file: row.storage_key.is_some(),
        row: view(&detail.attachment),
        message_id: detail.message_id,
    };
    render(&page)
}

/// `POST /admin/attachments/{id}/delete`: deletes the row and its bytes (admins only).
async fn delete(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    state
        .attachment_browser
        .delete(&console.actor(), &id)
        .await?;
    Ok(see_other("/admin/attachments?done=deleted"))
}

/// The file as a streamed response: its safe type, the disposition with a safe name, no
/// sniffing, and a policy under which nothing in it runs.
fn serve(
    file: OpenedFile,
    disposition: DispositionType,
    csp: &'static str,
    request: &HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let content_type = file
        .content_type
        .parse()
        .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM);
    let disposition = ContentDisposition {
        disposition,
        parameters: vec![
            DispositionParam::Filename(ascii_filename(&file.name)),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: file.name.into_bytes(),
            }),
        ],
    };
    let mut response = blob_response(file.blob, content_type, disposition, request)
        .map_err(|e| AdminError::Internal(format!("cannot serve an attachment: {e}")))?;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    Ok(response)
}

/// The `filename=` of a download: ASCII with nothing a header or a file system could
/// misread (the `filename*=` beside it carries the real name).
fn ascii_filename(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && !"\"\\/:;*?<>|%".contains(c)) || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_matches(|c| c == ' ' || c == '.');
    if safe.is_empty() {
        "attachment".to_owned()
    } else {
        safe.to_owned()
    }
}

/// `/admin/attachments?…` with the query's filters and, for a later page, `after`.
fn link(query: &AttachmentQuery, after: Option<&str>) -> String {
    let pairs = [
        ("user", query.user.as_str()),
        ("agent", query.agent.as_str()),
        ("type", query.mime.as_str()),
        ("state", query.state.as_str()),
        ("orphaned", query.orphaned.as_str()),
        ("after", after.unwrap_or("")),
    ];
    list_link("/admin/attachments", &pairs)
}

fn view(attachment: &ConsoleAttachment) -> RowView {
    let row = &attachment.row;
    let uploaded = row.is_uploaded() && row.storage_key.is_some();
    RowView {
        id: row.id.clone(),
        name: row.name.clone(),
        mime_type: row.mime_type.clone(),
        kind_label: kind_label(&row.name),
        size_text: human_bytes(row.size),
        size_bytes: row.size,
        sha_short: row
            .sha256
            .as_ref()
            .map(|sha| sha.chars().take(SHA_SHOWN).collect()),
        sha_full: row.sha256.clone(),
        state: row.state.clone(),
        uploaded,
        previewable: uploaded && ImageKind::of_mime(&row.mime_type).is_some(),
        user_id: row.user_id.clone(),
        user_link: format!("/admin/attachments?user={}", encode_component(&row.user_id)),
        agent_label: if attachment.agent_name.is_empty() {
            row.agent_id.clone()
        } else {
            attachment.agent_name.clone()
        },
        thread_id: row.thread_id.clone(),
        thread_title: attachment.thread_title.clone(),
        at_iso: row.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        at_text: row.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// `PDF` for `report.pdf`; `FILE` when the name has no short extension.
fn kind_label(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| {
            (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .unwrap_or("file")
        .to_ascii_uppercase()
}

/// `1.5 KB`, `12 MB`: binary multiples, one decimal below ten.
fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(20 * 1024 * 1024), "20 MB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GB");
    }

    #[test]
    fn download_names_are_plain_ascii() {
        assert_eq!(ascii_filename("report 2026.pdf"), "report 2026.pdf");
        assert_eq!(ascii_filename("a\"b\\c;d.txt"), "a_b_c_d.txt");
        assert_eq!(ascii_filename("résumé.pdf"), "r_sum_.pdf");
        assert_eq!(ascii_filename("..."), "attachment");
        assert_eq!(ascii_filename("line\r\nbreak"), "line__break");
    }

    #[test]
    fn kind_labels_come_from_the_extension() {
        assert_eq!(kind_label("report.pdf"), "PDF");
        assert_eq!(kind_label("notes"), "FILE");
        assert_eq!(kind_label("archive.tar.gz"), "GZ");
        assert_eq!(kind_label("weird.<svg>"), "FILE");
    }

    #[test]
    fn pager_links_keep_the_filters_and_encode_them() {
        let query = AttachmentQuery {
            user: "ana b".into(),
            mime: "image/".into(),
            orphaned: "1".into(),
            ..Default::default()
        };
        assert_eq!(
            link(&query, Some("atc_1")),
            "/admin/attachments?user=ana%20b&type=image/&orphaned=1&after=atc_1"
        );
        assert_eq!(
            link(&AttachmentQuery::default(), None),
            "/admin/attachments"
        );
    }
}
