//! BagIt (RFC 8493) bags of archive packages: the tag files, writing a bag into a directory
//! and checking one — fixity of every payload file, completeness, `Payload-Oxum`, the tag
//! manifest and the server's signature over it. Pure file work: the signature is checked
//! through a port (the server's keys).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha512};

use crate::certificate_issue::CertClaims;

pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
pub const MANIFEST: &str = "manifest-sha512.txt";
pub const TAGMANIFEST: &str = "tagmanifest-sha512.txt";
/// The server's signature (compact JWS) over the tag manifest; not itself in the tag manifest.
pub const SIGNATURE: &str = "signature.jws";

pub fn sha512_hex(bytes: &[u8]) -> String {
    Sha512::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A path in a manifest: `%`, CR and LF percent-encoded (RFC 8493 §2.1.3).
fn manifest_path(path: &str) -> String {
    path.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn decoded_path(path: &str) -> String {
    path.replace("%0D", "\r").replace("%0A", "\n").replace("%0d", "\r").replace("%0a", "\n").replace("%25", "%")
}

/// `manifest-sha512.txt` of `files` ((path, sha512) pairs), sorted by path.
pub fn manifest(files: &[(String, String)]) -> String {
    let mut lines: Vec<String> = files.iter().map(|(p, h)| format!("{h}  {}\n", manifest_path(p))).collect();
    lines.sort();
    lines.concat()
}

/// `tagmanifest-sha512.txt` over `bagit.txt`, `bag-info.txt` and the payload manifest.
pub fn tagmanifest(bag_info: &str, manifest: &str) -> String {
    let mut out = String::new();
    for (name, text) in [("bag-info.txt", bag_info), ("bagit.txt", BAGIT_TXT), (MANIFEST, manifest)] {
        out.push_str(&format!("{}  {name}\n", sha512_hex(text.as_bytes())));
    }
    out
}

/// A value for `bag-info.txt`: one line.
pub fn info_value(s: &str) -> String {
    s.split(['\r', '\n']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Writes a bag into `dir` (which must not exist): the payload `files` (path under `data/`,
/// bytes), `bag-info.txt`, the manifests and the signature.
pub fn write(dir: &Path, files: &[(String, Vec<u8>)], bag_info: &str, signature: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.parent().unwrap_or(dir))?;
    std::fs::create_dir(dir)?;
    let mut hashes = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let target = safe_join(dir, path)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("unsafe path {path:?}")))?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
        hashes.push((path.clone(), sha512_hex(bytes)));
    }
    let manifest = manifest(&hashes);
    std::fs::write(dir.join("bagit.txt"), BAGIT_TXT)?;
    std::fs::write(dir.join("bag-info.txt"), bag_info)?;
    std::fs::write(dir.join(MANIFEST), &manifest)?;
    std::fs::write(dir.join(TAGMANIFEST), tagmanifest(bag_info, &manifest))?;
    std::fs::write(dir.join(SIGNATURE), format!("{signature}\n"))?;
    Ok(())
}

/// `dir/path` when `path` is a plain relative path under `data/` (no `..`, no root).
fn safe_join(dir: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path);
    let plain = rel.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    (plain && path.starts_with("data/")).then(|| dir.join(rel))
}

/// What is wrong with one file of a bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the bag (`-` for the bag as a whole).
    pub file: String,
    pub problem: String,
}

fn problem(file: &str, what: impl Into<String>) -> Problem {
    Problem { file: file.to_owned(), problem: what.into() }
}

/// Parses a manifest: path → hex digest.
fn parse_manifest(name: &str, text: &str, problems: &mut Vec<Problem>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(2, char::is_whitespace);
        let (Some(hash), Some(path)) = (parts.next(), parts.next()) else {
            problems.push(problem(name, format!("line {}: not `<digest> <path>`", n + 1)));
            continue;
        };
        let path = decoded_path(path.trim_start());
        if hash.len() != 128 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems.push(problem(name, format!("line {}: {hash:?} is not a SHA-512 digest", n + 1)));
            continue;
        }
        out.insert(path, hash.to_ascii_lowercase());
    }
    out
}

/// Every file under `dir/data`, as bag-relative paths with `/`.
fn payload_files(bag: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![bag.join("data")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(bag) {
                out.push(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
            }
        }
    }
    Ok(out)
}

/// The fields of `bag-info.txt` (a continuation line, starting with a blank, joins the last).
pub fn parse_info(text: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t'])
            && let Some(k) = &last
        {
            if let Some(v) = out.get_mut(k) {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.insert(k.trim().to_owned(), v.trim().to_owned());
            last = Some(k.trim().to_owned());
        }
    }
    out
}

