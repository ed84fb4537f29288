//! Signed bearer tokens (JWS compact, ES256) for officers and agency systems: a subject, a role
//! and the administrative units the holder may act on.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::Signature;
use serde::{Deserialize, Serialize};

use civitas_core::UnitCode;

use crate::keys::KeyRing;

pub const ISSUER: &str = "civitas";

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
}

impl Role {
    pub const ALL: [Role; 4] = [Role::RegistryOfficer, Role::OnestopOfficer, Role::AgencySystem, Role::Auditor];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::RegistryOfficer => "registry-officer",
            Role::OnestopOfficer => "onestop-officer",
            Role::AgencySystem => "agency-system",
            Role::Auditor => "auditor",
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
    #[error("key storage failed")]
    Store(#[from] civitas_store::StoreError),
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

pub fn sign(keys: &KeyRing, claims: &Claims) -> String {
    let (kid, key) = keys.signing_key();
    let header = Header { alg: "ES256".into(), typ: "JWT".into(), kid };
    let encode = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
    let signing_input = format!(
        "{}.{}",
        encode(&serde_json::to_vec(&header).unwrap_or_default()),
        encode(&serde_json::to_vec(claims).unwrap_or_default())
    );
    let signature: Signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", encode(&signature.to_bytes()))
}

/// Verifies signature, issuer and expiry at `now` (unix seconds).
pub async fn verify(keys: &KeyRing, token: &str, now: i64) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
    if header.alg != "ES256" {
        return Err(TokenError::Malformed);
    }
    let key = keys.verifying_key(&header.kid).await?.ok_or(TokenError::UnknownKey)?;
    let signature = Signature::from_slice(&decode(s)?).map_err(|_| TokenError::BadSignature)?;
    let signing_input = &token[..h.len() + 1 + c.len()];
    key.verify(signing_input.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims = serde_json::from_slice(&decode(c)?).map_err(|_| TokenError::Malformed)?;
    if claims.iss != ISSUER {
        return Err(TokenError::WrongIssuer);
    }
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
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
    };
    sign(keys, &claims)
}
