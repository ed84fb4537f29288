//! Signed bearer tokens (JWS compact, ES256) for officers and agency systems: a subject, a role
//! and the administrative units the holder may act on.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Verifier;
use serde::{Deserialize, Serialize};

use civitas_core::UnitCode;

use crate::keys::KeyRing;

pub const ISSUER: &str = "civitas";
/// How far in the future a token's `iat` may lie (clocks of several servers differ a little).
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// What a token holder is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Police officers keeping the population register: read and change people in their units.
    RegistryOfficer,
    /// One-stop-shop officers: read people in their units to process dossiers.
    OnestopOfficer,
    /// Systems of other agencies: read people, each read logged with its purpose.
    AgencySystem,
    /// Inspectors: read people and the access log, never change anything.
    Auditor,
    /// Officers of the competent agency who appraise dossiers at their processing steps.
    Specialist,
    /// Leaders of the competent agency who approve or refuse dossiers.
    Leader,
    /// Operators of the system: agencies' endpoints, dead letters and their replay.
    Operator,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::RegistryOfficer,
        Role::OnestopOfficer,
        Role::AgencySystem,
        Role::Auditor,
        Role::Specialist,
        Role::Leader,
        Role::Operator,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::RegistryOfficer => "registry-officer",
            Role::OnestopOfficer => "onestop-officer",
            Role::AgencySystem => "agency-system",
            Role::Auditor => "auditor",
            Role::Specialist => "specialist",
            Role::Leader => "leader",
            Role::Operator => "operator",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn may_change_register(self) -> bool {
        self == Role::RegistryOfficer
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub role: Role,
    /// 2-digit province or 5-digit commune codes.
    pub units: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The grant family of a token the OpenID provider issued (an officer signed in through a
    /// relying party): checked against revocation, sign-out and the account's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

impl Claims {
    /// The parsed units; codes that no longer exist are dropped.
    pub fn unit_codes(&self) -> Vec<UnitCode> {
        self.units.iter().filter_map(|u| UnitCode::parse(u).ok()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWS")]
    Malformed,
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was not issued by this server")]
    WrongIssuer,
    #[error("the token carries no officer or agency role")]
    NoRole,
    #[error("the token was revoked, or its sign-in ended")]
    Revoked,
    #[error("the token claims to be issued in the future")]
    IssuedInFuture,
    #[error("key storage failed")]
    Store(#[from] civitas_store::StoreError),
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: String,
    #[serde(default)]
    kid: String,
}

pub fn sign(keys: &KeyRing, claims: &Claims) -> String {
    sign_jws(keys, "JWT", claims)
}

/// Signs `claims` as a compact JWS (ES256) with the active key, header `typ` = `typ`.
pub fn sign_jws(keys: &KeyRing, typ: &str, claims: &impl Serialize) -> String {
    let active = keys.signing_key();
    let header = Header { alg: "ES256".into(), typ: typ.into(), kid: active.kid.clone() };
    let encode = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
    let signing_input = format!(
        "{}.{}",
        encode(&serde_json::to_vec(&header).unwrap_or_default()),
        encode(&serde_json::to_vec(claims).unwrap_or_default())
    );
    let signature = active.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", encode(&signature))
}

struct Parts<'a> {
    header: Header,
    signing_input: &'a str,
    claims: Vec<u8>,
    signature: Signature,
}

fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
    if header.alg != "ES256" {
        return Err(TokenError::Malformed);
    }
    let signature = Signature::from_slice(&decode(s)?).map_err(|_| TokenError::BadSignature)?;
    Ok(Parts { header, signing_input: &token[..h.len() + 1 + c.len()], claims: decode(c)?, signature })
}

/// Checks the signature of a JWS made by this server and decodes its claims (no claim checks).
pub async fn verify_jws<T: serde::de::DeserializeOwned>(keys: &KeyRing, token: &str) -> Result<T, TokenError> {
    let parts = split(token)?;
    // A high-S signature is the malleable twin of a valid one: this server signs low-S only, so
    // its tokens have exactly one valid form.
    if parts.signature.normalize_s() != parts.signature {
        return Err(TokenError::BadSignature);
    }
    let key = keys.verifying_key(&parts.header.kid).await?.ok_or(TokenError::UnknownKey)?;
    key.verify(parts.signing_input.as_bytes(), &parts.signature).map_err(|_| TokenError::BadSignature)?;
    serde_json::from_slice(&parts.claims).map_err(|_| TokenError::Malformed)
}

/// Checks a JWS against a client's published keys (ES256 only) and decodes its claims.
pub fn verify_with_jwks<T: serde::de::DeserializeOwned>(jwks: &[crate::keys::Jwk], token: &str) -> Option<T> {
    let parts = split(token).ok()?;
    let candidates = jwks.iter().filter(|k| k.kty == "EC" && k.crv == "P-256");
    for jwk in candidates {
        if !parts.header.kid.is_empty() && !jwk.kid.is_empty() && jwk.kid != parts.header.kid {
            continue;
        }
        let (Ok(x), Ok(y)) = (URL_SAFE_NO_PAD.decode(&jwk.x), URL_SAFE_NO_PAD.decode(&jwk.y)) else { continue };
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point) else { continue };
        if key.verify(parts.signing_input.as_bytes(), &parts.signature).is_ok() {
            return serde_json::from_slice(&parts.claims).ok();
        }
    }
    None
}

/// Verifies signature, issuer and expiry at `now` (unix seconds).
pub async fn verify(keys: &KeyRing, token: &str, now: i64) -> Result<Claims, TokenError> {
    #[derive(Deserialize)]
    struct Minimal {
        iss: String,
        exp: i64,
        #[serde(default)]
        iat: i64,
    }
    let value: serde_json::Value = verify_jws(keys, token).await?;
    let minimal: Minimal = serde_json::from_value(value.clone()).map_err(|_| TokenError::Malformed)?;
    if minimal.iss != ISSUER && Some(minimal.iss.as_str()) != keys.issuer() {
        return Err(TokenError::WrongIssuer);
    }
    if minimal.exp <= now {
        return Err(TokenError::Expired);
    }
    if minimal.iat > now + MAX_CLOCK_SKEW_SECS {
        return Err(TokenError::IssuedInFuture);
    }
    if value.get("role").is_none_or(|r| r.is_null()) {
        return Err(TokenError::NoRole);
    }
    serde_json::from_value(value).map_err(|_| TokenError::Malformed)
}

/// Issues a token for `sub` with `role` and `units`, valid `ttl_secs` from `now`.
pub fn issue(keys: &KeyRing, sub: &str, role: Role, units: &[UnitCode], now: i64, ttl_secs: i64) -> String {
    let mut jti = [0u8; 16];
    rand::fill(&mut jti);
    let claims = Claims {
        iss: ISSUER.into(),
        sub: sub.into(),
        role,
        units: units.iter().map(|u| u.as_str().to_owned()).collect(),
        iat: now,
        exp: now + ttl_secs,
        jti: URL_SAFE_NO_PAD.encode(jti),
        fam: None,
    };
    sign(keys, &claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ring() -> (KeyRing, civitas_store::Db, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("civitas-identity-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = civitas_store::Db::connect(&format!("sqlite://{}/k.db", dir.display())).await.unwrap();
        db.migrate().await.unwrap();
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        (KeyRing::load_or_create(&db, now).await.unwrap(), db, dir)
    }

    #[tokio::test]
    async fn issue_verify_and_reject_tampering() {
        let (keys, db, dir) = ring().await;
        let units = [UnitCode::parse("00004").unwrap()];
        let token = issue(&keys, "officer-1", Role::RegistryOfficer, &units, 1_000, 60);
        let claims = verify(&keys, &token, 1_030).await.unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role, claims.units.as_slice()),
            ("officer-1", Role::RegistryOfficer, &["00004".to_string()][..])
        );
        assert!(matches!(verify(&keys, &token, 1_060).await, Err(TokenError::Expired)));
        // Change the role in the payload: the signature no longer matches.
        let parts: Vec<&str> = token.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
            .unwrap()
            .replace("registry-officer", "auditor");
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload), parts[2]);
        assert!(matches!(verify(&keys, &forged, 1_030).await, Err(TokenError::BadSignature)));
        assert!(matches!(verify(&keys, "a.b", 1_030).await, Err(TokenError::Malformed)));
        // The high-S twin of the valid signature is refused.
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let (r, s) = sig.split_scalars();
        let twin = Signature::from_scalars(r, -*s).unwrap();
        assert_ne!(twin.normalize_s(), twin, "the twin is high-S");
        let high = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(twin.to_bytes()));
        assert!(matches!(verify(&keys, &high, 1_030).await, Err(TokenError::BadSignature)));
        // A token issued in the future (beyond the clock skew) is refused.
        let future = issue(&keys, "officer-1", Role::RegistryOfficer, &units, 100_000, 60);
        assert!(matches!(verify(&keys, &future, 1_030).await, Err(TokenError::IssuedInFuture)));
        // "alg": "none" is never accepted.
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"x"}"#), parts[1]);
        assert!(matches!(verify(&keys, &none, 1_030).await, Err(TokenError::Malformed)));
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_rotated_key_keeps_old_tokens_valid_and_other_processes_learn_it() {
        let (keys, db, dir) = ring().await;
        let units = [UnitCode::parse("01").unwrap()];
        let old = issue(&keys, "a", Role::Auditor, &units, 1_000, 600);
        let later = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_001);
        crate::keys::KeyRing::rotate(&db, later, None).await.unwrap();
        // Just after the rotation the old key still signs (the new one is only published).
        let early = KeyRing::load_or_create(&db, later).await.unwrap();
        let still_old = issue(&early, "b", Role::Auditor, &units, 1_000, 600);
        assert_eq!(still_old.split('.').next(), old.split('.').next());
        assert_eq!(early.jwks().len(), 2);
        // A minute later a second process (new ring) signs with the new key; the first one
        // verifies it after reloading the unknown kid from the database.
        let ready = later + time::Duration::seconds(crate::keys::PUBLISH_BEFORE_USE_SECS + 1);
        let other = KeyRing::load_or_create(&db, ready).await.unwrap();
        let new = issue(&other, "b", Role::Auditor, &units, 1_000, 600);
        assert_ne!(new.split('.').next(), old.split('.').next());
        assert!(verify(&keys, &new, 1_001).await.is_ok());
        assert!(verify(&other, &old, 1_001).await.is_ok());
        assert_eq!(other.jwks().len(), 2);
        // Rotating again long after retires the first key (its tokens have expired).
        let much_later = ready + time::Duration::seconds(crate::keys::RETIRE_AFTER_SECS + 1);
        let (_, retired) = crate::keys::KeyRing::rotate(&db, much_later, None).await.unwrap();
        assert_eq!(retired.len(), 1);
        other.reload(much_later).await.unwrap();
        assert_eq!(other.jwks().len(), 2);
        assert!(verify(&other, &old, 1_001).await.is_err(), "the retired key no longer verifies");
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