/// Checks the bag in `bag`: every problem found (none: the bag is intact and signed by this
/// server). `verify` checks a JWS with the server's keys (its claims, or `None`).
pub async fn check<V, F>(bag: &Path, verify: V) -> Vec<Problem>
where
    V: Fn(String) -> F,
    F: std::future::Future<Output = Option<CertClaims>>,
{
    let mut problems = Vec::new();
    let read = |name: &str| std::fs::read(bag.join(name));
    match read("bagit.txt") {
        Ok(b) if String::from_utf8_lossy(&b).contains("BagIt-Version:") => {}
        Ok(_) => problems.push(problem("bagit.txt", "no BagIt-Version")),
        Err(e) => problems.push(problem("bagit.txt", format!("cannot be read: {e}"))),
    }
    let manifest_bytes = match read(MANIFEST) {
        Ok(b) => b,
        Err(e) => {
            problems.push(problem(MANIFEST, format!("cannot be read: {e}")));
            return problems;
        }
    };
    let manifest = parse_manifest(MANIFEST, &String::from_utf8_lossy(&manifest_bytes), &mut problems);
    let (mut octets, mut count) = (0u64, 0u64);
    for (path, hash) in &manifest {
        let Some(target) = safe_join(bag, path) else {
            problems.push(problem(MANIFEST, format!("{path:?} is not a path under data/")));
            continue;
        };
        match std::fs::read(&target) {
            Ok(bytes) => {
                octets += bytes.len() as u64;
                count += 1;
                if &sha512_hex(&bytes) != hash {
                    problems.push(problem(path, "its SHA-512 differs from the manifest (the file was changed)"));
                }
            }
            Err(_) => problems.push(problem(path, "listed in the manifest but missing")),
        }
    }
    match payload_files(bag) {
        Ok(files) => {
            for f in files.iter().filter(|f| !manifest.contains_key(*f)) {
                problems.push(problem(f, "not in the manifest (a file was added)"));
            }
        }
        Err(e) => problems.push(problem("data", format!("cannot be read: {e}"))),
    }
    let info_text = read("bag-info.txt").map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let info = parse_info(&info_text);
    match info.get("Payload-Oxum") {
        Some(oxum) if *oxum != format!("{octets}.{count}") => {
            problems.push(problem("bag-info.txt", format!("Payload-Oxum {oxum} but the payload is {octets}.{count}")))
        }
        Some(_) => {}
        None => problems.push(problem("bag-info.txt", "no Payload-Oxum")),
    }
    let tag_bytes = match read(TAGMANIFEST) {
        Ok(b) => b,
        Err(e) => {
            problems.push(problem(TAGMANIFEST, format!("cannot be read: {e}")));
            return problems;
        }
    };
    for (path, hash) in parse_manifest(TAGMANIFEST, &String::from_utf8_lossy(&tag_bytes), &mut problems) {
        match read(&path) {
            Ok(bytes) if sha512_hex(&bytes) == hash => {}
            Ok(_) => problems.push(problem(&path, "its SHA-512 differs from the tag manifest (the file was changed)")),
            Err(_) => problems.push(problem(&path, "listed in the tag manifest but missing")),
        }
    }
    let signature = read(SIGNATURE).map(|b| String::from_utf8_lossy(&b).trim().to_owned()).unwrap_or_default();
    if signature.is_empty() {
        problems.push(problem(SIGNATURE, "missing: the bag is not signed"));
        return problems;
    }
    match verify(signature).await {
        None => problems.push(problem(SIGNATURE, "does not verify with this system's keys")),
        Some(c) => {
            if c.typ != "archive" || c.no != sha512_hex(&tag_bytes) {
                problems.push(problem(SIGNATURE, "signs another tag manifest"));
            }
            if info.get("External-Identifier").is_none_or(|id| *id != c.f.get("external").cloned().unwrap_or_default())
            {
                problems.push(problem(SIGNATURE, "signs another package (External-Identifier)"));
            }
        }
    }
    problems
}

/// The bags in `dir`: `dir` itself when it is one, else its subdirectories that are.
pub fn bags_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if dir.join("bagit.txt").exists() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join("bagit.txt").exists())
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_sorted_and_encode_line_breaks() {
        let m = manifest(&[("data/b.pdf".into(), "bb".into()), ("data/a\n%.pdf".into(), "aa".into())]);
        assert_eq!(m, "aa  data/a%0A%25.pdf\nbb  data/b.pdf\n");
        let mut problems = Vec::new();
        let parsed = parse_manifest("m", &format!("{}  data/a%0A%25.pdf\n", "a".repeat(128)), &mut problems);
        assert!(problems.is_empty());
        assert!(parsed.contains_key("data/a\n%.pdf"));
    }

    #[test]
    fn only_plain_paths_under_data_are_written() {
        let dir = Path::new("/tmp/bag");
        assert!(safe_join(dir, "data/x/y.pdf").is_some());
        assert!(safe_join(dir, "data/../../etc/passwd").is_none());
        assert!(safe_join(dir, "/etc/passwd").is_none());
        assert!(safe_join(dir, "bag-info.txt").is_none());
    }

    #[test]
    fn bag_info_is_read_with_continuations() {
        let info = parse_info("External-Identifier: H01.1-261202-0001\nExternal-Description: a\n  b\n");
        assert_eq!(info["External-Identifier"], "H01.1-261202-0001");
        assert_eq!(info["External-Description"], "a b");
        assert_eq!(info_value("x\r\n y"), "x y");
    }
}
