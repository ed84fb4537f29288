//! Files served as answers (stored documents, slips, certificates): typed, never sniffed, never
//! cached, and sandboxed when opened inline.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub(crate) fn file_response(media_type: &str, name: &str, bytes: Vec<u8>) -> Response {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    (
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{ascii}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            // A stored file is shown, never run, even when opened inline from this origin.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; sandbox".to_owned()),
        ],
        bytes,
    )
        .into_response()
}
