//! The attachment service: both upload strategies of the ChatKit client (two-phase through
//! `attachments.create` and a signed upload URL, and direct multipart uploads), serving the
//! bytes, deletion, the attachments of new messages, and the purge of unused uploads. It
//! knows nothing of HTTP: routes hand it a byte stream and map its answers.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{Stream, StreamExt};

use crate::auth::signed::{Purpose, TokenError, UrlSigner};
use crate::auth::{AuthError, Authenticator, Credentials, RequestContext};
use crate::chatkit::files::{ImageKind, mime_allowed, normalize_mime, sanitize_name};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::types::{
    Attachment, AttachmentCreateParams, FileAttachment, ImageAttachment, ItemBody, ThreadItem,
    UploadDescriptor, UploadMethod, WireItem,
};
use crate::config::AttachmentSettings;
use crate::store::{
    AttachError, AttachmentRow, Blob, BlobError, BlobStore, Scope, Store, StoreError, UploadState,
};

use super::limits::{Limiter, Refusal};

/// Temporary files untouched this long belong to no live upload.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// Unknown, someone else's, or not uploaded yet: all read the same.
    #[error("attachment not found")]
    NotFound,
    #[error("the file is larger than this server's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("files of type '{0}' are not accepted (CHATKIT_ALLOWED_MIME_TYPES)")]
    TypeNotAllowed(String),
    #[error("the file's bytes are not a {0} image")]
    NotThatImage(String),
    #[error("the upload does not have the {declared} bytes declared in attachments.create")]
    SizeMismatch { declared: u64 },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("this upload URL was already used; create a new attachment")]
    AlreadyUploaded,
    #[error("the request has no file (a multipart/form-data field named 'file')")]
    MissingFile,
    #[error("could not read the upload: {0}")]
    Body(String),
    #[error(transparent)]
    Attach(AttachError),
    #[error(transparent)]
    Auth(AuthError),
    #[error(transparent)]
    Blob(BlobError),
    #[error(transparent)]
    Store(StoreError),
    #[error("{}", .0.message())]
    RateLimited(Refusal),
}

impl From<StoreError> for AttachmentError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(_) => AttachmentError::NotFound,
            StoreError::Attach(e) => AttachmentError::Attach(e),
            other => AttachmentError::Store(other),
        }
    }
}

impl From<BlobError> for AttachmentError {
    fn from(error: BlobError) -> Self {
        match error {
            // The row says the bytes are there: they were removed behind its back.
            BlobError::NotFound => AttachmentError::NotFound,
            other => AttachmentError::Blob(other),
        }
    }
}

impl From<AuthError> for AttachmentError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Store(e) => e.into(),
            other => AttachmentError::Auth(other),
        }
    }
}

/// A file arriving in a request: what the request says about it, and its bytes.
pub struct IncomingFile<S> {
    /// The client's file name (direct uploads), sanitised before use.
    pub name: Option<String>,
    /// The client's content type (direct uploads).
    pub mime_type: Option<String>,
    pub bytes: S,
}

/// A stored file ready to be served.
#[derive(Debug)]
pub struct AttachmentFile {
    pub blob: Blob,
    pub mime_type: String,
    /// Sanitised name for `Content-Disposition`.
    pub name: String,
    /// Shown in the page (a previewable image) rather than downloaded.
    pub inline: bool,
    /// Reached through a signed image URL, which any origin's `<img>` may load.
    pub cross_origin: bool,
}

#[derive(Clone)]
pub struct AttachmentService {
    store: Store,
    blobs: BlobStore,
    auth: Authenticator,
    signer: UrlSigner,
    settings: AttachmentSettings,
    /// Absolute base of the URLs we hand out, without a trailing slash.
    public_url: String,
    /// The chat endpoint's request limits, shared: a direct upload is a request like any other
    /// (a two-phase upload's bytes were counted with their `attachments.create`).
    limits: Limiter,
}

fn unix_now() -> i64 {
    Utc::now().timestamp()
}

impl AttachmentService {
    pub fn new(
        store: Store,
        blobs: BlobStore,
        auth: Authenticator,
        signer: UrlSigner,
        settings: AttachmentSettings,
        public_url: String,
        limits: Limiter,
    ) -> Self {
        AttachmentService {
            store,
            blobs,
            auth,
            signer,
            settings,
            public_url,
            limits,
        }
    }

