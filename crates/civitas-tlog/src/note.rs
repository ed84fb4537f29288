//! C2SP signed notes with Ed25519 keys, checkpoints (c2sp.org/tlog-checkpoint) and witness
//! cosignatures (`cosignature/v1`, c2sp.org/tlog-cosignature).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::{Hash, TlogError};

/// Signature type of an Ed25519 note signature.
const TYPE_ED25519: u8 = 0x01;
/// Signature type of a `cosignature/v1` witness signature.
const TYPE_COSIGNATURE: u8 = 0x04;

fn key_id(name: &str, kind: u8, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([kind]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key name: non-empty, no spaces, no `+`, no control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// An Ed25519 signing key of a log (type 0x01) or of a witness (`cosignature/v1`, type 0x04).
pub struct Signer {
    name: String,
    kind: u8,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("name", &self.name).field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl Signer {
    /// A log's key from its 32-byte seed.
    pub fn log(name: &str, seed: &[u8; 32]) -> Result<Signer, TlogError> {
        Signer::new(name, TYPE_ED25519, seed)
    }

    /// A witness's `cosignature/v1` key from its 32-byte seed.
    pub fn witness(name: &str, seed: &[u8; 32]) -> Result<Signer, TlogError> {
        Signer::new(name, TYPE_COSIGNATURE, seed)
    }

    fn new(name: &str, kind: u8, seed: &[u8; 32]) -> Result<Signer, TlogError> {
        if !valid_name(name) {
            return Err(TlogError::MalformedKey);
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| TlogError::MalformedKey)?;
        Ok(Signer { name: name.to_owned(), kind, pair })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key string, `<name>+<hex key id>+<base64(type || public key)>`.
    pub fn vkey(&self) -> String {
        let public = self.pair.public_key().as_ref();
        let id = key_id(&self.name, self.kind, public);
        let mut typed = vec![self.kind];
        typed.extend_from_slice(public);
        format!("{}+{}+{}", self.name, hex4(&id), STANDARD.encode(typed))
    }

    /// The signature line of `text` (the note's text, ending with a newline).
    pub fn sign_line(&self, text: &str) -> String {
        let id = key_id(&self.name, self.kind, self.pair.public_key().as_ref());
        let sig = self.pair.sign(text.as_bytes());
        let mut bytes = id.to_vec();
        bytes.extend_from_slice(sig.as_ref());
        format!("— {} {}\n", self.name, STANDARD.encode(bytes))
    }

    /// A whole signed note: the text, a blank line, the signature line.
    pub fn sign(&self, text: &str) -> Result<String, TlogError> {
        check_text(text)?;
        Ok(format!("{text}\n{}", self.sign_line(text)))
    }

    /// A `cosignature/v1` line for `checkpoint_text` at `timestamp` (POSIX seconds).
    pub fn cosign_line(&self, checkpoint_text: &str, timestamp: u64) -> String {
        let id = key_id(&self.name, self.kind, self.pair.public_key().as_ref());
        let message = format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}");
        let sig = self.pair.sign(message.as_bytes());
        let mut bytes = id.to_vec();
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(sig.as_ref());
        format!("— {} {}\n", self.name, STANDARD.encode(bytes))
    }
}

fn hex4(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A verifier key parsed from its string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    pub name: String,
    kind: u8,
    id: [u8; 4],
    public: Vec<u8>,
}

impl Verifier {
    pub fn parse(vkey: &str) -> Result<Verifier, TlogError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TlogError::MalformedKey);
        };
        if !valid_name(name) || id_hex.len() != 8 {
            return Err(TlogError::MalformedKey);
        }
        let bytes = STANDARD.decode(key).map_err(|_| TlogError::MalformedKey)?;
        let [kind, public @ ..] = bytes.as_slice() else { return Err(TlogError::MalformedKey) };
        if !matches!(*kind, TYPE_ED25519 | TYPE_COSIGNATURE) || public.len() != 32 {
            return Err(TlogError::MalformedKey);
        }
        let id = key_id(name, *kind, public);
        if hex4(&id) != id_hex {
            return Err(TlogError::MalformedKey);
        }
        Ok(Verifier { name: name.to_owned(), kind: *kind, id, public: public.to_vec() })
    }

    pub fn is_cosigner(&self) -> bool {
        self.kind == TYPE_COSIGNATURE
    }

    /// Checks one signature (the bytes after the key ID) over the note's `text`.
    fn check(&self, text: &str, sig: &[u8]) -> Result<Option<u64>, TlogError> {
        let key = UnparsedPublicKey::new(&ED25519, &self.public);
        match self.kind {
            TYPE_ED25519 => key.verify(text.as_bytes(), sig).map(|_| None).map_err(|_| TlogError::InvalidSignature),
            _ => {
                if sig.len() != 8 + 64 {
                    return Err(TlogError::InvalidSignature);
                }
                let (time, sig) = sig.split_at(8);
                let mut t = [0u8; 8];
                t.copy_from_slice(time);
                let timestamp = u64::from_be_bytes(t);
                let message = format!("cosignature/v1\ntime {timestamp}\n{text}");
                key.verify(message.as_bytes(), sig).map(|_| Some(timestamp)).map_err(|_| TlogError::InvalidSignature)
            }
        }
    }
}

