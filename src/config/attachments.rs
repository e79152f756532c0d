//! File uploads: where the bytes are kept, what is accepted, how long their signed URLs live and
//! when unused uploads are purged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::database::{is_postgres_url, sqlite_path};
use super::{ConfigError, parse};

/// Attachment storage and limits.
#[derive(Debug, Clone)]
pub struct AttachmentSettings {
    /// `CHATKIT_STORAGE_DIR`: where the bytes are kept.
    pub storage_dir: PathBuf,
    /// `CHATKIT_UPLOAD_MAX_BYTES`: largest accepted file.
    pub max_bytes: u64,
    /// `CHATKIT_ALLOWED_MIME_TYPES`: `type/subtype` or `type/*` patterns, lower case.
    pub allowed_mime_types: Vec<String>,
    /// `CHATKIT_SIGNED_URL_TTL_SECS`: lifetime of upload and preview URLs.
    pub signed_url_ttl: Duration,
    /// `CHATKIT_ATTACHMENT_ORPHAN_HOURS`: age at which an upload never used in a message is
    /// purged.
    pub orphan_age: Duration,
    /// `CHATKIT_ATTACHMENT_SWEEP_SECS`: how often the purge runs.
    pub sweep_interval: Duration,
}

/// What a default server accepts: the images the model reads, PDFs, and text and code files.
pub const DEFAULT_ALLOWED_MIME_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/typescript",
    "text/x-python",
    "text/x-rust",
    "text/x-go",
    "text/x-java",
    "text/x-c",
    "text/x-c++",
    "text/x-shellscript",
    "application/x-sh",
    "application/sql",
    "application/xml",
    "text/xml",
    "application/yaml",
    "application/toml",
];

impl AttachmentSettings {
    /// `database_url` places the default storage folder beside a SQLite file.
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
        database_url: &str,
    ) -> Result<AttachmentSettings, ConfigError> {
        let storage_dir = match get("CHATKIT_STORAGE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => default_storage_dir(database_url),
        };
        let max_bytes = parse::number(
            get,
            "CHATKIT_UPLOAD_MAX_BYTES",
            25 * 1024 * 1024u64,
            1,
            1024 * 1024 * 1024 * 1024,
        )?;
        let allowed_mime_types = allowed_mime_types(get)?;
        let signed_url_ttl =
            parse::secs(get, "CHATKIT_SIGNED_URL_TTL_SECS", 3600, 10, 7 * 24 * 3600)?;
        // Hours, fractions allowed (0.5 = 30 minutes), down to one second.
        let orphan_hours = parse::number(
            get,
            "CHATKIT_ATTACHMENT_ORPHAN_HOURS",
            24f64,
            1.0 / 3600.0,
            24.0 * 3650.0,
        )?;
        let sweep_interval =
            parse::secs(get, "CHATKIT_ATTACHMENT_SWEEP_SECS", 600, 1, 7 * 24 * 3600)?;
        Ok(AttachmentSettings {
            storage_dir,
            max_bytes,
            allowed_mime_types,
            signed_url_ttl,
            orphan_age: Duration::from_secs_f64(orphan_hours * 3600.0),
            sweep_interval,
        })
    }
}

/// `CHATKIT_ALLOWED_MIME_TYPES`, lower-cased, or the defaults when unset.
fn allowed_mime_types(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(patterns) = parse::list(get, "CHATKIT_ALLOWED_MIME_TYPES") else {
        return Ok(DEFAULT_ALLOWED_MIME_TYPES
            .iter()
            .map(|t| (*t).to_owned())
            .collect());
    };
    let patterns: Vec<String> = patterns
        .into_iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    if let Some(bad) = patterns.iter().find(|t| !valid_mime_pattern(t)) {
        return Err(ConfigError::new(
            "CHATKIT_ALLOWED_MIME_TYPES",
            format!("'{bad}' is not a MIME type such as text/plain or image/*"),
        ));
    }
    if patterns.is_empty() {
        return Err(ConfigError::new(
            "CHATKIT_ALLOWED_MIME_TYPES",
            "names no type (leave it unset for the defaults)",
        ));
    }
    Ok(patterns)
}

/// `attachments` beside the SQLite file, or in the working directory for Postgres.
fn default_storage_dir(database_url: &str) -> PathBuf {
    if is_postgres_url(database_url) {
        return PathBuf::from("attachments");
    }
    let file = Path::new(sqlite_path(database_url));
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("attachments"),
        _ => PathBuf::from("attachments"),
    }
}

/// `type/subtype` or `type/*`, in the characters MIME allows.
fn valid_mime_pattern(pattern: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match pattern.split_once('/') {
        Some((kind, "*")) => token(kind),
        Some((kind, sub)) => token(kind) && token(sub),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn attachment_settings() {
        let s = settings(&[("DATABASE_URL", "sqlite:///var/lib/ck/chat.db")]).unwrap();
        assert_eq!(
            s.attachments.storage_dir,
            PathBuf::from("/var/lib/ck/attachments")
        );
        assert_eq!(s.attachments.max_bytes, 26_214_400);
        assert!(
            s.attachments
                .allowed_mime_types
                .contains(&"image/png".to_owned())
        );
        assert_eq!(s.attachments.orphan_age, Duration::from_secs(24 * 3600));
        let s = settings(&[("DATABASE_URL", "sqlite://chatkit.db")]).unwrap();
        assert_eq!(s.attachments.storage_dir, PathBuf::from("attachments"));
        let s = settings(&[("DATABASE_URL", "postgres://db/x")]).unwrap();
        assert_eq!(s.attachments.storage_dir, PathBuf::from("attachments"));

        let s = settings(&[
            ("CHATKIT_ALLOWED_MIME_TYPES", "image/*, Text/Plain"),
            ("CHATKIT_ATTACHMENT_ORPHAN_HOURS", "0.5"),
        ])
        .unwrap();
        assert_eq!(s.attachments.allowed_mime_types, ["image/*", "text/plain"]);
        assert_eq!(s.attachments.orphan_age, Duration::from_secs(1800));

        for (var, value) in [
            ("CHATKIT_ALLOWED_MIME_TYPES", "png"),
            ("CHATKIT_ALLOWED_MIME_TYPES", " , "),
            ("CHATKIT_UPLOAD_MAX_BYTES", "0"),
            ("CHATKIT_ATTACHMENT_ORPHAN_HOURS", "0"),
            ("CHATKIT_ATTACHMENT_SWEEP_SECS", "x"),
        ] {
            assert_eq!(settings(&[(var, value)]).unwrap_err().var, var, "{value}");
        }
    }
}
