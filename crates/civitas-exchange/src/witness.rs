//! Collecting witnesses' cosignatures of the transparency log's checkpoints
//! (c2sp.org/tlog-witness): each new checkpoint goes to every configured witness with a
//! consistency proof from the size that witness cosigned last; valid cosignatures are kept
//! with the checkpoint, which is then published with them.

use civitas_store::{Db, StoreError};
use civitas_tlog::note::{Checkpoint, Verifier};

/// A witness of the log: where it listens and its verifier key.
#[derive(Debug, Clone)]
pub struct Witness {
    pub url: String,
    pub key: Verifier,
}

/// Parses `"<url> <verifier key>"`.
pub fn parse(text: &str) -> Result<Witness, String> {
    let (url, key) =
        text.trim().split_once(' ').ok_or_else(|| format!("witness {text:?}: expected \"<url> <verifier key>\""))?;
    let key = Verifier::parse(key.trim()).map_err(|e| format!("witness {url}: {e}"))?;
    if !key.is_cosigner() {
        return Err(format!("witness {url}: the key is not a cosignature/v1 key"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("witness {url}: not an http(s) URL"));
    }
    Ok(Witness { url: url.trim_end_matches('/').to_owned(), key })
}

fn cosigned_by(note: &str, log: &Verifier, w: &Verifier) -> bool {
    Checkpoint::open(note, log, std::slice::from_ref(w))
        .is_ok_and(|(_, opened)| opened.verified_by.iter().any(|(n, t)| n == &w.name && t.is_some()))
}

/// One round: sends the latest checkpoint to each witness that has not cosigned it, keeps the
/// cosignatures that verify. Returns how many witnesses cosigned in this round.
pub async fn collect(
    db: &Db,
    log_vkey: &str,
    witnesses: &[Witness],
    client: &reqwest::Client,
) -> Result<usize, StoreError> {
    let (size, note, cosigned) = civitas_store::tlog::checkpoint_and_cosigned(db).await?;
    let log = Verifier::parse(log_vkey).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut lines = if cosigned.starts_with(&note) { cosigned[note.len()..].to_owned() } else { String::new() };
    let mut done = 0;
    for w in witnesses {
        if cosigned_by(&format!("{note}{lines}"), &log, &w.key) {
            continue;
        }
        let held = civitas_store::tlog::witness_size(db, &w.url).await?;
        if held > size {
            tracing::warn!(witness = %w.url, held, size, "the witness holds a larger tree than this log: not sent");
            continue;
        }
        let proof = civitas_store::tlog::consistency_proof(db, held, size).await?;
        let body = civitas_tlog::witness::request(held, &proof, &note);
        let response = match client.post(format!("{}/add-checkpoint", w.url)).body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(witness = %w.url, error = %e, "the witness is unreachable");
                continue;
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200 if cosigned_by(&format!("{note}{lines}{text}"), &log, &w.key) => {
                lines.push_str(&text);
                done += 1;
                civitas_store::tlog::set_witness_size(db, &w.url, size).await?;
            }
            200 => tracing::warn!(witness = %w.url, "the witness's answer is not a valid cosignature"),
            // The witness holds another size: the next round sends a proof from it.
            409 => match text.trim().parse::<u64>() {
                Ok(n) => civitas_store::tlog::set_witness_size(db, &w.url, n).await?,
                Err(_) => tracing::warn!(witness = %w.url, "a 409 without the size held"),
            },
            other => {
                tracing::warn!(witness = %w.url, status = other, body = %text.trim(), "the witness refused the checkpoint")
            }
        }
    }
    if done > 0 {
        civitas_store::tlog::set_cosigned(db, &note, &format!("{note}{lines}")).await?;
    }
    Ok(done)
}

/// The HTTP client witnesses are called with (10 s per call).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default()
}
