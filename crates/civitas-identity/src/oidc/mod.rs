//! The OpenID Connect provider's state and rules: registered clients, browser sessions, pending
//! authorization requests (also pushed ones, RFC 9126), authorization codes with PKCE, grants and
//! their refresh-token families (rotation, reuse detection), consents, and the tokens themselves
//! (ES256 JWTs). The HTTP shapes live in the web crate; everything here takes `now`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use civitas_core::Pid;
use civitas_store::{StoreError, dispatch};

use crate::Identity;
use crate::accounts::{ACR_LEVEL1, acr_of, level_of_acr};
use crate::keys::Jwk;
use crate::secret::{ct_eq, digest, random_token, s256};
use crate::tokens::{self, Role};

/// Lifetimes, in seconds.
pub use crate::refresh::{OFFLINE_TTL, SESSION_TTL};
pub const ACCESS_TOKEN_TTL: i64 = 300;
pub const ID_TOKEN_TTL: i64 = 600;
pub const CODE_TTL: i64 = 60;
pub const REQUEST_TTL: i64 = 600;
pub const PAR_TTL: i64 = 90;

/// Scopes this provider knows. `pid` releases the personal ID number; API scopes are for
/// agency systems.
/// `dossiers`, `documents` and `certificates` let a relying party act in the citizen's own
/// dossiers, document store and civil-status certificates through the API.
pub const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "address",
    "phone",
    "email",
    "offline_access",
    "pid",
    "roles",
    "registry.read",
    "dossiers",
    "documents",
    "certificates",
    "access",
];
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<Vec<u8>>,
    pub jwks: Vec<Jwk>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    /// `pairwise` (default) or `public`.
    pub subject_type: String,
    /// For `client_credentials`: the role and units the client's tokens carry.
    pub role: Option<Role>,
    pub units: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<Vec<u8>>,
    jwks: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    grant_types: String,
    subject_type: String,
    role: Option<String>,
    units: String,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

impl Client {
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn is_confidential(&self) -> bool {
        self.secret_hash.is_some() || !self.jwks.is_empty()
    }

    /// Exact match, except that a registered loopback `http` redirect URI matches any port
    /// (RFC 8252 §7.3).
    pub fn redirect_allowed(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| crate::redirect::matches(r, uri))
    }

    pub fn checks_secret(&self, secret: &str) -> bool {
        self.secret_hash.as_deref().is_some_and(|h| ct_eq(h, &digest(secret)))
    }
}

/// What an operator registers.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub secret: Option<String>,
    pub jwks: Vec<Jwk>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    pub subject_type: Option<String>,
    pub role: Option<Role>,
    pub units: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(String),
    #[error("a client with id {0} already exists")]
    Exists(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// A browser session at the provider.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub pid: String,
    pub level: i64,
    pub amr: String,
    pub auth_time: i64,
    pub expires_at: i64,
    pub created_at: String,
    pub user_agent: String,
    pub ip: String,
}

impl Session {
    pub fn amr_list(&self) -> Vec<String> {
        words(&self.amr)
    }
    /// A short public identifier (the `sid` claim; also lets the holder tell sessions apart).
    pub fn sid(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.id_hash[..12.min(self.id_hash.len())])
    }
}

/// A validated authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// The level the client asked for with `acr_values` (1 when it did not ask).
    pub level: i64,
    pub max_age: Option<i64>,
    pub prompt: Vec<String>,
    pub ui_locales: Option<String>,
}

/// An authorization request that cannot be answered by redirecting to the client (unknown client,
/// unregistered redirect URI): the provider shows the error itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalError(pub String);

/// An OAuth error (RFC 6749 §4.1.2.1 / §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" => 401,
            "server_error" => 500,
            _ => 400,
        };
        OAuthError { status, error, description: description.into() }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = ?e, "storage failed in the OpenID provider");
        OAuthError::new("server_error", "the server could not complete the request")
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::from(StoreError::Database(e))
    }
}

/// What a code or refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantData {
    pub family: String,
    pub client_id: String,
    pub pid: String,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub level: i64,
    pub amr: Vec<String>,
    pub auth_time: i64,
    pub sid: String,
    pub offline: bool,
}

impl GrantData {
    /// The session a refresh token of this grant is bound to (none with `offline_access`).
    fn bound_session<'a>(&self, session_hash: &'a [u8]) -> Option<&'a [u8]> {
        (!self.offline).then_some(session_hash)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Claims of the access tokens this provider issues (RFC 9068 shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    /// The grant family (user tokens), checked for revocation by userinfo and introspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    acr: String,
    amr: Vec<String>,
    sid: String,
    azp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    units: Vec<String>,
}

/// The parts of an ID token the logout endpoint needs.
#[derive(Debug, Clone, Deserialize)]
pub struct IdTokenHint {
    pub iss: String,
    pub aud: String,
    pub sid: String,
}

/// What a token request uses up (refresh tokens rotate through [`crate::refresh`]).
pub(crate) enum Consume<'a> {
    Code(&'a [u8]),
}

pub(crate) type GrantCache = RwLock<HashMap<String, (String, Arc<GrantData>)>>;

pub(crate) type ClientCache = RwLock<HashMap<String, (i64, Client)>>;
const CLIENT_CACHE_SECS: i64 = 30;

mod clients;
mod grants;
mod requests;

/// The `acr` of level 1 (the default when a client does not ask).
pub const DEFAULT_ACR: &str = ACR_LEVEL1;

/// Decodes HTTP Basic client credentials (RFC 6749 §2.3.1: both parts form-urlencoded).
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b'%' => return None,
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret+x"));
        assert_eq!(basic_credentials(&h), Some(("my client".into(), "s:cret x".into())));
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
