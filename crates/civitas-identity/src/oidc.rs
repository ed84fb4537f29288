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
pub const ACCESS_TOKEN_TTL: i64 = 300;
pub const ID_TOKEN_TTL: i64 = 600;
pub const CODE_TTL: i64 = 60;
pub const REQUEST_TTL: i64 = 600;
pub const PAR_TTL: i64 = 90;
pub const SESSION_TTL: i64 = 8 * 3600;
pub const OFFLINE_TTL: i64 = 30 * 86_400;

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
enum Consume<'a> {
    Code(&'a [u8]),
}

pub(crate) type GrantCache = RwLock<HashMap<String, (String, Arc<GrantData>)>>;

pub(crate) type ClientCache = RwLock<HashMap<String, (i64, Client)>>;
const CLIENT_CACHE_SECS: i64 = 30;

impl Identity {
    // ----- clients -----

    pub async fn create_client(&self, new: NewClient, now: time::OffsetDateTime) -> Result<(), ClientError> {
        let invalid = |m: String| Err(ClientError::Invalid(m));
        if new.id.is_empty()
            || new.id.len() > 100
            || !new.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return invalid("the client id must be 1–100 letters, digits, '-', '_' or '.'".into());
        }
        for s in &new.scopes {
            if !SCOPES.contains(&s.as_str()) {
                return invalid(format!("unknown scope {s:?}; known: {}", SCOPES.join(" ")));
            }
        }
        for g in &new.grant_types {
            if !GRANT_TYPES.contains(&g.as_str()) {
                return invalid(format!("unknown grant type {g:?}; known: {}", GRANT_TYPES.join(" ")));
            }
        }
        if new.grant_types.is_empty() {
            return invalid("name at least one grant type".into());
        }
        for u in new.redirect_uris.iter().chain(&new.post_logout_redirect_uris) {
            if let Err(e) = crate::redirect::parse_registered(u) {
                return invalid(format!("redirect URI {u:?} {e}"));
            }
        }
        if new.grant_types.iter().any(|g| g == "authorization_code") && new.redirect_uris.is_empty() {
            return invalid("the authorization_code grant needs at least one redirect URI".into());
        }
        if new.grant_types.iter().any(|g| g == "client_credentials") && new.secret.is_none() && new.jwks.is_empty() {
            return invalid("client_credentials needs a secret or a JWKS (a confidential client)".into());
        }
        if new.secret.as_ref().is_some_and(|s| s.len() < 32) {
            return invalid("the client secret must have at least 32 characters".into());
        }
        let subject_type = new.subject_type.clone().unwrap_or_else(|| "pairwise".into());
        if subject_type != "pairwise" && subject_type != "public" {
            return invalid("the subject type is pairwise or public".into());
        }
        let jwks = (!new.jwks.is_empty()).then(|| serde_json::to_string(&new.jwks).unwrap_or_default());
        let sql = "INSERT INTO oidc_clients (id, name, secret_hash, jwks, redirect_uris, post_logout_redirect_uris, scopes, grant_types, subject_type, role, units, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING";
        let secret_hash = new.secret.as_deref().map(digest);
        let done = dispatch!(&self.db, pool => sqlx::query(sql)
            .bind(&new.id).bind(if new.name.is_empty() { &new.id } else { &new.name }).bind(&secret_hash).bind(&jwks)
            .bind(new.redirect_uris.join(" ")).bind(new.post_logout_redirect_uris.join(" ")).bind(new.scopes.join(" "))
            .bind(new.grant_types.join(" ")).bind(&subject_type).bind(new.role.map(|r| r.as_str())).bind(new.units.join(","))
            .bind(civitas_store::timestamp(now)).execute(pool).await.map(|r| r.rows_affected()).map_err(StoreError::from))?;
        if done == 0 {
            return Err(ClientError::Exists(new.id));
        }
        Ok(())
    }

    pub async fn client(&self, id: &str, now: i64) -> Result<Option<Client>, StoreError> {
        if let Some((at, c)) = self.clients.read().ok().and_then(|m| m.get(id).cloned())
            && now - at < CLIENT_CACHE_SECS
        {
            return Ok(Some(c));
        }
        let sql = "SELECT id, name, secret_hash, jwks, redirect_uris, post_logout_redirect_uris, scopes, grant_types, subject_type, role, units FROM oidc_clients WHERE id = $1";
        let row = dispatch!(&self.db, pool => sqlx::query_as::<_, ClientRow>(sql).bind(id).fetch_optional(pool).await)?;
        let Some(r) = row else { return Ok(None) };
        let client = Client {
            jwks: r.jwks.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default(),
            redirect_uris: words(&r.redirect_uris),
            post_logout_redirect_uris: words(&r.post_logout_redirect_uris),
            scopes: words(&r.scopes),
            grant_types: words(&r.grant_types),
            role: r.role.as_deref().and_then(Role::parse),
            units: r.units.split(',').filter(|u| !u.is_empty()).map(str::to_owned).collect(),
            id: r.id,
            name: r.name,
            secret_hash: r.secret_hash,
            subject_type: r.subject_type,
        };
        if let Ok(mut m) = self.clients.write() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(id.to_owned(), (now, client.clone()));
        }
        Ok(Some(client))
    }

    // ----- browser sessions -----

    /// Starts a session after a successful sign-in; returns the cookie value.
    pub async fn start_session(
        &self,
        pid: &str,
        level: i64,
        amr: &[&str],
        user_agent: &str,
        ip: &str,
        now: time::OffsetDateTime,
    ) -> Result<String, StoreError> {
        let token = random_token(32);
        let ts = now.unix_timestamp();
        let ua: String = user_agent.chars().take(200).collect();
        let sql = "INSERT INTO browser_sessions (id_hash, pid, level, amr, auth_time, expires_at, created_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let at = civitas_store::timestamp(now);
        let event = civitas_store::NewEvent {
            kind: "eid.signed_in",
            subject: pid.to_owned(),
            payload: serde_json::json!({ "level": level, "amr": amr, "ip": ip }),
            actor: pid.to_owned(),
            occurred_at: at.clone(),
        };
        let _writer = self.db.write_lock().await;
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query(sql).bind(digest(&token)).bind(pid).bind(level).bind(amr.join(" ")).bind(ts)
                .bind(ts + SESSION_TTL).bind(&at).bind(&ua).bind(ip).execute(&mut *tx).await?;
            civitas_store::insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(token)
    }

    pub async fn session(&self, token: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let sql = "SELECT id_hash, pid, level, amr, auth_time, expires_at, created_at, user_agent, ip FROM browser_sessions \
                   WHERE id_hash = $1 AND ended_at IS NULL AND expires_at > $2";
        Ok(
            dispatch!(&self.db, pool => sqlx::query_as::<_, Session>(sql).bind(digest(token)).bind(now).fetch_optional(pool).await)?,
        )
    }

    /// Raises a session to level 2 after the second factor.
    pub async fn upgrade_session(&self, token: &str, now: time::OffsetDateTime) -> Result<(), StoreError> {
        let sql = "UPDATE browser_sessions SET level = 2, amr = 'pwd otp mfa', auth_time = $1 WHERE id_hash = $2";
        dispatch!(&self.db, pool => sqlx::query(sql).bind(now.unix_timestamp()).bind(digest(token)).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn end_session(&self, token: &str, now: i64) -> Result<(), StoreError> {
        self.end_session_hash(&digest(token), now).await
    }

    /// Ends one session and revokes the grants bound to it (their access tokens stop working).
    async fn end_session_hash(&self, id_hash: &[u8], now: i64) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE browser_sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL").bind(now).bind(id_hash).execute(&mut *tx).await?;
            sqlx::query("UPDATE grants SET revoked_at = $1 WHERE session_hash = $2 AND revoked_at IS NULL").bind(now).bind(id_hash).execute(&mut *tx).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn end_session_by_sid(&self, pid: &str, sid: &str, now: i64) -> Result<bool, StoreError> {
        for s in self.sessions_of(pid, now).await? {
            if s.sid() == sid {
                self.end_session_hash(&s.id_hash, now).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Ends every session of `pid` and revokes the grants that are bound to sessions
    /// ("sign out everywhere"); offline grants stay until revoked one by one.
    pub async fn end_all_sessions(&self, pid: &str, now: i64) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE browser_sessions SET ended_at = $1 WHERE pid = $2 AND ended_at IS NULL").bind(now).bind(pid).execute(&mut *tx).await?;
            // Grants bound to a session end with it: their access tokens stop working too.
            sqlx::query("UPDATE grants SET revoked_at = $1 WHERE pid = $2 AND session_hash IS NOT NULL AND revoked_at IS NULL").bind(now).bind(pid).execute(&mut *tx).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn sessions_of(&self, pid: &str, now: i64) -> Result<Vec<Session>, StoreError> {
        let sql = "SELECT id_hash, pid, level, amr, auth_time, expires_at, created_at, user_agent, ip FROM browser_sessions \
                   WHERE pid = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY auth_time DESC";
        Ok(dispatch!(&self.db, pool => sqlx::query_as::<_, Session>(sql).bind(pid).bind(now).fetch_all(pool).await)?)
    }

    // ----- authorization requests -----

    /// Validates the parameters of an authorization request (from the query, the form, or a
    /// pushed request). Errors before the redirect URI is known are [`LocalError`]s.
    pub async fn validate_authorization(
        &self,
        params: &HashMap<String, String>,
        now: i64,
    ) -> Result<Result<AuthRequest, (String, Option<String>, OAuthError)>, LocalError> {
        let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let client_id = get("client_id").ok_or_else(|| LocalError("the request names no client_id".into()))?;
        let client = self
            .client(client_id, now)
            .await
            .map_err(|_| LocalError("the server could not read the client registry".into()))?
            .ok_or_else(|| LocalError(format!("unknown client {client_id:?}")))?;
        let redirect_uri = match get("redirect_uri") {
            Some(u) if client.redirect_allowed(u) => u.to_owned(),
            Some(u) => return Err(LocalError(format!("the redirect URI {u:?} is not registered for this client"))),
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return Err(LocalError("the request names no redirect_uri".into())),
        };
        let state = get("state").map(str::to_owned);
        let fail =
            |error: &'static str, d: &str| Ok(Err((redirect_uri.clone(), state.clone(), OAuthError::new(error, d))));
        if !client.allows_grant("authorization_code") {
            return fail("unauthorized_client", "this client may not use the authorization code flow");
        }
        if get("request").is_some() {
            return fail("request_not_supported", "request objects are not supported; use PAR");
        }
        if get("response_type") != Some("code") {
            return fail("unsupported_response_type", "only response_type=code is supported");
        }
        if let Some(mode) = get("response_mode")
            && mode != "query"
        {
            return fail("invalid_request", "only response_mode=query is supported");
        }
        let scope: Vec<String> = words(get("scope").unwrap_or_default());
        if !scope.iter().any(|s| s == "openid") {
            return fail("invalid_scope", "the scope must include openid");
        }
        if let Some(s) = scope.iter().find(|s| !client.scopes.contains(s) && *s != "openid") {
            return fail("invalid_scope", &format!("the client is not registered for scope {s}"));
        }
        let Some(challenge) = get("code_challenge") else {
            return fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256");
        };
        match get("code_challenge_method") {
            Some("S256") => {}
            Some("plain") | None => {
                return fail("invalid_request", "code_challenge_method must be S256; plain is refused");
            }
            Some(_) => return fail("invalid_request", "unknown code_challenge_method; use S256"),
        }
        if challenge.len() != 43 || !challenge.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return fail("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)");
        }
        let mut level = 1;
        if let Some(acr_values) = get("acr_values") {
            let known: Vec<i64> = acr_values.split_whitespace().filter_map(level_of_acr).collect();
            if known.is_empty() {
                return fail(
                    "invalid_request",
                    "acr_values names no supported level (urn:vn:eid:loa:1, urn:vn:eid:loa:2)",
                );
            }
            level = known.into_iter().min().unwrap_or(1);
        }
        let max_age = match get("max_age") {
            Some(m) => match m.parse::<i64>() {
                Ok(v) if v >= 0 => Some(v),
                _ => return fail("invalid_request", "max_age must be a non-negative number of seconds"),
            },
            None => None,
        };
        let prompt = words(get("prompt").unwrap_or_default());
        if prompt.iter().any(|p| !["none", "login", "consent", "select_account"].contains(&p.as_str())) {
            return fail("invalid_request", "unknown prompt value");
        }
        if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
            return fail("invalid_request", "prompt=none cannot be combined with other values");
        }
        let nonce = get("nonce").map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > 512) || state.as_ref().is_some_and(|s| s.len() > 2048) {
            return fail("invalid_request", "state or nonce is too long");
        }
        Ok(Ok(AuthRequest {
            client_id: client.id.clone(),
            redirect_uri,
            scope,
            state,
            nonce,
            code_challenge: challenge.to_owned(),
            level,
            max_age,
            prompt,
            ui_locales: get("ui_locales").map(str::to_owned),
        }))
    }

    /// Stores a validated request; returns its id (the PAR `request_uri` suffix, or the
    /// interaction id of the sign-in pages).
    pub async fn save_request(&self, request: &AuthRequest, pushed: bool, now: i64) -> Result<String, StoreError> {
        let id = random_token(24);
        let ttl = if pushed { PAR_TTL } else { REQUEST_TTL };
        let sql = "INSERT INTO authorization_requests (id, client_id, params, pushed, expires_at) VALUES ($1, $2, $3, $4, $5)";
        let params = serde_json::to_string(request).unwrap_or_default();
        dispatch!(&self.db, pool => sqlx::query(sql).bind(&id).bind(&request.client_id).bind(&params).bind(i64::from(pushed)).bind(now + ttl).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(id)
    }

    /// A pushed request that was not used yet, for the client that pushed it: it becomes an
    /// interaction (usable once as a `request_uri`). Another client's `client_id` neither gets
    /// it nor uses it up.
    pub async fn claim_pushed_request(
        &self,
        id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<AuthRequest>, StoreError> {
        let sql = "UPDATE authorization_requests SET pushed = 2, expires_at = $1 WHERE id = $2 AND pushed = 1 AND expires_at > $3 AND client_id = $4";
        let done = dispatch!(&self.db, pool => sqlx::query(sql).bind(now + REQUEST_TTL).bind(id).bind(now).bind(client_id).execute(pool).await.map(|r| r.rows_affected()))?;
        if done == 0 {
            return Ok(None);
        }
        self.stored_request(id, now).await
    }

    /// A stored interactive request that has not expired.
    pub async fn stored_request(&self, id: &str, now: i64) -> Result<Option<AuthRequest>, StoreError> {
        let sql = "SELECT params FROM authorization_requests WHERE id = $1 AND expires_at > $2 AND pushed <> 1";
        let row: Option<(String,)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(id).bind(now).fetch_optional(pool).await)?;
        Ok(row.and_then(|(p,)| serde_json::from_str(&p).ok()))
    }

    /// Rewrites a stored interactive request (after a fresh sign-in, `prompt=login` and
    /// `max_age` are satisfied and removed).
    pub async fn update_request(&self, id: &str, request: &AuthRequest) -> Result<(), StoreError> {
        let sql = "UPDATE authorization_requests SET params = $1 WHERE id = $2 AND pushed <> 1";
        let params = serde_json::to_string(request).unwrap_or_default();
        dispatch!(&self.db, pool => sqlx::query(sql).bind(&params).bind(id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn drop_request(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query("DELETE FROM authorization_requests WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    // ----- consent -----

    /// The scopes that need the user's consent and have not been given yet.
    pub async fn missing_consent(&self, pid: &str, request: &AuthRequest) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT scopes FROM consents WHERE pid = $1 AND client_id = $2";
        let row: Option<(String,)> = dispatch!(&self.db, pool => sqlx::query_as(sql).bind(pid).bind(&request.client_id).fetch_optional(pool).await)?;
        let given: BTreeSet<String> = row.map(|(s,)| words(&s).into_iter().collect()).unwrap_or_default();
        Ok(request.scope.iter().filter(|s| *s != "openid" && !given.contains(*s)).cloned().collect())
    }

    pub async fn give_consent(
        &self,
        pid: &str,
        client_id: &str,
        scopes: &[String],
        now: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "SELECT scopes FROM consents WHERE pid = $1 AND client_id = $2";
        let row: Option<(String,)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(pid).bind(client_id).fetch_optional(pool).await)?;
        let mut all: BTreeSet<String> = row.map(|(s,)| words(&s).into_iter().collect()).unwrap_or_default();
        all.extend(scopes.iter().filter(|s| *s != "openid").cloned());
        let joined = all.into_iter().collect::<Vec<_>>().join(" ");
        let sql = "INSERT INTO consents (pid, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (pid, client_id) DO UPDATE SET scopes = $3, granted_at = $4";
        dispatch!(&self.db, pool => sqlx::query(sql).bind(pid).bind(client_id).bind(&joined).bind(civitas_store::timestamp(now)).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Consents given by `pid`: (client id, client name, scopes, when).
    pub async fn consents_of(&self, pid: &str) -> Result<Vec<(String, String, String, String)>, StoreError> {
        let sql = "SELECT c.client_id, COALESCE(k.name, c.client_id), c.scopes, c.granted_at FROM consents c \
                   LEFT JOIN oidc_clients k ON k.id = c.client_id WHERE c.pid = $1 ORDER BY c.granted_at DESC";
        Ok(dispatch!(&self.db, pool => sqlx::query_as(sql).bind(pid).fetch_all(pool).await)?)
    }

    /// Withdraws a consent; the client's grants for this person end with it.
    pub async fn revoke_consent(
        &self,
        pid: &str,
        client_id: &str,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = civitas_store::timestamp(now);
        let event = civitas_store::NewEvent {
            kind: "eid.consent_revoked",
            subject: pid.to_owned(),
            payload: serde_json::json!({ "client_id": client_id }),
            actor: pid.to_owned(),
            occurred_at: at,
        };
        let ts = now.unix_timestamp();
        let done = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let n = sqlx::query("DELETE FROM consents WHERE pid = $1 AND client_id = $2").bind(pid).bind(client_id).execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE grants SET revoked_at = $1 WHERE pid = $2 AND client_id = $3 AND revoked_at IS NULL").bind(ts).bind(pid).bind(client_id).execute(&mut *tx).await?;
            civitas_store::insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(n)
        })?;
        Ok(done > 0)
    }

    // ----- codes and tokens -----

    /// The subject identifier of `pid` for `client`: pairwise (per client) unless the client is
    /// registered for public subjects.
    pub fn subject(&self, client: &Client, pid: &str) -> String {
        if client.subject_type == "public" {
            return pid.to_owned();
        }
        let mut input = self.pairwise_salt.clone();
        input.extend_from_slice(client.id.as_bytes());
        input.push(0);
        input.extend_from_slice(pid.as_bytes());
        URL_SAFE_NO_PAD.encode(sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&input)))
    }

    /// Issues a code for `request` signed in by `session`; the request is used up.
    pub async fn issue_code(
        &self,
        request_id: &str,
        request: &AuthRequest,
        session: &Session,
        now: i64,
    ) -> Result<String, StoreError> {
        let code = random_token(32);
        let grant = GrantData {
            family: random_token(18),
            client_id: request.client_id.clone(),
            pid: session.pid.clone(),
            scope: request.scope.clone(),
            nonce: request.nonce.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            level: session.level,
            amr: session.amr_list(),
            auth_time: session.auth_time,
            sid: session.sid(),
            offline: request.scope.iter().any(|s| s == "offline_access"),
        };
        let data = serde_json::to_string(&grant).unwrap_or_default();
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("INSERT INTO grants (family, client_id, pid, grant_data, session_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&grant.family).bind(&grant.client_id).bind(&grant.pid).bind(&data)
                .bind(grant.bound_session(&session.id_hash)).bind(now).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO authorization_codes (code_hash, client_id, pid, session_hash, grant_data, expires_at, family) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(digest(&code)).bind(&grant.client_id).bind(&grant.pid).bind(&session.id_hash).bind(&data).bind(now + CODE_TTL).bind(&grant.family)
                .execute(&mut *tx).await?;
            sqlx::query("DELETE FROM authorization_requests WHERE id = $1").bind(request_id).execute(&mut *tx).await?;
            tx.commit().await
        })?;
        Ok(code)
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE grants SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL";
        dispatch!(&self.db, pool => sqlx::query(sql).bind(now).bind(family).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn grant_revoked(&self, family: &str) -> Result<bool, StoreError> {
        let sql = "SELECT revoked_at FROM grants WHERE family = $1";
        let row: Option<(Option<i64>,)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(family).fetch_optional(pool).await)?;
        Ok(!matches!(row, Some((None,))))
    }

    async fn account_usable(&self, pid: &str) -> Result<bool, StoreError> {
        Ok(self.account_row(pid).await?.is_some_and(|a| a.state == "active"))
    }

    /// The authorization_code grant.
    pub async fn exchange_code(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            client_id: String,
            grant_data: String,
            expires_at: i64,
            used_at: Option<i64>,
            family: String,
        }
        let hash = digest(code);
        let sql =
            "SELECT client_id, grant_data, expires_at, used_at, family FROM authorization_codes WHERE code_hash = $1";
        let row = dispatch!(&self.db, pool => sqlx::query_as::<_, Row>(sql).bind(&hash).fetch_optional(pool).await)?;
        let bad = |d: &str| Err(OAuthError::new("invalid_grant", d));
        let Some(row) = row else { return bad("the authorization code is unknown") };
        if row.client_id != client.id {
            return bad("the authorization code was issued to another client");
        }
        if row.used_at.is_some() {
            self.revoke_family(&row.family, now).await?;
            return bad("the authorization code was already used; the tokens issued with it are revoked");
        }
        if row.expires_at <= now {
            return bad("the authorization code has expired");
        }
        let grant: GrantData = serde_json::from_str(&row.grant_data)
            .map_err(|_| OAuthError::from(StoreError::Corrupt("authorization code data".into())))?;
        if redirect_uri != Some(grant.redirect_uri.as_str()) {
            return bad("redirect_uri differs from the one in the authorization request");
        }
        let Some(verifier) = verifier else { return bad("code_verifier is required (PKCE)") };
        if verifier.len() < 43
            || verifier.len() > 128
            || !verifier.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            return bad("code_verifier must be 43–128 characters of [A-Za-z0-9-._~]");
        }
        if !ct_eq(s256(verifier).as_bytes(), grant.code_challenge.as_bytes()) {
            return bad("code_verifier does not match the code_challenge");
        }
        if self.grant_revoked(&grant.family).await? || !self.account_usable(&grant.pid).await? {
            return bad("the grant was revoked or the account is not active");
        }
        match self.issue_user_tokens(client, &grant, None, Consume::Code(&hash), now).await? {
            Some(tokens) => Ok(tokens),
            None => {
                self.revoke_family(&row.family, now).await?;
                bad("the authorization code was already used; the tokens issued with it are revoked")
            }
        }
    }

    /// Issues the tokens of a grant. The code or refresh token being used is marked used in the
    /// same transaction that stores the new refresh token; `None` when it was used meanwhile.
    async fn issue_user_tokens(
        &self,
        client: &Client,
        grant: &GrantData,
        scope: Option<Vec<String>>,
        consume: Consume<'_>,
        now: i64,
    ) -> Result<Option<TokenResponse>, OAuthError> {
        let refresh_secret = client.allows_grant("refresh_token").then(crate::refresh::new_secret);
        let ttl = if grant.offline { OFFLINE_TTL } else { SESSION_TTL };
        let (consume_sql, consumed) = match consume {
            Consume::Code(h) => {
                ("UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL", h)
            }
        };
        let insert = "INSERT INTO refresh_tokens (secret_hash, family, expires_at) VALUES ($1, $2, $3) RETURNING id";
        // (A first refresh token has no parent; rotations go through `crate::refresh`.)
        let writer = self.db.write_lock().await;
        let stored = dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let done = sqlx::query(consume_sql).bind(now).bind(consumed).execute(&mut *tx).await?.rows_affected();
            if done == 1 {
                let mut id = None;
                if let Some((_, hash)) = &refresh_secret {
                    let (new_id,): (i64,) = sqlx::query_as(insert).bind(hash.as_slice()).bind(&grant.family).bind(now + ttl)
                        .fetch_one(&mut *tx).await?;
                    id = Some(new_id);
                }
                tx.commit().await.map(|_| Some(id))
            } else {
                // Used meanwhile by a concurrent request: nothing is written (the transaction rolls back).
                Ok(None)
            }
        });
        drop(writer);
        let Some(id) = stored.map_err(OAuthError::from)? else { return Ok(None) };
        let refresh_token = id.zip(refresh_secret).map(|(id, (secret, _))| crate::refresh::token_string(id, &secret));
        self.sign_tokens(client, grant, scope, refresh_token, true, now).await.map(Some)
    }

    /// The access and ID tokens of a grant (plus `refresh_token`, already stored).
    async fn sign_tokens(
        &self,
        client: &Client,
        grant: &GrantData,
        scope: Option<Vec<String>>,
        refresh_token: Option<String>,
        with_id_token: bool,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let scope = scope.unwrap_or_else(|| grant.scope.clone());
        let mut sub = self.subject(client, &grant.pid);
        // Officers signed in at level 2 carry their role and units (scope `roles`), under their
        // public identifier: an officer's actions must be attributable.
        let mut officer = None;
        if scope.iter().any(|s| s == "roles") && grant.level >= 2 {
            officer = self.officer_role(&grant.pid).await?;
            if officer.is_some() {
                sub = grant.pid.clone();
            }
        }
        let (role, units) = match officer {
            Some((role, units)) => (Some(role), units),
            None => (None, vec![]),
        };
        let access = AccessClaims {
            iss: self.issuer.clone(),
            sub: sub.clone(),
            aud: client.id.clone(),
            client_id: client.id.clone(),
            scope: scope.join(" "),
            iat: now,
            exp: now + ACCESS_TOKEN_TTL,
            jti: random_token(16),
            role,
            units: units.clone(),
            fam: Some(grant.family.clone()),
            acr: Some(acr_of(grant.level).to_owned()),
        };
        let id = IdClaims {
            iss: self.issuer.clone(),
            sub,
            aud: client.id.clone(),
            exp: now + ID_TOKEN_TTL,
            iat: now,
            auth_time: grant.auth_time,
            nonce: grant.nonce.clone(),
            acr: acr_of(grant.level).to_owned(),
            amr: grant.amr.clone(),
            sid: grant.sid.clone(),
            azp: client.id.clone(),
            role,
            units,
        };
        Ok(TokenResponse {
            access_token: tokens::sign_jws(&self.keys, "at+jwt", &access),
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_TTL,
            id_token: with_id_token.then(|| tokens::sign_jws(&self.keys, "JWT", &id)),
            refresh_token,
            scope: scope.join(" "),
        })
    }

    /// The refresh_token grant: one use per token (rotation); a second use of a rotated token
    /// revokes the whole family (reuse detection).
    pub async fn refresh(
        &self,
        client: &Client,
        token: &str,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let bad = |d: &str| Err(OAuthError::new("invalid_grant", d));
        if !client.allows_grant("refresh_token") {
            return Err(OAuthError::new(
                "unauthorized_client",
                "this client is not registered for the refresh_token grant",
            ));
        }
        let Some(presented) = crate::refresh::parse(token) else { return bad("the refresh token is unknown") };
        // Narrowing the scope is checked against the grant first (a read); then the
        // group-committed rotation consumes the token when every rule holds. A token it did not
        // rotate is read to give the precise error (and a reused one revokes its family).
        let narrowed = match scope.map(words) {
            Some(asked) => {
                let granted = self.refresh_check(client, &presented, now).await?;
                if let Some(s) = asked.iter().find(|s| !granted.contains(s)) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        format!("scope {s} was not part of the original grant"),
                    ));
                }
                Some(asked)
            }
            None => None,
        };
        if let Some(tokens) = self.rotate_refresh(client, &presented, narrowed, now).await? {
            return Ok(tokens);
        }
        self.refresh_check(client, &presented, now).await?;
        bad("the refresh token can no longer be used")
    }

    /// Rotates a refresh token through the group-committed writer and signs the new tokens.
    async fn rotate_refresh(
        &self,
        client: &Client,
        presented: &crate::refresh::Presented,
        scope: Option<Vec<String>>,
        now: i64,
    ) -> Result<Option<TokenResponse>, OAuthError> {
        let bad = |d: &str| Err(OAuthError::new("invalid_grant", d));
        let (secret, hash) = crate::refresh::new_secret();
        let Some((id, family)) = self.refresh_writer.rotate(presented.clone(), hash, now).await? else {
            return Ok(None);
        };
        let successor = crate::refresh::token_string(id, &secret);
        let Some((owner, grant)) = self.grant_of(&family).await? else {
            return Err(OAuthError::from(StoreError::Corrupt("a refresh token without its grant".into())));
        };
        if owner != client.id {
            self.revoke_family(&family, now).await?;
            return bad("the refresh token was issued to another client; its grant is revoked");
        }
        // No new ID token on refresh (OIDC Core 12.2 lets the provider omit it): the sign-in it
        // describes has not changed.
        self.sign_tokens(client, grant.as_ref(), scope, Some(successor), false, now).await.map(Some)
    }

    /// Reads a refresh token and checks every rule: the precise error, or the granted scope.
    /// A token already used (it has a successor) revokes its whole family.
    async fn refresh_check(
        &self,
        client: &Client,
        presented: &crate::refresh::Presented,
        now: i64,
    ) -> Result<Vec<String>, OAuthError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            family: String,
            client_id: String,
            grant_data: String,
            expires_at: i64,
            revoked_at: Option<i64>,
            account_state: Option<String>,
            secret_hash: Vec<u8>,
        }
        let bad = |d: &str| Err(OAuthError::new("invalid_grant", d));
        // One read: the token, its grant's revocation and the account's state; then its successor.
        let sql = "SELECT r.family, g.client_id, g.grant_data, r.expires_at, g.revoked_at, a.state AS account_state, r.secret_hash \
                   FROM refresh_tokens r JOIN grants g ON g.family = r.family LEFT JOIN accounts a ON a.pid = g.pid \
                   WHERE r.id = $1";
        let row =
            dispatch!(&self.db, pool => sqlx::query_as::<_, Row>(sql).bind(presented.id).fetch_optional(pool).await)?;
        let Some(row) = row.filter(|r| ct_eq(&r.secret_hash, &presented.secret_hash)) else {
            return bad("the refresh token is unknown");
        };
        if row.client_id != client.id {
            return bad("the refresh token was issued to another client");
        }
        let successor = "SELECT id FROM refresh_tokens WHERE parent_id = $1";
        let used: Option<(i64,)> =
            dispatch!(&self.db, pool => sqlx::query_as(successor).bind(presented.id).fetch_optional(pool).await)?;
        if used.is_some() {
            self.revoke_family(&row.family, now).await?;
            tracing::warn!(client = %client.id, "refresh token reuse detected; family revoked");
            return bad("the refresh token was already used; every token of this grant is revoked");
        }
        if row.revoked_at.is_some() {
            return bad("the grant was revoked");
        }
        if row.expires_at <= now {
            return bad("the refresh token has expired");
        }
        if row.account_state.as_deref() != Some("active") {
            return bad("the account is not active");
        }
        let grant: GrantData = serde_json::from_str(&row.grant_data)
            .map_err(|_| OAuthError::from(StoreError::Corrupt("refresh token data".into())))?;
        if !grant.offline && !self.session_alive(&grant.pid, &grant.sid, now).await? {
            return bad("the session this token belongs to has ended; sign in again (or ask for offline_access)");
        }
        Ok(grant.scope)
    }

    /// Deletes what can no longer be used: expired authorization requests, codes, refresh tokens
    /// (used ones are kept until they expire, so a replay is still recognised as reuse), revoked
    /// token ids past their expiry, one-time codes past their hour, throttle entries idle for a day, and sessions
    /// that ended or expired 30 days ago. Returns the number of rows deleted.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let statements: [(&str, i64); 7] = [
            ("DELETE FROM authorization_requests WHERE expires_at < $1", now),
            ("DELETE FROM authorization_codes WHERE expires_at < $1", now - 3600),
            ("DELETE FROM refresh_tokens WHERE expires_at < $1", now),
            ("DELETE FROM revoked_tokens WHERE expires_at < $1", now),
            // Kept for the hour-long window of their counters, used or not.
            ("DELETE FROM one_time_codes WHERE expires_at < $1 AND window_start < $1", now - 3600),
            // A failure counter lives 24 hours after its last failure (and its block has ended).
            ("DELETE FROM login_throttle WHERE blocked_until < $1 AND last_failure_at < $1", now - 86_400),
            ("DELETE FROM browser_sessions WHERE expires_at < $1 OR ended_at < $1", now - 30 * 86_400),
        ];
        let mut deleted = 0;
        for (sql, cutoff) in statements {
            let _writer = self.db.write_lock().await;
            deleted += dispatch!(&self.db, pool => sqlx::query(sql).bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))?;
        }
        Ok(deleted)
    }

    /// The client and data of a grant (immutable, so cached by family in this process).
    async fn grant_of(&self, family: &str) -> Result<Option<(String, Arc<GrantData>)>, StoreError> {
        if let Some(hit) = self.grants.read().ok().and_then(|m| m.get(family).cloned()) {
            return Ok(Some(hit));
        }
        let sql = "SELECT client_id, grant_data FROM grants WHERE family = $1";
        let row: Option<(String, String)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(family).fetch_optional(pool).await)?;
        let Some((client_id, data)) = row else { return Ok(None) };
        let grant: GrantData =
            serde_json::from_str(&data).map_err(|_| StoreError::Corrupt(format!("grant {family}")))?;
        let entry = (client_id, Arc::new(grant));
        if let Ok(mut m) = self.grants.write() {
            if m.len() >= 100_000 {
                m.clear();
            }
            m.insert(family.to_owned(), entry.clone());
        }
        Ok(Some(entry))
    }

    async fn session_alive(&self, pid: &str, sid: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self.sessions_of(pid, now).await?.iter().any(|s| s.sid() == sid))
    }

    /// The client_credentials grant: a token carrying the client's role and units.
    pub fn client_credentials(
        &self,
        client: &Client,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows_grant("client_credentials") {
            return Err(OAuthError::new("unauthorized_client", "this client is not registered for client_credentials"));
        }
        let scope = match scope.map(words) {
            Some(asked) => {
                if let Some(s) = asked.iter().find(|s| !client.scopes.contains(s)) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        format!("the client is not registered for scope {s}"),
                    ));
                }
                asked
            }
            None => client.scopes.iter().filter(|s| s.contains('.')).cloned().collect(),
        };
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: client.id.clone(),
            aud: "civitas-api".into(),
            client_id: client.id.clone(),
            scope: scope.join(" "),
            iat: now,
            exp: now + ACCESS_TOKEN_TTL,
            jti: random_token(16),
            role: client.role,
            units: client.units.clone(),
            fam: None,
            acr: None,
        };
        Ok(TokenResponse {
            access_token: tokens::sign_jws(&self.keys, "at+jwt", &claims),
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_TTL,
            id_token: None,
            refresh_token: None,
            scope: scope.join(" "),
        })
    }

    /// Verifies an access token issued by this provider and not revoked.
    pub async fn verify_access_token(&self, token: &str, now: i64) -> Result<Option<AccessClaims>, StoreError> {
        let Ok(claims) = tokens::verify_jws::<AccessClaims>(&self.keys, token).await else { return Ok(None) };
        if claims.iss != self.issuer || claims.exp <= now || claims.iat > now + tokens::MAX_CLOCK_SKEW_SECS {
            return Ok(None);
        }
        Ok(self.access_token_live(&claims.jti, claims.fam.as_deref()).await?.then_some(claims))
    }

    /// Whether an access token this provider issued still stands: not revoked itself (RFC 7009),
    /// and its grant (if any) not revoked — which a sign-out everywhere, a lock, a revocation of
    /// the account or a withdrawn consent all do.
    pub async fn access_token_live(&self, jti: &str, family: Option<&str>) -> Result<bool, StoreError> {
        if let Some(fam) = family
            && self.grant_revoked(fam).await?
        {
            return Ok(false);
        }
        let sql = "SELECT jti FROM revoked_tokens WHERE jti = $1";
        let revoked: Option<(String,)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(jti).fetch_optional(pool).await)?;
        Ok(revoked.is_none())
    }

    /// The person an access token's grant belongs to.
    pub async fn grant_pid(&self, family: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT pid FROM grants WHERE family = $1 AND revoked_at IS NULL";
        let row: Option<(String,)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(family).fetch_optional(pool).await)?;
        Ok(row.map(|r| r.0))
    }

    /// Token revocation (RFC 7009): a refresh token revokes its grant; an access token is
    /// listed as revoked until it expires. Tokens of other clients are left alone.
    pub async fn revoke_token(&self, client: &Client, token: &str, now: i64) -> Result<(), StoreError> {
        if let Ok(claims) = tokens::verify_jws::<AccessClaims>(&self.keys, token).await {
            if claims.client_id == client.id {
                let sql = "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
                dispatch!(&self.db, pool => sqlx::query(sql).bind(&claims.jti).bind(claims.exp).execute(pool).await.map(|r| r.rows_affected()))?;
            }
            return Ok(());
        }
        let Some(presented) = crate::refresh::parse(token) else { return Ok(()) };
        let sql = "SELECT r.family, g.client_id, r.secret_hash FROM refresh_tokens r JOIN grants g ON g.family = r.family WHERE r.id = $1";
        let row: Option<(String, String, Vec<u8>)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(presented.id).fetch_optional(pool).await)?;
        if let Some((family, owner, secret_hash)) = row
            && owner == client.id
            && ct_eq(&secret_hash, &presented.secret_hash)
        {
            self.revoke_family(&family, now).await?;
        }
        Ok(())
    }

    /// Token introspection (RFC 7662) for an authenticated client.
    ///
    /// Only tokens issued to the introspecting client itself are described: any other token is
    /// `active: false` (a client learns nothing about other clients' tokens).
    pub async fn introspect(&self, caller: &str, token: &str, now: i64) -> Result<serde_json::Value, StoreError> {
        if let Some(c) = self.verify_access_token(token, now).await?.filter(|c| c.client_id == caller) {
            let mut v = serde_json::json!({
                "active": true, "token_type": "Bearer", "scope": c.scope, "client_id": c.client_id, "sub": c.sub,
                "aud": c.aud, "iss": c.iss, "exp": c.exp, "iat": c.iat, "jti": c.jti,
            });
            if let Some(role) = c.role {
                v["role"] = serde_json::json!(role.as_str());
                v["units"] = serde_json::json!(c.units);
            }
            if let Some(acr) = c.acr {
                v["acr"] = serde_json::json!(acr);
            }
            return Ok(v);
        }
        #[derive(sqlx::FromRow)]
        struct Row {
            family: String,
            client_id: String,
            grant_data: String,
            expires_at: i64,
            used: Option<i64>,
            secret_hash: Vec<u8>,
        }
        let Some(presented) = crate::refresh::parse(token) else { return Ok(serde_json::json!({ "active": false })) };
        let sql = "SELECT r.family, g.client_id, g.grant_data, r.expires_at, c.id AS used, r.secret_hash FROM refresh_tokens r \
                   JOIN grants g ON g.family = r.family LEFT JOIN refresh_tokens c ON c.parent_id = r.id WHERE r.id = $1";
        let row =
            dispatch!(&self.db, pool => sqlx::query_as::<_, Row>(sql).bind(presented.id).fetch_optional(pool).await)?;
        if let Some(r) = row
            && ct_eq(&r.secret_hash, &presented.secret_hash)
            && r.client_id == caller
            && r.used.is_none()
            && r.expires_at > now
            && !self.grant_revoked(&r.family).await?
            && let (Ok(grant), Ok(Some(client))) =
                (serde_json::from_str::<GrantData>(&r.grant_data), self.client(&r.client_id, now).await)
        {
            return Ok(serde_json::json!({
                "active": true, "token_type": "refresh_token", "scope": grant.scope.join(" "), "client_id": r.client_id,
                "sub": self.subject(&client, &grant.pid), "exp": r.expires_at, "iss": self.issuer,
            }));
        }
        Ok(serde_json::json!({ "active": false }))
    }

    /// Reads an `id_token_hint` (signature checked, expiry not: it may be old at logout).
    pub async fn id_token_hint(&self, token: &str) -> Option<IdTokenHint> {
        let hint = tokens::verify_jws::<IdTokenHint>(&self.keys, token).await.ok()?;
        (hint.iss == self.issuer).then_some(hint)
    }

    /// Verifies a `private_key_jwt` client assertion (RFC 7523): signed by one of the client's
    /// keys, `iss` = `sub` = client id, audience the token endpoint or the issuer, not expired,
    /// and never seen before (its `jti` is remembered until it expires).
    pub async fn check_client_assertion(
        &self,
        client: &Client,
        assertion: &str,
        token_endpoint: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        #[derive(Deserialize)]
        struct A {
            iss: String,
            sub: String,
            aud: serde_json::Value,
            exp: i64,
            jti: String,
        }
        let Some(a) = tokens::verify_with_jwks::<A>(&client.jwks, assertion) else { return Ok(false) };
        let aud_ok = match &a.aud {
            serde_json::Value::String(s) => s == token_endpoint || *s == self.issuer,
            serde_json::Value::Array(v) => {
                v.iter().any(|x| x.as_str() == Some(token_endpoint) || x.as_str() == Some(&self.issuer))
            }
            _ => false,
        };
        if a.iss != client.id || a.sub != client.id || !aud_ok || a.exp <= now || a.exp > now + 3600 || a.jti.is_empty()
        {
            return Ok(false);
        }
        let sql = "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
        let key = format!("assertion:{}:{}", client.id, a.jti);
        let done = dispatch!(&self.db, pool => sqlx::query(sql).bind(&key).bind(a.exp).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The claims released by userinfo for a verified access token, and the fields read (for the
    /// access log). `None` when the grant is gone or the person is not in the register.
    pub async fn userinfo(
        &self,
        claims: &AccessClaims,
        now: i64,
    ) -> Result<Option<(serde_json::Value, Vec<&'static str>)>, StoreError> {
        let Some(family) = &claims.fam else { return Ok(None) };
        let Some(pid) = self.grant_pid(family).await? else { return Ok(None) };
        let scopes = words(&claims.scope);
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut out = serde_json::json!({ "sub": claims.sub });
        let mut fields = vec![];
        let parsed = Pid::parse(&pid).map_err(|_| StoreError::Corrupt("grant pid".into()))?;
        let person = self.register.get(&parsed).await.map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let account = self.account_row(&pid).await?;
        let Some(person) = person else { return Ok(None) };
        if has("pid") {
            out["pid"] = serde_json::json!(pid);
            fields.push("pid");
        }
        if has("profile") {
            out["name"] = serde_json::json!(person.full_name);
            let parts: Vec<&str> = person.full_name.split_whitespace().collect();
            if let (Some(first), Some(last)) = (parts.first(), parts.last()) {
                out["family_name"] = serde_json::json!(first);
                out["given_name"] = serde_json::json!(last);
            }
            out["birthdate"] = serde_json::json!(person.birth_date.to_string());
            out["gender"] = serde_json::json!(person.sex.as_str());
            fields.extend(["full_name", "birth_date", "sex"]);
        }
        if has("address")
            && let Some(r) = &person.permanent_residence
        {
            let units = civitas_core::AdminUnits::get();
            let commune = units.commune(r.commune.as_str());
            let province = commune.and_then(|c| units.province(&c.province_code));
            let locality = commune.map(|c| c.name.clone()).unwrap_or_default();
            let region = province.map(|p| p.name.clone()).unwrap_or_default();
            let formatted: Vec<&str> = [r.address.as_str(), locality.as_str(), region.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            out["address"] = serde_json::json!({
                "formatted": formatted.join(", "),
                "street_address": r.address, "locality": locality, "region": region, "country": "VN",
            });
            fields.push("permanent_residence");
        }
        if has("phone")
            && let Some(p) = account.as_ref().and_then(|a| a.phone.clone())
        {
            out["phone_number"] = serde_json::json!(format!("+84{}", &p[1..]));
            out["phone_number_verified"] = serde_json::json!(true);
        }
        if has("email")
            && let Some(e) = account.as_ref().and_then(|a| a.email.clone())
        {
            out["email"] = serde_json::json!(e);
            out["email_verified"] = serde_json::json!(false);
        }
        let _ = now;
        Ok(Some((out, fields)))
    }

    /// The level a session must have for `request`, and whether it is fresh enough.
    pub fn session_satisfies(&self, session: &Session, request: &AuthRequest, now: i64) -> bool {
        session.level >= request.level && !self.fresh_sign_in_needed(session, request, now)
    }

    /// Whether the request needs the user to sign in again: `prompt=login`, or a session older
    /// than `max_age` (`max_age=0` always, like `prompt=login`).
    pub fn fresh_sign_in_needed(&self, session: &Session, request: &AuthRequest, now: i64) -> bool {
        request.prompt.iter().any(|p| p == "login")
            || request.max_age.is_some_and(|m| m == 0 || now - session.auth_time > m)
    }
}

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
