//! Identity context: e-ID accounts (level 1 / level 2) and their credentials, the OpenID Connect
//! provider (clients, sessions, codes, tokens, consents), the server's signing keys (kept in the
//! database so several server processes share them) and the bearer tokens of officers and
//! agency systems.

pub mod accounts;
pub mod chip;
pub mod kek;
pub mod keys;
pub mod oidc;
pub mod password;
pub mod redirect;
mod refresh;
pub mod secret;
pub mod tokens;
pub mod totp;

use std::sync::Arc;

pub use accounts::{Account, AccountError, AccountState, SignInFailure};
pub use keys::KeyRing;
pub use oidc::{AuthRequest, Client, NewClient, OAuthError, Session};
pub use tokens::{Claims, Role, TokenError};

use civitas_registry::Register;
use civitas_store::{Db, StoreError, dispatch};

/// The identity service: accounts, sessions and the OpenID provider over one database.
pub struct Identity {
    pub(crate) db: Db,
    pub(crate) register: Arc<Register>,
    pub(crate) keys: Arc<KeyRing>,
    pub hasher: password::Hasher,
    /// The public base URL, `iss` of every token.
    pub issuer: String,
    pub(crate) pairwise_salt: Vec<u8>,
    /// The key of the CSRF tokens of forms, shared by every server on the database.
    csrf_key: Vec<u8>,
    pub(crate) clients: oidc::ClientCache,
    pub(crate) grants: oidc::GrantCache,
    pub(crate) refresh_writer: refresh::RefreshWriter,
    /// How far the follower of the register's events may read (no event still in flight).
    pub(crate) register_events: civitas_store::events::Settled,
}

/// A random secret kept in `settings` under `name`, created by the first process that needs it
/// and then the same for every process on the database.
async fn shared_secret(db: &Db, name: &str) -> Result<Vec<u8>, StoreError> {
    let value = secret::random_token(32).into_bytes();
    let insert = "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
    dispatch!(db, pool => sqlx::query(insert).bind(name).bind(&value).execute(pool).await.map(|_| ()))?;
    let select = "SELECT value FROM settings WHERE name = $1";
    let (value,): (Vec<u8>,) = dispatch!(db, pool => sqlx::query_as(select).bind(name).fetch_one(pool).await)?;
    Ok(value)
}

impl Identity {
    /// The key CSRF tokens are computed with (HMAC-SHA256).
    pub fn csrf_key(&self) -> &[u8] {
        &self.csrf_key
    }

    /// Loads (or creates, on first start) the pairwise-subject salt shared by all processes and
    /// starts the refresh-token writer (call within a Tokio runtime).
    pub async fn new(
        db: Db,
        register: Arc<Register>,
        keys: Arc<KeyRing>,
        issuer: &str,
    ) -> Result<Identity, StoreError> {
        let salt = shared_secret(&db, "pairwise_salt").await?;
        let csrf_key = shared_secret(&db, "csrf_key").await?;
        keys.set_issuer(issuer);
        let hasher = password::Hasher::new().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Identity {
            refresh_writer: refresh::RefreshWriter::start(db.clone()),
            db,
            register,
            keys,
            hasher,
            issuer: issuer.trim_end_matches('/').to_owned(),
            pairwise_salt: salt,
            csrf_key,
            clients: Default::default(),
            grants: Default::default(),
            register_events: civitas_store::events::Settled::new(civitas_store::events::GAP_GRACE),
        })
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }
}