    /// Whether a request that carries a signed token also presents a caller other than the
    /// owner: a token is not a way to act for someone else.
    async fn names_other_user(
        &self,
        caller: &Credentials,
        row: &AttachmentRow,
    ) -> Result<bool, AttachmentError> {
        Ok(match self.auth.identity(caller).await? {
            Some((account, user)) => account != row.account_id || user != row.user_id,
            None => false,
        })
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// `attachments.create`: checks what the client declares and returns the attachment with
    /// its single-use, expiring upload URL.
    pub async fn create(
        &self,
        ctx: &RequestContext,
        params: AttachmentCreateParams,
    ) -> Result<Attachment, AttachmentError> {
        let name = sanitize_name(&params.name);
        let mime_type = normalize_mime(&params.mime_type, &name);
        self.check_type(&mime_type)?;
        if params.size > self.settings.max_bytes {
            return Err(AttachmentError::TooLarge {
                limit: self.settings.max_bytes,
            });
        }
        let row = self.new_row(
            &ctx.scope,
            name,
            mime_type,
            params.size,
            UploadState::Pending,
        );
        self.store.save_new_attachment(&row).await?;
        Ok(self.to_attachment(&row, true))
    }

    /// The two-phase upload: the bytes of a created attachment, authorised by its upload
    /// token, which works once.
    pub async fn upload<S>(
        &self,
        id: &str,
        token: Option<&str>,
        caller: &Credentials,
        file: IncomingFile<S>,
    ) -> Result<Attachment, AttachmentError>
    where
        S: Stream<Item = Result<Bytes, String>> + Unpin,
    {
        self.signer
            .verify(Purpose::Upload, id, token.unwrap_or_default(), unix_now())?;
        let row = self.store.load_attachment_by_id(id).await?;
        if self.names_other_user(caller, &row).await? {
            return Err(AttachmentError::NotFound);
        }
        let Some(row) = self.store.claim_upload(id).await? else {
            return Err(AttachmentError::AlreadyUploaded);
        };
        let key = BlobStore::key_for(&row.id);
        let declared = u64::try_from(row.size).unwrap_or_default();
        let image = ImageKind::of_mime(&row.mime_type);
        let blob = match self.receive(file.bytes, &key, Some(declared), image).await {
            Ok(blob) => blob,
            Err(e) => {
                if let Err(e) = self.store.fail_upload(id).await {
                    log::error!("attachment {id}: cannot record the failed upload: {e}");
                }
                return Err(e);
            }
        };
        match self
            .store
            .finish_upload(id, blob.size, &blob.sha256, &key)
            .await
        {
            Ok(row) => Ok(self.to_attachment(&row, false)),
            Err(e) => {
                // Deleted while the bytes arrived: they belong to nothing.
                self.remove_blobs(vec![key]).await;
                Err(e.into())
            }
        }
    }

    /// The direct upload: a file from the caller, stored and recorded in one go.
    pub async fn upload_direct<S>(
        &self,
        caller: &Credentials,
        file: IncomingFile<S>,
    ) -> Result<Attachment, AttachmentError>
    where
        S: Stream<Item = Result<Bytes, String>> + Unpin,
    {
        let ctx = self.auth.authenticate(caller).await?;
        self.limits
            .request(&ctx.scope, &ctx.agent)
            .map_err(AttachmentError::RateLimited)?;
        let name = sanitize_name(file.name.as_deref().unwrap_or_default());
        let mime_type = normalize_mime(file.mime_type.as_deref().unwrap_or_default(), &name);
        self.check_type(&mime_type)?;
        let mut row = self.new_row(&ctx.scope, name, mime_type, 0, UploadState::Uploaded);
        let key = BlobStore::key_for(&row.id);
        let image = ImageKind::of_mime(&row.mime_type);
        let blob = self.receive(file.bytes, &key, None, image).await?;
        row.size = i64::try_from(blob.size).unwrap_or(i64::MAX);
        row.sha256 = Some(blob.sha256);
        row.storage_key = Some(key.clone());
        if let Err(e) = self.store.save_new_attachment(&row).await {
            self.remove_blobs(vec![key]).await;
            return Err(e.into());
        }
        Ok(self.to_attachment(&row, false))
    }

    /// The stored file of an attachment, for a signed URL or for its owner.
    pub async fn content(
        &self,
        id: &str,
        token: Option<&str>,
        caller: &Credentials,
    ) -> Result<AttachmentFile, AttachmentError> {
        let (row, signed) = match token {
            Some(token) => {
                self.signer
                    .verify(Purpose::Content, id, token, unix_now())?;
                let row = self.store.load_attachment_by_id(id).await?;
                if self.names_other_user(caller, &row).await? {
                    return Err(AttachmentError::NotFound);
                }
                (row, true)
            }
            None => {
                let ctx = self.auth.authenticate(caller).await?;
                (self.store.load_attachment(&ctx.scope, id).await?, false)
            }
        };
        let key = match (&row.storage_key, row.is_uploaded()) {
            (Some(key), true) => key,
            _ => return Err(AttachmentError::NotFound),
        };
        let image = ImageKind::of_mime(&row.mime_type).is_some();
        Ok(AttachmentFile {
            blob: self.blobs.fetch(key).await?,
            mime_type: row.mime_type.clone(),
            name: row.name.clone(),
            inline: image,
            cross_origin: signed && image,
        })
    }

    /// `attachments.delete`: the caller's attachment and, when nothing else refers to
    /// them, its bytes.
    pub async fn delete(&self, ctx: &RequestContext, id: &str) -> Result<(), AttachmentError> {
        let keys = self.store.delete_attachment(&ctx.scope, id).await?;
        self.remove_blobs(keys).await;
        Ok(())
    }

    /// The attachments of a new message in `thread_id`, as the message carries them. The
    /// store checks them again when the message is saved.
    pub async fn for_message(
        &self,
        scope: &Scope,
        thread_id: &str,
        ids: &[String],
    ) -> Result<Vec<Attachment>, AttachmentError> {
        let rows = self.store.load_attachable(scope, thread_id, ids).await?;
        Ok(rows
            .into_iter()
            .map(|mut row| {
                row.thread_id = Some(thread_id.to_owned());
                self.to_attachment(&row, false)
            })
            .collect())
    }

    /// Gives the image attachments of user messages fresh preview URLs (stored ones expire).
    pub fn refresh_previews(&self, items: &mut [ThreadItem]) {
        for item in items {
            if let ItemBody::UserMessage(message) = &mut item.body {
                for attachment in &mut message.attachments {
                    if let Attachment::Image(image) = attachment {
                        image.preview_url = self.content_url(&image.id);
                    }
                }
            }
        }
    }

    /// [`AttachmentService::refresh_previews`] for items on their way to a client: only parsed
    /// ones can hold an image (see `WireItem`).
    pub fn refresh_wire_previews(&self, items: &mut [WireItem]) {
        for item in items.iter_mut().filter_map(WireItem::parsed_mut) {
            self.refresh_previews(std::slice::from_mut(item));
        }
    }

    /// Removes stored bytes; failures are logged (the sweep of temp files is no help here, so
    /// they need an operator).
    pub async fn remove_blobs(&self, keys: Vec<String>) {
        for key in keys {
            if let Err(e) = self.blobs.remove(&key).await {
                log::error!("cannot remove attachment bytes {key}: {e}");
            }
        }
    }

    /// Purges attachments never used in a message once they are older than the configured
    /// age (rows and bytes), and temporary files of interrupted uploads. Returns how many
    /// stored files were removed.
    pub async fn sweep(&self) -> Result<usize, AttachmentError> {
        let age =
            chrono::Duration::from_std(self.settings.orphan_age).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        let keys = self.store.delete_unused_attachments(cutoff).await?;
        let removed = keys.len();
        self.remove_blobs(keys).await;
        let stale = self
            .blobs
            .remove_stale_temp_files(STALE_TEMP_AGE.max(self.settings.orphan_age))
            .await?;
        if removed + stale > 0 {
            log::info!("purged {removed} unused attachment(s) and {stale} stale temp file(s)");
        }
        Ok(removed)
    }

    fn check_type(&self, mime_type: &str) -> Result<(), AttachmentError> {
        if mime_allowed(mime_type, &self.settings.allowed_mime_types) {
            Ok(())
        } else {
            Err(AttachmentError::TypeNotAllowed(mime_type.to_owned()))
        }
    }

    fn new_row(
        &self,
        scope: &Scope,
        name: String,
        mime_type: String,
        size: u64,
        state: UploadState,
    ) -> AttachmentRow {
        AttachmentRow {
            id: ids::new_id(IdKind::Attachment),
            account_id: scope.account_id.clone(),
            agent_id: scope.agent_id.clone(),
            user_id: scope.user_id.clone(),
            thread_id: None,
            name,
            mime_type,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: None,
            storage_key: None,
            state: state.as_str().to_owned(),
            created_at: Utc::now().naive_utc(),
        }
    }

    /// Streams `bytes` to storage under `key`, enforcing the size limit (and the declared size)
    /// as they arrive and checking an image's signature against its type.
    async fn receive<S>(
        &self,
        mut bytes: S,
        key: &str,
        declared: Option<u64>,
        image: Option<ImageKind>,
    ) -> Result<crate::store::StoredBlob, AttachmentError>
    where
        S: Stream<Item = Result<Bytes, String>> + Unpin,
    {
        let limit = self.settings.max_bytes;
        let mut writer = self.blobs.begin(key).await?;
        let mut signature_checked = image.is_none();
        while let Some(chunk) = bytes.next().await {
            let chunk = chunk.map_err(AttachmentError::Body)?;
            let total = writer.written() + chunk.len() as u64;
            if total > limit {
                return Err(AttachmentError::TooLarge { limit });
            }
            if let Some(declared) = declared
                && total > declared
            {
                return Err(AttachmentError::SizeMismatch { declared });
            }
            writer.write(chunk).await?;
            if !signature_checked && writer.head().len() >= ImageKind::SIGNATURE_LEN {
                check_signature(image, writer.head())?;
                signature_checked = true;
            }
        }
        if let Some(declared) = declared
            && writer.written() != declared
        {
            return Err(AttachmentError::SizeMismatch { declared });
        }
        if !signature_checked {
            check_signature(image, writer.head())?;
        }
        let blob = writer.commit().await?;
        crate::observe::metrics::uploaded(blob.size);
        Ok(blob)
    }

    /// The attachment as the protocol sends it; `upload` adds the upload URL.
    fn to_attachment(&self, row: &AttachmentRow, upload: bool) -> Attachment {
        let upload_descriptor = upload.then(|| UploadDescriptor {
            url: format!(
                "{}/chatkit/attachments/{}/upload?token={}",
                self.public_url,
                row.id,
                self.signer.sign(Purpose::Upload, &row.id, self.expiry())
            ),
            method: UploadMethod::Post,
            headers: Default::default(),
        });
        if ImageKind::of_mime(&row.mime_type).is_some() {
            Attachment::Image(ImageAttachment {
                id: row.id.clone(),
                name: row.name.clone(),
                mime_type: row.mime_type.clone(),
                upload_descriptor,
                thread_id: row.thread_id.clone(),
                preview_url: self.content_url(&row.id),
            })
        } else {
            Attachment::File(FileAttachment {
                id: row.id.clone(),
                name: row.name.clone(),
                mime_type: row.mime_type.clone(),
                upload_descriptor,
                thread_id: row.thread_id.clone(),
            })
        }
    }

    /// A fresh signed URL of the attachment's bytes.
    fn content_url(&self, id: &str) -> String {
        format!("{}{}", self.public_url, self.content_path(id))
    }

    /// The same, relative to the server: for pages it serves itself (the console), which
    /// then load it from their own origin whatever the public URL says.
    pub fn content_path(&self, id: &str) -> String {
        format!(
            "/chatkit/attachments/{id}/content?token={}",
            self.signer.sign(Purpose::Content, id, self.expiry())
        )
    }

    fn expiry(&self) -> i64 {
        let ttl = i64::try_from(self.settings.signed_url_ttl.as_secs()).unwrap_or(i64::MAX);
        unix_now().saturating_add(ttl)
    }
}

fn check_signature(image: Option<ImageKind>, head: &[u8]) -> Result<(), AttachmentError> {
    match image {
        Some(kind) if !kind.matches(head) => Err(AttachmentError::NotThatImage(
            format!("{kind:?}").to_ascii_uppercase(),
        )),
        _ => Ok(()),
    }
}
