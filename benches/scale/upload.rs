//! The `upload` part: the server's peak resident memory (`VmHWM`) while a file goes into an
//! S3-compatible bucket (moto's server, as in the API tests). For each strategy (two-phase
//! `PUT` to the upload URL, direct multipart `POST /chatkit/upload`) and each size, a fresh
//! server (SQLite in a temporary folder) makes a 1 KiB upload to warm up, then uploads the
//! file; the peak before and after the big upload are compared, and with an idle server's.
//! The client makes the body as it sends it from one shared 1 MiB buffer, so the bench holds
//! no file in memory either.

use std::time::{Duration, Instant};

use bytes::Bytes;
use chatkit_server::store::BlobStore;
use serde_json::{Value, json};

use crate::Report;
use crate::server::Server;
use crate::support::s3::Moto;

const MIB: usize = 1024 * 1024;
const SIZES: [usize; 2] = [10 * MIB, 200 * MIB];
const PREFIX: &str = "bench";
const USER: &str = "uploader";
const BOUNDARY: &str = "----chatkit-bench-boundary-5c1e";

#[derive(Clone, Copy)]
enum Strategy {
    TwoPhase,
    Direct,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::TwoPhase => "two-phase `PUT` to the upload URL",
            Strategy::Direct => "direct multipart `POST /chatkit/upload`",
        }
    }
}

pub async fn run(report: &mut Report) {
    let Some(moto) = Moto::start().await else {
        report.note("Upload memory skipped: moto is missing (see CHATKIT_TEST_PYTHON).");
        return;
    };
    let folder = tempfile::tempdir().expect("temp dir");
    let mut starts = 0;
    let mut start = async || {
        starts += 1;
        let db = folder.path().join(format!("upload-{starts}.db"));
        let mut vars = moto.vars(PREFIX);
        vars.extend([
            ("DATABASE_URL", format!("sqlite://{}", db.display())),
            ("CHATKIT_UPLOAD_MAX_BYTES", (256 * MIB).to_string()),
            (
                "CHATKIT_SECRET_KEY",
                "bench-secret-key-0123456789-abcdefghij".into(),
            ),
        ]);
        Server::start(&vars).await
    };
    let client = reqwest::Client::new();

    report.table(
        "#### Upload memory",
        &[
            "strategy",
            "file",
            "upload time",
            "server peak RSS after a 1 KiB warm-up upload",
            "server peak RSS after the file",
            "growth",
        ],
    );
    let idle = start().await;
    // One request that touches the database, as a server would have answered by then.
    let _ = client.get(format!("{}/healthz", idle.address)).send().await;
    report.row(vec![
        "idle server (started, nothing uploaded)".into(),
        "–".into(),
        "–".into(),
        mib(idle.peak_rss_kib()),
        "–".into(),
        "–".into(),
    ]);
    drop(idle);

    let mut worst_growth = 0;
    for strategy in [Strategy::TwoPhase, Strategy::Direct] {
        for size in SIZES {
            let server = start().await;
            upload(&client, &server, strategy, 1024)
                .await
                .expect("warm-up upload");
            let before = server.peak_rss_kib();
            let sent = Instant::now();
            let uploaded = upload(&client, &server, strategy, size).await;
            let took = sent.elapsed();
            let after = server.peak_rss_kib();
            let stored = match &uploaded {
                Ok(id) => {
                    let key = format!("{PREFIX}/{}", BlobStore::key_for(id));
                    moto.object_size(&key).await
                }
                Err(_) => None,
            };
            report.check(
                stored == Some(size as u64),
                &format!(
                    "{} of {} MiB: stored {stored:?} ({uploaded:?}); server log: {}",
                    strategy.name(),
                    size / MIB,
                    server.log()
                ),
            );
            worst_growth = worst_growth.max(after.saturating_sub(before));
            report.row(vec![
                strategy.name().into(),
                format!("{} MiB", size / MIB),
                format!(
                    "{:.2} s ({:.0} MiB/s)",
                    took.as_secs_f64(),
                    size as f64 / MIB as f64 / took.as_secs_f64()
                ),
                mib(before),
                mib(after),
                mib(after.saturating_sub(before)),
            ]);
        }
    }
    let (_, open) = moto.counts().await;
    report.check(open == 0, &format!("{open} multipart uploads left open"));
    report.note(&format!(
        "Largest growth of the peak over a file upload: {}.",
        mib(worst_growth)
    ));
}

/// Uploads `size` bytes with `strategy`; the attachment's id.
async fn upload(
    client: &reqwest::Client,
    server: &Server,
    strategy: Strategy,
    size: usize,
) -> Result<String, String> {
    let response = match strategy {
        Strategy::TwoPhase => {
            let created = client
                .post(format!("{}/chatkit", server.address))
                .header("X-ChatKit-User", USER)
                .header("Content-Type", "application/json")
                .body(
                    json!({"type": "attachments.create", "params": {
                        "name": "big.txt", "size": size, "mime_type": "text/plain"}})
                    .to_string(),
                )
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let created: Value = created.json().await.map_err(|e| e.to_string())?;
            let url = created["upload_descriptor"]["url"]
                .as_str()
                .ok_or_else(|| format!("no upload URL: {created}"))?;
            client.put(url).body(body(size, None))
        }
        Strategy::Direct => client
            .post(format!("{}/chatkit/upload", server.address))
            .header("X-ChatKit-User", USER)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body(size, Some("big.txt"))),
    };
    let answer = response
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let answer: Value = answer.json().await.map_err(|e| e.to_string())?;
    match answer["id"].as_str() {
        Some(id) if status == 200 => Ok(id.to_owned()),
        _ => Err(format!("HTTP {status}: {answer}")),
    }
}

/// `size` bytes of text made as they are sent, in 1 MiB chunks of one shared buffer; as the
/// `file` field of a multipart form when a file name is given.
fn body(size: usize, multipart: Option<&str>) -> reqwest::Body {
    let block = Bytes::from((0..MIB).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>());
    let chunks = (0..size.div_ceil(MIB)).map(move |n| block.slice(..MIB.min(size - n * MIB)));
    let (head, tail) = match multipart {
        None => (Bytes::new(), Bytes::new()),
        Some(name) => (
            Bytes::from(format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n"
            )),
            Bytes::from(format!("\r\n--{BOUNDARY}--\r\n")),
        ),
    };
    let parts = std::iter::once(head)
        .chain(chunks)
        .chain(std::iter::once(tail))
        .filter(|b| !b.is_empty())
        .map(Ok::<_, std::io::Error>);
    reqwest::Body::wrap_stream(futures_util::stream::iter(parts))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
