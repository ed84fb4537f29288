//! A witness (c2sp.org/tlog-witness): given `old <size>`, a consistency proof and a signed
//! checkpoint, it checks the log's signature and that the new tree extends the one it cosigned
//! last, and cosigns (`cosignature/v1`). The caller persists the new state before answering.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Hash;
use crate::merkle::{empty_root, verify_consistency};
use crate::note::{Checkpoint, Signer, Verifier};

/// What a witness holds for one log: the size and root it cosigned last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub size: u64,
    pub root: Hash,
}

impl Held {
    pub fn empty() -> Held {
        Held { size: 0, root: empty_root() }
    }

    pub fn format(&self) -> String {
        format!("{} {}\n", self.size, STANDARD.encode(self.root))
    }

    pub fn parse(text: &str) -> Option<Held> {
        let mut parts = text.split_whitespace();
        let size = parts.next()?.parse().ok()?;
        let root: Hash = STANDARD.decode(parts.next()?).ok()?.try_into().ok()?;
        Some(Held { size, root })
    }
}

/// A refusal with the protocol's status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// `text/x.tlog.size` for 409, plain text otherwise.
    pub body: String,
}

fn refuse(status: u16, body: impl Into<String>) -> Refusal {
    Refusal { status, body: body.into() }
}

/// Handles an `add-checkpoint` request: the new state to persist and the cosignature line.
pub fn add_checkpoint(
    held: Held,
    request: &str,
    log: &Verifier,
    witness: &Signer,
    now: u64,
) -> Result<(Held, String), Refusal> {
    let (head, note) = request.split_once("\n\n").ok_or_else(|| refuse(400, "no blank line before the checkpoint"))?;
    let mut lines = head.split('\n');
    let old: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n.len() == 1 || !n.starts_with('0')))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| refuse(400, "the first line must be `old <size>`"))?;
    let proof = lines
        .map(|l| {
            let h = STANDARD.decode(l).map_err(|_| refuse(400, "a proof line is not base64"))?;
            Hash::try_from(h).map_err(|_| refuse(400, "a proof hash is not 32 bytes"))
        })
        .collect::<Result<Vec<Hash>, Refusal>>()?;
    if proof.len() > 63 {
        return Err(refuse(400, "the proof is too long"));
    }
    // The checkpoint must carry the log's signature (403), of this witness's log (404).
    let opened = crate::note::open(note, std::slice::from_ref(log))
        .map_err(|_| refuse(403, "no valid signature of the log's key"))?;
    let checkpoint = Checkpoint::parse(&opened.text).map_err(|e| refuse(400, e.to_string()))?;
    if checkpoint.origin != log.name {
        return Err(refuse(404, "unknown log origin"));
    }
    if old > checkpoint.size {
        return Err(refuse(400, "old is larger than the checkpoint's size"));
    }
    if old != held.size {
        return Err(refuse(409, format!("{}\n", held.size)));
    }
    verify_consistency(old, checkpoint.size, &held.root, &checkpoint.root, &proof)
        .map_err(|_| refuse(422, "the consistency proof does not hold"))?;
    let line = witness.cosign_line(&opened.text, now);
    Ok((Held { size: checkpoint.size, root: checkpoint.root }, line))
}

/// The body of an `add-checkpoint` request.
pub fn request(old: u64, proof: &[Hash], note: &str) -> String {
    let mut out = format!("old {old}\n");
    for h in proof {
        out.push_str(&STANDARD.encode(h));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(note);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, consistency_proof, leaf_hash, root};

    #[test]
    fn the_witness_protocol() {
        let log = Signer::log("example.vn/log", &[1u8; 32]).unwrap();
        let lv = Verifier::parse(&log.vkey()).unwrap();
        let w = Signer::witness("w.example.vn", &[2u8; 32]).unwrap();
        let wv = Verifier::parse(&w.vkey()).unwrap();
        let mut t = MemoryTree::new();
        for i in 0..10u8 {
            t.push(leaf_hash(&[i]));
        }
        let note_of = |n: u64, t: &MemoryTree| {
            log.sign(&Checkpoint { origin: "example.vn/log".into(), size: n, root: root(t, n).unwrap() }.text())
                .unwrap()
        };
        // First contact: old 0 with an empty proof.
        let note5 = note_of(5, &t);
        let (held, line) = add_checkpoint(Held::empty(), &request(0, &[], &note5), &lv, &w, 1_796_000_000).unwrap();
        assert_eq!(held.size, 5);
        let cosigned = format!("{note5}{line}");
        let (_, opened) = Checkpoint::open(&cosigned, &lv, std::slice::from_ref(&wv)).unwrap();
        assert!(opened.verified_by.contains(&("w.example.vn".into(), Some(1_796_000_000))));
        // Then 5 → 10 with its proof.
        let note10 = note_of(10, &t);
        let proof = consistency_proof(&t, 5, 10).unwrap();
        let (held10, _) = add_checkpoint(held, &request(5, &proof, &note10), &lv, &w, 1).unwrap();
        assert_eq!(held10.size, 10);
        // A stale old size: 409 with the size held.
        assert_eq!(
            add_checkpoint(held10, &request(5, &proof, &note10), &lv, &w, 1).unwrap_err(),
            Refusal { status: 409, body: "10\n".into() }
        );
        // A bad proof: 422; a non-empty proof with old 0: 422.
        let mut bad = proof.clone();
        bad[0][0] ^= 1;
        assert_eq!(add_checkpoint(held, &request(5, &bad, &note10), &lv, &w, 1).unwrap_err().status, 422);
        assert_eq!(add_checkpoint(Held::empty(), &request(0, &proof, &note10), &lv, &w, 1).unwrap_err().status, 422);
        // Another log's key: 403; old beyond the size: 400; garbage: 400.
        let other = Signer::log("example.vn/log", &[9u8; 32]).unwrap();
        let forged =
            other.sign(&Checkpoint { origin: "example.vn/log".into(), size: 10, root: [0; 32] }.text()).unwrap();
        assert_eq!(add_checkpoint(held, &request(5, &proof, &forged), &lv, &w, 1).unwrap_err().status, 403);
        assert_eq!(add_checkpoint(held, &request(11, &proof, &note10), &lv, &w, 1).unwrap_err().status, 400);
        for garbage in ["", "old x\n\nx", "old 05\n\nx", "old 5\n!!\n\nx"] {
            assert_eq!(add_checkpoint(held, garbage, &lv, &w, 1).unwrap_err().status, 400, "{garbage:?}");
        }
        // A fork: same size, another root, is refused.
        let mut t2 = MemoryTree::new();
        for i in 0..10u8 {
            t2.push(leaf_hash(&[i ^ 1]));
        }
        let fork = note_of(10, &t2);
        assert_eq!(add_checkpoint(held10, &request(10, &[], &fork), &lv, &w, 1).unwrap_err().status, 422);
        assert_eq!(Held::parse(&held10.format()), Some(held10));
    }
}