fn check_text(text: &str) -> Result<(), TlogError> {
    if !text.ends_with('\n') {
        return Err(TlogError::MalformedNote("the text must end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(TlogError::MalformedNote("control characters in the text"));
    }
    Ok(())
}

/// A note whose signatures were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The text (ending with a newline).
    pub text: String,
    /// Names of the known keys whose signature verified, with the cosignature's time.
    pub verified_by: Vec<(String, Option<u64>)>,
    /// Every signature line as it was (known or not), to pass the note on.
    pub lines: Vec<String>,
}

/// Opens a signed note with the known `verifiers`: signatures of unknown keys are ignored, an
/// invalid signature of a known key rejects the note, and at least one known key must verify.
pub fn open(note: &str, verifiers: &[Verifier]) -> Result<Opened, TlogError> {
    let split = note.find("\n\n").ok_or(TlogError::MalformedNote("no blank line before the signatures"))?;
    let text = &note[..split + 1];
    check_text(text)?;
    let sigs = &note[split + 2..];
    if !sigs.ends_with('\n') || sigs.is_empty() {
        return Err(TlogError::MalformedNote("signatures must end with a newline"));
    }
    let mut verified_by = Vec::new();
    let mut lines = Vec::new();
    for line in sigs.lines() {
        let rest =
            line.strip_prefix("— ").ok_or(TlogError::MalformedNote("a signature line must start with an em dash"))?;
        let (name, b64) =
            rest.split_once(' ').ok_or(TlogError::MalformedNote("a signature line needs a name and a signature"))?;
        let bytes = STANDARD.decode(b64).map_err(|_| TlogError::MalformedNote("signature is not base64"))?;
        if bytes.len() < 5 {
            return Err(TlogError::MalformedNote("signature too short"));
        }
        lines.push(format!("{line}\n"));
        let (id, sig) = bytes.split_at(4);
        if let Some(v) = verifiers.iter().find(|v| v.name == name && v.id == id) {
            let time = v.check(text, sig)?;
            verified_by.push((name.to_owned(), time));
        }
    }
    if verified_by.is_empty() {
        return Err(TlogError::UnverifiedNote);
    }
    Ok(Opened { text: text.to_owned(), verified_by, lines })
}

/// A checkpoint: the log's origin, its size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// Parses a checkpoint's text (no extension lines).
    pub fn parse(text: &str) -> Result<Checkpoint, TlogError> {
        let lines: Vec<&str> =
            text.strip_suffix('\n').ok_or(TlogError::MalformedCheckpoint("no final newline"))?.split('\n').collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(TlogError::MalformedCheckpoint("three lines expected"));
        };
        if origin.is_empty() {
            return Err(TlogError::MalformedCheckpoint("empty origin"));
        }
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
            return Err(TlogError::MalformedCheckpoint("size is not a decimal number"));
        }
        let size: u64 = size.parse().map_err(|_| TlogError::MalformedCheckpoint("size too large"))?;
        let root = STANDARD.decode(root).map_err(|_| TlogError::MalformedCheckpoint("root is not base64"))?;
        let root: Hash = root.try_into().map_err(|_| TlogError::MalformedCheckpoint("root is not 32 bytes"))?;
        Ok(Checkpoint { origin: (*origin).to_owned(), size, root })
    }

    /// Opens a signed checkpoint with the log's verifier (and any witnesses' verifiers).
    pub fn open(note: &str, log: &Verifier, witnesses: &[Verifier]) -> Result<(Checkpoint, Opened), TlogError> {
        let mut known = vec![log.clone()];
        known.extend_from_slice(witnesses);
        let opened = open(note, &known)?;
        if !opened.verified_by.iter().any(|(n, t)| n == &log.name && t.is_none()) {
            return Err(TlogError::UnverifiedNote);
        }
        let c = Checkpoint::parse(&opened.text)?;
        if c.origin != log.name {
            return Err(TlogError::MalformedCheckpoint("the origin is not the log key's name"));
        }
        Ok((c, opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::log("example.vn/civitas/access", &[7u8; 32]).unwrap()
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_vkey_only() {
        let s = signer();
        let c = Checkpoint { origin: s.name().to_owned(), size: 42, root: [9u8; 32] };
        let note = s.sign(&c.text()).unwrap();
        assert!(note.starts_with("example.vn/civitas/access\n42\nCQkJ"), "{note}");
        assert!(note.contains("\n\n— example.vn/civitas/access "));
        let v = Verifier::parse(&s.vkey()).unwrap();
        let (opened, _) = Checkpoint::open(&note, &v, &[]).unwrap();
        assert_eq!(opened, c);
        // Another key does not verify it; a changed text fails the known key.
        let other = Verifier::parse(&Signer::log("example.vn/civitas/access", &[8u8; 32]).unwrap().vkey()).unwrap();
        assert_eq!(Checkpoint::open(&note, &other, &[]).unwrap_err(), TlogError::UnverifiedNote);
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(Checkpoint::open(&forged, &v, &[]).unwrap_err(), TlogError::InvalidSignature);
    }

    #[test]
    fn cosignatures_verify_and_carry_their_time() {
        let s = signer();
        let w = Signer::witness("witness.example.vn", &[3u8; 32]).unwrap();
        let text = Checkpoint { origin: s.name().to_owned(), size: 1, root: [1u8; 32] }.text();
        let note = format!("{}{}", s.sign(&text).unwrap(), w.cosign_line(&text, 1_796_000_000));
        let log = Verifier::parse(&s.vkey()).unwrap();
        let wv = Verifier::parse(&w.vkey()).unwrap();
        assert!(wv.is_cosigner());
        let (_, opened) = Checkpoint::open(&note, &log, std::slice::from_ref(&wv)).unwrap();
        assert!(opened.verified_by.contains(&("witness.example.vn".to_owned(), Some(1_796_000_000))));
        // A witness key alone does not stand for the log.
        assert!(Checkpoint::open(&note, &wv, &[]).is_err());
    }

    #[test]
    fn malformed_inputs_are_specific_errors() {
        assert_eq!(Verifier::parse("nope"), Err(TlogError::MalformedKey));
        let vkey = signer().vkey();
        assert_eq!(Verifier::parse(&vkey.replacen('+', "+0", 1)), Err(TlogError::MalformedKey));
        for bad in [
            "",
            "o\n1\n",
            "o\n01\nAAAA\n",
            "o\n1\nAAAA\n",
            "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "o\n1\nroot\nextra\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
        let v = Verifier::parse(&vkey).unwrap();
        for bad in
            ["text", "text\n", "text\n\n", "text\n\nno dash\n", "text\n\n— name !!!\n", "t\x01\n\n— n AAAAAAA=\n"]
        {
            assert!(open(bad, std::slice::from_ref(&v)).is_err(), "{bad:?}");
        }
        assert!(signer().sign("no newline").is_err());
        assert!(Signer::log("has space", &[0; 32]).is_err());
    }
}
