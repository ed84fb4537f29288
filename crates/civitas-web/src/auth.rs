//! Who is calling: bearer tokens verified into a [`Caller`] with a role and administrative
//! units. Handlers take a `Caller` (any role) or a [`RegistryOfficer`] (may change the register),
//! so the signature says who may call.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use civitas_core::{AdminUnits, UnitCode};
use civitas_identity::tokens::{self, TokenError};
use civitas_identity::{Claims, Role};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::Problem;

/// An authenticated token holder.
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: Claims,
    pub units: Vec<UnitCode>,
    /// The `X-Purpose` header: why the data is read (required of agency systems).
    pub purpose: Option<String>,
    pub request_id: Option<String>,
    /// How the caller reads (the access log's `how`): `api`, `page`, `counter-card`, ...
    pub how: &'static str,
    /// An agency system's call: the grant it is admitted under, for which official and case.
    pub exchange: Option<Box<Exchange>>,
}

/// An agency system's call admitted under a grant (see [`crate::exchange::admit`]).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub grant: civitas_exchange::grants::Grant,
    /// `X-Acting-Official`: the official the system acts for.
    pub official: String,
    /// `X-Case-Id`: the agency's case the call serves.
    pub case_id: String,
}

impl Caller {
    pub fn role(&self) -> Role {
        self.claims.role
    }

