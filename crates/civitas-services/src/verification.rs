//! Checking a civil-status certificate: its signature (through the server's keys, a port) and
//! its standing in the certificate list — valid, revoked, superseded by a corrected re-issue,
//! unknown (a good signature, but not issued here) or invalid.

use serde::Serialize;

use civitas_store::Db;

use crate::certificate_issue::CertClaims;
use crate::certificates;

/// The result of checking a payload or certificate id.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// valid, revoked, superseded, unknown (a good signature, but not issued here) or invalid.
    pub status: String,
    pub reason: String,
    pub claims: Option<CertClaims>,
    pub superseded_by: Option<String>,
}

/// Checks `input` — a certificate's payload (what its QR reads) or its id — with `verify` (the
/// signature against the server's keys: the claims, or `None`) and the certificate list.
pub async fn verdict<V, F>(db: &Db, input: &str, verify: V) -> Verdict
where
    V: Fn(String) -> F,
    F: std::future::Future<Output = Option<CertClaims>>,
{
    let input = input.trim();
    let bad =
        |reason: &str| Verdict { status: "invalid".into(), reason: reason.into(), claims: None, superseded_by: None };
    let (claims, stored) = if input.matches('.').count() == 2 {
        match verify(input.to_owned()).await {
            Some(c) if c.typ == "result" => {
                let stored = crate::codes::get(db, &c.no).await.ok().flatten();
                return result_verdict(c, stored, Some(input));
            }
            Some(c) => {
                let stored = certificates::get(db, &c.id).await.ok().flatten();
                if stored.as_ref().is_some_and(|s| s.payload != input) {
                    return bad("the payload does not match the certificate issued under this id");
                }
                (c, stored)
            }
            None => {
                return bad("the signature does not verify with this system's keys (altered, or not issued here)");
            }
        }
    } else if let Some(coded) = crate::codes::get(db, input).await.ok().flatten().filter(|c| c.kind == "result") {
        // A result's document code: its stored signature must still verify.
        let Some(signature) = coded.signature.clone() else {
            return bad("this document code has no signature of the issuing agency");
        };
        return match verify(signature.clone()).await {
            Some(c) => result_verdict(c, Some(coded), Some(&signature)),
            None => bad("the stored signature of this result no longer verifies"),
        };
    } else {
        match certificates::get(db, input).await.ok().flatten() {
            Some(s) => match verify(s.payload.clone()).await {
                Some(c) => (c, Some(s)),
                None => return bad("the stored certificate no longer verifies"),
            },
            None => return bad("no certificate has this code"),
        }
    };
    match stored {
        None => Verdict {
            status: "unknown".into(),
            reason: "signed by this system, but not in its certificate list".into(),
            claims: Some(claims),
            superseded_by: None,
        },
        Some(s) => Verdict {
            reason: match s.status.as_str() {
                "valid" => "the signature verifies and the certificate is in force".into(),
                "superseded" => {
                    format!("replaced by a corrected certificate ({})", s.reason.clone().unwrap_or_default())
                }
                other => format!("the certificate is {other}"),
            },
            status: s.status.clone(),
            superseded_by: s.superseded_by,
            claims: Some(claims),
        },
    }
}

/// The verdict on a result's signed claims against the code stored for it: the signature,
/// the code, the document and its SHA-256 must all agree.
fn result_verdict(claims: CertClaims, stored: Option<crate::codes::Coded>, payload: Option<&str>) -> Verdict {
    let Some(stored) = stored else {
        return Verdict {
            status: "unknown".into(),
            reason: "signed by this system, but no result has this code".into(),
            claims: Some(claims),
            superseded_by: None,
        };
    };
    let agrees = stored.signature.as_deref() == payload
        && claims.no == stored.code
        && claims.id == stored.document_id
        && claims.f.get("sha256") == Some(&stored.sha256);
    if !agrees {
        return Verdict {
            status: "invalid".into(),
            reason: "the signed result does not match the result issued under this code".into(),
            claims: None,
            superseded_by: None,
        };
    }
    Verdict {
        status: "valid".into(),
        reason: format!(
            "a result issued by this system (dossier {}): the signature verifies and its document's SHA-256 is {}",
            stored.dossier_code, stored.sha256
        ),
        claims: Some(claims),
        superseded_by: None,
    }
}

/// The payload a certificate PDF of this system carries in its document information
/// (`/Subject (...)`, the same text as its QR code), or `None` when `bytes` is not such a PDF.
pub fn payload_of_pdf(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"%PDF-") {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    let start = text.find("/Subject (")? + "/Subject (".len();
    let end = text[start..].find(')')?;
    let payload = text[start..start + end].trim();
    (!payload.is_empty()).then(|| payload.to_owned())
}
