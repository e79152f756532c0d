//! What the server accepts as a file and how it treats it, as pure functions: MIME types
//! (normalised, guessed from the name when the browser gave none, matched against the allowed
//! patterns), image signatures, safe display names, and which files the model can read.

/// Longest display name kept, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// An image type the client previews and the model reads; the only types served inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageKind {
    pub fn of_mime(mime: &str) -> Option<ImageKind> {
        match mime {
            "image/png" => Some(ImageKind::Png),
            "image/jpeg" => Some(ImageKind::Jpeg),
            "image/gif" => Some(ImageKind::Gif),
            "image/webp" => Some(ImageKind::Webp),
            _ => None,
        }
    }

    /// Bytes needed to recognise every kind.
    pub const SIGNATURE_LEN: usize = 12;

    /// Whether `head` (the first bytes of the file) starts with this kind's signature.
    pub fn matches(self, head: &[u8]) -> bool {
        match self {
            ImageKind::Png => head.starts_with(b"\x89PNG\r\n\x1a\n"),
            ImageKind::Jpeg => head.starts_with(b"\xff\xd8\xff"),
            ImageKind::Gif => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
            ImageKind::Webp => {
                head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP"
            }
        }
    }
}

/// How the model gets a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelView {
    /// As an image input.
    Image,
    /// Its text, inlined up to a cap.
    Text,
    /// Only its name, type and size.
    Described,
}

impl ModelView {
    pub fn of_mime(mime: &str) -> ModelView {
        if ImageKind::of_mime(mime).is_some() {
            return ModelView::Image;
        }
        let textual = mime.starts_with("text/")
            || mime.ends_with("+json")
            || mime.ends_with("+xml")
            || matches!(
                mime,
                "application/json"
                    | "application/xml"
                    | "application/javascript"
                    | "application/typescript"
                    | "application/x-sh"
                    | "application/sql"
                    | "application/yaml"
                    | "application/x-yaml"
                    | "application/toml"
            );
        if textual {
            ModelView::Text
        } else {
            ModelView::Described
        }
    }
}

/// The declared type in lower case without parameters; a missing or generic type is guessed
/// from the file name (browsers give none for `.md`, `.rs`, …).
pub fn normalize_mime(declared: &str, name: &str) -> String {
    let mime = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if mime.is_empty() || mime == "application/octet-stream" {
        if let Some(guess) = guess_mime(name) {
            return guess.to_owned();
        }
        return "application/octet-stream".to_owned();
    }
    mime
}

/// The type of a file from its extension, for the types we know.
pub fn guess_mime(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" | "cjs" | "jsx" => "text/javascript",
        "ts" | "tsx" => "application/typescript",
        "py" => "text/x-python",
        "rs" => "text/x-rust",
        "go" => "text/x-go",
        "java" => "text/x-java",
        "c" | "h" => "text/x-c",
        "cc" | "cpp" | "cxx" | "hpp" => "text/x-c++",
        "sh" | "bash" => "text/x-shellscript",
        "sql" => "application/sql",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        _ => return None,
    })
}

/// Whether `mime` (normalised) matches one of the `type/subtype` or `type/*` patterns.
pub fn mime_allowed(mime: &str, patterns: &[String]) -> bool {
    patterns
        .iter()
        .any(|pattern| match pattern.strip_suffix("/*") {
            Some(kind) => mime
                .split_once('/')
                .is_some_and(|(k, sub)| k == kind && !sub.is_empty()),
            None => pattern == mime,
        })
}

/// A display name safe in headers and logs: the last path component, without control
/// characters, quotes or backslashes, at most [`MAX_NAME_BYTES`] (keeping the extension), and
/// never empty. It is only ever shown, never used as a path.
pub fn sanitize_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/'))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return "file".to_owned();
    }
    if cleaned.len() <= MAX_NAME_BYTES {
        return cleaned.to_owned();
    }
    let ext = cleaned
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.len() <= 16)
        .unwrap_or_default();
    let keep = MAX_NAME_BYTES - if ext.is_empty() { 0 } else { ext.len() + 1 };
    let mut cut = keep;
    while !cleaned.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = cleaned[..cut].trim_end();
    if ext.is_empty() {
        stem.to_owned()
    } else {
        format!("{stem}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_signatures() {
        assert!(ImageKind::Png.matches(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert!(!ImageKind::Png.matches(b"GIF89a"));
        assert!(ImageKind::Jpeg.matches(b"\xff\xd8\xff\xe0\0\x10JFIF"));
        assert!(ImageKind::Gif.matches(b"GIF87a...."));
        assert!(ImageKind::Webp.matches(b"RIFF\x24\0\0\0WEBPVP8 "));
        assert!(!ImageKind::Webp.matches(b"RIFF\x24\0\0\0WAVEfmt "));
        assert!(!ImageKind::Webp.matches(b"RIFF"));
        assert_eq!(ImageKind::of_mime("image/svg+xml"), None);
    }

    #[test]
    fn mime_types() {
        assert_eq!(
            normalize_mime("Text/Plain; charset=utf-8", "a"),
            "text/plain"
        );
        assert_eq!(normalize_mime("", "notes.MD"), "text/markdown");
        assert_eq!(
            normalize_mime("application/octet-stream", "main.rs"),
            "text/x-rust"
        );
        assert_eq!(normalize_mime("", "blob"), "application/octet-stream");
        let allowed = vec!["image/*".to_owned(), "text/plain".to_owned()];
        assert!(mime_allowed("image/png", &allowed));
        assert!(mime_allowed("text/plain", &allowed));
        assert!(!mime_allowed("text/html", &allowed));
        assert!(!mime_allowed("imagex/png", &allowed));
        assert_eq!(ModelView::of_mime("image/webp"), ModelView::Image);
        assert_eq!(ModelView::of_mime("text/csv"), ModelView::Text);
        assert_eq!(ModelView::of_mime("application/ld+json"), ModelView::Text);
        assert_eq!(ModelView::of_mime("application/pdf"), ModelView::Described);
        assert_eq!(ModelView::of_mime("image/svg+xml"), ModelView::Text);
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\fakepath\\cat.png"), "cat.png");
        assert_eq!(sanitize_name("a\u{0}b\r\n\"c\".txt"), "abc.txt");
        assert_eq!(sanitize_name("  "), "file");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name(".env"), "env");
        let long = format!("{}.txt", "é".repeat(300));
        let cut = sanitize_name(&long);
        assert!(
            cut.len() <= MAX_NAME_BYTES && cut.ends_with(".txt"),
            "{cut}"
        );
    }
}