    /// Whether one of `communes` is within the caller's units.
    pub fn covers_any<'a>(&self, communes: impl IntoIterator<Item = &'a str>) -> bool {
        communes.into_iter().any(|c| self.units.iter().any(|u| u.covers(c)))
    }

    pub fn covers(&self, commune: &str) -> bool {
        self.units.iter().any(|u| u.covers(commune))
    }

    /// Whether the caller's units include `unit`, a competent unit (a commune, or a province for
    /// provincial procedures): a province covers its communes, a commune only itself.
    pub fn covers_unit(&self, unit: &str) -> bool {
        if unit.len() == 2 { self.claims.units.iter().any(|u| u == unit) } else { self.covers(unit) }
    }

    /// Every commune code within the caller's units.
    pub fn communes(&self) -> Vec<String> {
        let all = AdminUnits::get();
        let mut out: Vec<String> = Vec::new();
        for u in &self.units {
            match u {
                UnitCode::Commune(c) => out.push(c.as_str().to_owned()),
                UnitCode::Province(p) => out.extend(all.communes_of(p.as_str()).map(|c| c.code.clone())),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The unit codes lists are filtered by: the caller's own units and, for a province, every
    /// commune of it (a province covers its communes in lists as in single reads).
    pub fn unit_scope(&self) -> Vec<String> {
        let mut out = self.claims.units.clone();
        out.extend(self.communes());
        out.sort();
        out.dedup();
        out
    }

    pub fn unit_label(&self) -> String {
        self.claims.units.join(",")
    }
}

/// Tokens whose signature was already verified, keyed by SHA-256 of the token. Only the
/// signature check is skipped on a hit: expiry is checked on every use, and a token the OpenID
/// provider issued (an officer signed in through a relying party, an agency's
/// `client_credentials` token) is checked against the database again once
/// [`STATE_RECHECK_SECS`] have passed, so a revoked token, a revoked grant, a sign-out everywhere
/// or a locked account stops it within that time. Bounded: cleared when full.
#[derive(Default)]
pub struct TokenCache {
    verified: std::sync::Mutex<std::collections::HashMap<[u8; 32], (Claims, i64)>>,
}

const TOKEN_CACHE_SIZE: usize = 10_000;
/// How long a provider-issued token's state check is trusted (seconds).
pub const STATE_RECHECK_SECS: i64 = 5;

impl TokenCache {
    fn get(&self, key: &[u8; 32]) -> Option<(Claims, i64)> {
        self.verified.lock().ok()?.get(key).cloned()
    }
    fn put(&self, key: [u8; 32], claims: Claims, checked_at: i64) {
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= TOKEN_CACHE_SIZE {
                map.clear();
            }
            map.insert(key, (claims, checked_at));
        }
    }
    fn forget(&self, key: &[u8; 32]) {
        if let Ok(mut map) = self.verified.lock() {
            map.remove(key);
        }
    }
}

/// Whether a provider-issued token is still live in the database (see [`TokenCache`]).
async fn token_live(state: &AppState, claims: &Claims) -> Result<bool, TokenError> {
    if claims.iss == tokens::ISSUER {
        // `civitas token` output for scripts: stateless, ends with its expiry or a key rotation.
        return Ok(true);
    }
    Ok(state.identity.access_token_live(&claims.jti, claims.fam.as_deref()).await?)
}

async fn verify_cached(state: &AppState, token: &str, now: i64) -> Result<Claims, TokenError> {
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some((claims, checked_at)) = state.verified_tokens.get(&key) {
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if now - checked_at < STATE_RECHECK_SECS {
            return Ok(claims);
        }
        if !token_live(state, &claims).await? {
            state.verified_tokens.forget(&key);
            return Err(TokenError::Revoked);
        }
        state.verified_tokens.put(key, claims.clone(), now);
        return Ok(claims);
    }
    let claims = tokens::verify(&state.keys, token, now).await?;
    if !token_live(state, &claims).await? {
        return Err(TokenError::Revoked);
    }
    state.verified_tokens.put(key, claims.clone(), now);
    Ok(claims)
}

pub async fn caller_from_token(
    state: &AppState,
    token: &str,
    purpose: Option<String>,
    request_id: Option<String>,
) -> Result<Caller, Problem> {
    let now = crate::now().unix_timestamp();
    match verify_cached(state, token, now).await {
        Ok(claims) => {
            let units = claims.unit_codes();
            if units.is_empty() {
                return Err(Problem::forbidden("the token names no administrative unit in force"));
            }
            Ok(Caller { claims, units, purpose, request_id, how: "api", exchange: None })
        }
        Err(TokenError::Store(e)) => Err(crate::problem::internal(&e)),
        Err(e @ (TokenError::Expired | TokenError::Revoked)) => Err(Problem::unauthorized(e.to_string())),
        // A valid token of a person (from the e-ID provider): authenticated, but not allowed here.
        Err(e @ TokenError::NoRole) => Err(Problem::forbidden(e.to_string())),
        Err(e) => Err(Problem::unauthorized(format!("invalid bearer token: {e}"))),
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// A header's text: UTF-8 (a Vietnamese purpose is welcome), trimmed, at most 200 characters,
/// without control or bidirectional-formatting characters (which would corrupt the log).
pub(crate) fn header_text(parts: &Parts, name: &str) -> Option<String> {
    let raw = parts.headers.get(name)?;
    let text = std::str::from_utf8(raw.as_bytes()).ok()?;
    let text: String =
        civitas_core::nfc(text.trim()).chars().filter(|c| !civitas_core::text::is_unsafe_char(*c)).take(200).collect();
    (!text.is_empty()).then_some(text)
}

/// The caller of a route whose rule names roles: a verified bearer token, its purpose (the
/// `X-Purpose` header, required of agency systems; otherwise the rule's purpose) and request id.
pub(crate) async fn bearer_caller(
    state: &AppState,
    parts: &Parts,
    default_purpose: Option<&'static str>,
) -> Result<Caller, Problem> {
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(Problem::unauthorized("send Authorization: Bearer <token>"));
    }
    let token = bearer_token(&parts.headers)
        .ok_or_else(|| Problem::unauthorized("the Authorization header must be Bearer <token>"))?;
    let stated = header_text(parts, "x-purpose");
    let request_id = header_text(parts, "x-request-id");
    let mut caller = caller_from_token(state, token, stated.clone(), request_id).await?;
    if caller.role() == Role::AgencySystem && stated.is_none() {
        return Err(Problem::bad_request(
            "missing-purpose",
            "agency systems must state the purpose of every read in the X-Purpose header",
        ));
    }
    if caller.purpose.is_none() {
        caller.purpose = default_purpose.map(str::to_owned);
    }
    Ok(caller)
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
{
    type Rejection = Problem;

    /// The caller the policy layer verified for this route; a handler whose rule does not
    /// authenticate an officer gets a 500 (a wiring defect, logged), never an unchecked caller.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<Caller>().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a handler asked for a caller its policy rule does not authenticate");
            Problem::internal()
        })
    }
}

