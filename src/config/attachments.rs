//! File uploads: where the bytes are kept, what is accepted, how long their signed URLs live and
//! when unused uploads are purged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::database::{is_postgres_url, sqlite_path};
use super::secret::Secret;
use super::{ConfigError, parse};

/// Attachment storage and limits.
#[derive(Debug, Clone)]
pub struct AttachmentSettings {
    /// `CHATKIT_STORAGE_URL` (or `CHATKIT_STORAGE_DIR`): where the bytes are kept.
    pub storage: StorageSettings,
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

/// Where attachment bytes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// A folder on this machine (shared by every process of a deployment).
    Local(PathBuf),
    /// An S3-compatible bucket, which every process reaches on its own.
    S3(S3Settings),
}

/// An S3-compatible bucket and how to reach it. The `AWS_*` variables are read here rather
/// than by the client library, so that every setting is parsed (and documented) in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Folder inside the bucket, without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`; `us-east-1` when neither is set.
    pub region: String,
    /// `AWS_ENDPOINT_URL`: another provider (R2, MinIO, Ceph…); AWS when unset.
    pub endpoint: Option<String>,
    /// `AWS_ALLOW_HTTP`: allow a plain-HTTP endpoint.
    pub allow_http: bool,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`; without them the instance's
    /// metadata service is asked for credentials.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
}

impl StorageSettings {
    /// Where the bytes are, for logs and errors: a folder or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match self {
            StorageSettings::Local(dir) => dir.display().to_string(),
            StorageSettings::S3(s3) => format!("s3://{}/{}", s3.bucket, s3.prefix),
        }
    }
}

impl AttachmentSettings {
    /// `database_url` places the default storage folder beside a SQLite file.
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
        database_url: &str,
    ) -> Result<AttachmentSettings, ConfigError> {
        let storage = storage(get, database_url)?;
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
            storage,
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

/// `CHATKIT_STORAGE_URL` (`file://…` or `s3://bucket/prefix`), else `CHATKIT_STORAGE_DIR`, else
/// the default folder. Both at once are refused: which one wins would be a guess.
fn storage(
    get: &impl Fn(&str) -> Option<String>,
    database_url: &str,
) -> Result<StorageSettings, ConfigError> {
    const VAR: &str = "CHATKIT_STORAGE_URL";
    let Some(url) = get(VAR) else {
        return Ok(StorageSettings::Local(match get("CHATKIT_STORAGE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => default_storage_dir(database_url),
        }));
    };
    if get("CHATKIT_STORAGE_DIR").is_some() {
        return Err(ConfigError::new(
            VAR,
            "set either CHATKIT_STORAGE_URL or CHATKIT_STORAGE_DIR, not both",
        ));
    }
    if let Some(path) = url.strip_prefix("file://") {
        if path.is_empty() {
            return Err(ConfigError::new(VAR, "file:// names no folder"));
        }
        return Ok(StorageSettings::Local(PathBuf::from(path)));
    }
    let Some(rest) = url.strip_prefix("s3://") else {
        return Err(ConfigError::new(
            VAR,
            format!("'{url}' is neither file:///path nor s3://bucket/prefix"),
        ));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid_bucket {
        return Err(ConfigError::new(
            VAR,
            format!("'{bucket}' is not a bucket name (s3://bucket/prefix)"),
        ));
    }
    let prefix: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    if prefix.iter().any(|s| matches!(*s, "." | "..")) {
        return Err(ConfigError::new(VAR, "the prefix may not contain . or .."));
    }
    let endpoint = get("AWS_ENDPOINT_URL");
    if let Some(endpoint) = &endpoint
        && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
    {
        return Err(ConfigError::new(
            "AWS_ENDPOINT_URL",
            format!("'{endpoint}' is not an http(s) URL"),
        ));
    }
    let access_key_id = get("AWS_ACCESS_KEY_ID");
    let secret_access_key = get("AWS_SECRET_ACCESS_KEY").map(Secret::new);
    if access_key_id.is_some() != secret_access_key.is_some() {
        return Err(ConfigError::new(
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together",
        ));
    }
    Ok(StorageSettings::S3(S3Settings {
        bucket: bucket.to_owned(),
        prefix: prefix.join("/"),
        region: get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned()),
        allow_http: parse::flag(get, "AWS_ALLOW_HTTP", false)?,
        endpoint,
        access_key_id,
        secret_access_key,
        session_token: get("AWS_SESSION_TOKEN").map(Secret::new),
    }))
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
            s.attachments.storage,
            StorageSettings::Local(PathBuf::from("/var/lib/ck/attachments"))
        );
        assert_eq!(s.attachments.max_bytes, 26_214_400);
        assert!(
            s.attachments
                .allowed_mime_types
                .contains(&"image/png".to_owned())
        );
        assert_eq!(s.attachments.orphan_age, Duration::from_secs(24 * 3600));
        let local = StorageSettings::Local(PathBuf::from("attachments"));
        let s = settings(&[("DATABASE_URL", "sqlite://chatkit.db")]).unwrap();
        assert_eq!(s.attachments.storage, local);
        let s = settings(&[("DATABASE_URL", "postgres://db/x")]).unwrap();
        assert_eq!(s.attachments.storage, local);
        let s = settings(&[("CHATKIT_STORAGE_URL", "file:///srv/files")]).unwrap();
        assert_eq!(
            s.attachments.storage,
            StorageSettings::Local(PathBuf::from("/srv/files"))
        );

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
            ("CHATKIT_STORAGE_URL", "ftp://host/x"),
            ("CHATKIT_STORAGE_URL", "s3:///prefix"),
            ("CHATKIT_STORAGE_URL", "s3://b/a/../c"),
            ("CHATKIT_STORAGE_URL", "file://"),
        ] {
            assert_eq!(settings(&[(var, value)]).unwrap_err().var, var, "{value}");
        }
    }

    #[test]
    fn s3_storage_settings() {
        let s = settings(&[
            ("CHATKIT_STORAGE_URL", "s3://my-bucket//chat/files/"),
            ("AWS_DEFAULT_REGION", "auto"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .unwrap();
        let StorageSettings::S3(s3) = s.attachments.storage else {
            panic!("not S3: {:?}", s.attachments.storage);
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("my-bucket", "chat/files")
        );
        assert_eq!(s3.region, "auto");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(s3.allow_http);
        assert_eq!(s3.secret_access_key.unwrap().expose(), "secret");
        assert!(s3.session_token.is_none());

        let s = settings(&[("CHATKIT_STORAGE_URL", "s3://b")]).unwrap();
        let StorageSettings::S3(s3) = s.attachments.storage else {
            panic!("not S3");
        };
        assert_eq!((s3.prefix.as_str(), s3.region.as_str()), ("", "us-east-1"));
        assert!(!s3.allow_http && s3.endpoint.is_none() && s3.access_key_id.is_none());

        for (vars, var) in [
            (
                &[
                    ("CHATKIT_STORAGE_URL", "s3://b"),
                    ("CHATKIT_STORAGE_DIR", "/x"),
                ][..],
                "CHATKIT_STORAGE_URL",
            ),
            (
                &[
                    ("CHATKIT_STORAGE_URL", "s3://b"),
                    ("AWS_ACCESS_KEY_ID", "id"),
                ][..],
                "AWS_SECRET_ACCESS_KEY",
            ),
            (
                &[
                    ("CHATKIT_STORAGE_URL", "s3://b"),
                    ("AWS_ENDPOINT_URL", "minio:9000"),
                ][..],
                "AWS_ENDPOINT_URL",
            ),
            (
                &[
                    ("CHATKIT_STORAGE_URL", "s3://b"),
                    ("AWS_ALLOW_HTTP", "maybe"),
                ][..],
                "AWS_ALLOW_HTTP",
            ),
        ] {
            assert_eq!(settings(vars).unwrap_err().var, var, "{vars:?}");
        }
    }
}
