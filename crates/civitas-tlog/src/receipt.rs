//! C2SP `tlog-proof@v1` receipts: an entry's index and inclusion proof with the signed
//! checkpoint they lead to, plus optional unauthenticated `extra` data (the entry's salt).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>
//! index <n>
//! <base64 hash>            (the inclusion proof, leaf's sibling first)
//!
//! <the signed checkpoint, verbatim>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::merkle::{leaf_hash, verify_inclusion};
use crate::note::{Checkpoint, Verifier};
use crate::{Hash, TlogError};

const HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl Receipt {
    pub fn format(&self) -> String {
        let mut out = format!("{HEADER}\n");
        if let Some(e) = &self.extra {
            out.push_str(&format!("extra {}\n", STANDARD.encode(e)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            out.push_str(&STANDARD.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Receipt, TlogError> {
        let bad = TlogError::MalformedReceipt;
        let (head, checkpoint) = text.split_once("\n\n").ok_or(bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("not a c2sp.org/tlog-proof@v1 receipt"));
        }
        let mut extra = None;
        let mut line = lines.next().ok_or(bad("no index"))?;
        if let Some(e) = line.strip_prefix("extra ") {
            extra = Some(STANDARD.decode(e).map_err(|_| bad("extra is not base64"))?);
            line = lines.next().ok_or(bad("no index"))?;
        }
        let index = line.strip_prefix("index ").ok_or(bad("no index"))?;
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) || (index.len() > 1 && index.starts_with('0'))
        {
            return Err(bad("the index is not a decimal number"));
        }
        let index: u64 = index.parse().map_err(|_| bad("the index is too large"))?;
        let proof = lines
            .map(|l| {
                let h = STANDARD.decode(l).map_err(|_| bad("a proof hash is not base64"))?;
                Hash::try_from(h).map_err(|_| bad("a proof hash is not 32 bytes"))
            })
            .collect::<Result<Vec<Hash>, TlogError>>()?;
        if proof.len() > 64 {
            return Err(bad("the proof is too long"));
        }
        Ok(Receipt { extra, index, proof, checkpoint: checkpoint.to_owned() })
    }

    /// Checks the receipt for `entry` (the bytes committed in the log, rebuilt by the caller
    /// from the record and the salt in `extra`): the checkpoint's log signature, then the
    /// inclusion proof. Returns the checkpoint it was proved against.
    pub fn verify(&self, entry: &[u8], log: &Verifier) -> Result<Checkpoint, TlogError> {
        let (checkpoint, _) = Checkpoint::open(&self.checkpoint, log, &[])?;
        verify_inclusion(&leaf_hash(entry), self.index, checkpoint.size, &self.proof, &checkpoint.root)?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, inclusion_proof, root};
    use crate::note::Signer;

    #[test]
    fn a_receipt_round_trips_and_proves_its_entry_only() {
        let signer = Signer::log("example.vn/log", &[1u8; 32]).unwrap();
        let mut t = MemoryTree::new();
        let entries: Vec<Vec<u8>> = (0..11u8).map(|i| vec![i; 5]).collect();
        for e in &entries {
            t.push(leaf_hash(e));
        }
        let c = Checkpoint { origin: "example.vn/log".into(), size: 11, root: root(&t, 11).unwrap() };
        let r = Receipt {
            extra: Some(b"salt".to_vec()),
            index: 6,
            proof: inclusion_proof(&t, 6, 11).unwrap(),
            checkpoint: signer.sign(&c.text()).unwrap(),
        };
        let text = r.format();
        let parsed = Receipt::parse(&text).unwrap();
        assert_eq!(parsed, r);
        let v = Verifier::parse(&signer.vkey()).unwrap();
        assert_eq!(parsed.verify(&entries[6], &v).unwrap(), c);
        assert_eq!(parsed.verify(&entries[5], &v).unwrap_err(), TlogError::BadProof);
        let other = Verifier::parse(&Signer::log("example.vn/log", &[2u8; 32]).unwrap().vkey()).unwrap();
        assert_eq!(parsed.verify(&entries[6], &other).unwrap_err(), TlogError::UnverifiedNote);
        for bad in [
            "",
            "c2sp.org/tlog-proof@v1\n\nx",
            "c2sp.org/tlog-proof@v1\nindex 01\n\nx",
            "c2sp.org/tlog-proof@v1\nindex 1\n!!\n\nx",
            "other\nindex 1\n\nx",
        ] {
            assert!(Receipt::parse(bad).is_err(), "{bad:?}");
        }
    }
}