/// A caller allowed to change the register (role `registry-officer`).
pub struct RegistryOfficer(pub Caller);

impl<S> FromRequestParts<S> for RegistryOfficer
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.role().may_change_register() {
            return Err(Problem::forbidden(format!("role {} may not change the register", caller.role().as_str())));
        }
        Ok(RegistryOfficer(caller))
    }
}

/// A citizen calling with an access token the e-ID provider issued to a relying party on their
/// behalf (code flow): their own data only. Agency and officer tokens are not citizens.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub pid: String,
    pub client_id: String,
    pub scope: String,
}

impl Citizen {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == scope)
    }
}

impl<S> FromRequestParts<S> for Citizen
where
    S: Send + Sync,
{
    type Rejection = Problem;

    /// The citizen the policy layer verified (with the rule's scopes) for this route.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<Citizen>().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a handler asked for a citizen its policy rule does not authenticate");
            Problem::internal()
        })
    }
}

/// The citizen of an `Authorization: Bearer` access token from the e-ID provider.
pub(crate) async fn bearer_citizen(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Citizen, Problem> {
    let token = bearer_token(headers)
        .ok_or_else(|| Problem::unauthorized("send Authorization: Bearer <access token from the e-ID provider>"))?;
    let (pid, claims) = citizen_claims(state, token).await?;
    Ok(Citizen { pid, client_id: claims.client_id, scope: claims.scope })
}

/// The person an e-ID access token was issued for, with its claims.
async fn citizen_claims(
    state: &AppState,
    token: &str,
) -> Result<(String, civitas_identity::oidc::AccessClaims), Problem> {
    let now = crate::now().unix_timestamp();
    let claims = state
        .identity
        .verify_access_token(token, now)
        .await?
        .ok_or_else(|| Problem::unauthorized("the access token is invalid, expired or revoked"))?;
    let Some(family) = &claims.fam else {
        return Err(Problem::forbidden("this token was not issued to a person"));
    };
    let pid = state
        .identity
        .grant_pid(family)
        .await?
        .ok_or_else(|| Problem::unauthorized("the grant of this token was revoked"))?;
    Ok((pid, claims))
}

/// The caller of a route open to officers and to the citizen concerned
/// ([`crate::policy::Who::RolesOrCitizen`]).
#[derive(Debug, Clone)]
pub enum Bearer {
    Officer(Caller),
    Citizen(Citizen),
}

impl<S> FromRequestParts<S> for Bearer
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.remove::<Caller>() {
            return Ok(Bearer::Officer(c));
        }
        if let Some(c) = parts.extensions.remove::<Citizen>() {
            return Ok(Bearer::Citizen(c));
        }
        tracing::error!(path = %parts.uri.path(), "a handler asked for a bearer its policy rule does not authenticate");
        Err(Problem::internal())
    }
}

/// The address a request came from: the TCP peer, or — when the peer is one of the configured
/// trusted reverse proxies — the right-most address of `X-Forwarded-For` that is not a trusted
/// proxy itself (addresses further left could be forged by the client).
pub(crate) fn client_ip(state: &AppState, headers: &axum::http::HeaderMap, ext: &axum::http::Extensions) -> String {
    let peer = ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    match peer {
        Some(peer) => client_address(peer, forwarded, &state.trusted_proxies).to_string(),
        None => "unknown".into(),
    }
}

pub(crate) fn client_address(
    peer: std::net::IpAddr,
    forwarded: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(list) = forwarded else { return peer };
    for hop in list.rsplit(',') {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}
