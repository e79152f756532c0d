//! Loads what the model needs of the files attached in a thread, before the agent runs (the
//! agent never sees the store): images as `data:` URLs, the start of text files, and only the
//! name, type and size of anything else. Local files are read, and images encoded, on the
//! blocking pool.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::agent::{FileContent, ModelFile, ModelFiles, TEXT_INLINE_CAP};
use crate::chatkit::files::ModelView;
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::types::{ItemBody, ThreadItem};
use crate::store::{AttachmentRow, BlobError, BlobStore, Scope, Store, StoreError};

/// The files of every user message in `history` that are still stored.
pub async fn load_model_files(
    store: &Store,
    blobs: &BlobStore,
    scope: &Scope,
    history: &[HistoryEntry],
) -> Result<ModelFiles, StoreError> {
    let mut ids: Vec<String> = Vec::new();
    for entry in history {
        if let HistoryEntry::Item(ThreadItem {
            body: ItemBody::UserMessage(message),
            ..
        }) = entry
        {
            ids.extend(message.attachments.iter().map(|a| a.id().to_owned()));
        }
    }
    let mut files = ModelFiles::new();
    if ids.is_empty() {
        return Ok(files);
    }
    for row in store.load_uploaded_attachments(scope, ids).await? {
        let content = match load_content(blobs, &row).await {
            Ok(content) => content,
            Err(e) => {
                log::warn!("attachment {}: cannot read it for the model: {e}", row.id);
                FileContent::Described
            }
        };
        files.insert(
            row.id.clone(),
            ModelFile {
                name: row.name,
                mime_type: row.mime_type,
                size: u64::try_from(row.size).unwrap_or_default(),
                content,
            },
        );
    }
    Ok(files)
}

async fn load_content(blobs: &BlobStore, row: &AttachmentRow) -> Result<FileContent, BlobError> {
    let Some(key) = &row.storage_key else {
        return Ok(FileContent::Described);
    };
    let size = u64::try_from(row.size).unwrap_or_default();
    Ok(match ModelView::of_mime(&row.mime_type) {
        ModelView::Image => {
            let bytes = blobs.read(key, size).await?;
            let mime = row.mime_type.clone();
            let data_url = tokio::task::spawn_blocking(move || {
                format!("data:{mime};base64,{}", STANDARD.encode(bytes))
            })
            .await
            .map_err(std::io::Error::other)?;
            FileContent::Image { data_url }
        }
        ModelView::Text => {
            let bytes = blobs.read(key, TEXT_INLINE_CAP).await?;
            match utf8_prefix(bytes) {
                Some(text) => FileContent::Text {
                    text,
                    truncated: size > TEXT_INLINE_CAP,
                },
                None => FileContent::Described,
            }
        }
        ModelView::Described => FileContent::Described,
    })
}

/// The bytes as text, dropping a character the cap cut in half; `None` when they are not
/// UTF-8.
fn utf8_prefix(bytes: Vec<u8>) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(e) if e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).ok()
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_prefixes() {
        assert_eq!(utf8_prefix(b"plain".to_vec()).as_deref(), Some("plain"));
        let cut = "aé".as_bytes()[..2].to_vec();
        assert_eq!(utf8_prefix(cut).as_deref(), Some("a"));
        assert_eq!(utf8_prefix(vec![0xff, b'a', b'b']), None);
    }
}
