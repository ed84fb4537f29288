//! ES256 signing keys stored in the `signing_keys` table. Every unretired key verifies and is
//! published in the JWKS, so tokens signed before a rotation stay valid until they expire. A new
//! key is published for [`PUBLISH_BEFORE_USE_SECS`] before it signs, so relying parties that
//! cache the JWKS learn it first; processes reload the ring periodically ([`KeyRing::reload`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use civitas_store::{Db, StoreError, dispatch};

use crate::kek::Kek;

/// A public key as a JSON Web Key (RFC 7517), as published in a JWKS.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// The key that signs: the P-256 scalar and, for speed, the same key in `ring` (assembly-optimised
/// P-256, about 4× the signing rate of the pure-Rust implementation on this machine).
pub struct ActiveKey {
    pub kid: String,
    pub key: SigningKey,
    fast: Option<ring::signature::EcdsaKeyPair>,
    rng: ring::rand::SystemRandom,
}

impl ActiveKey {
    fn new(kid: String, key: SigningKey) -> ActiveKey {
        let rng = ring::rand::SystemRandom::new();
        let public = key.verifying_key().to_sec1_point(false);
        let fast = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.to_bytes(),
            public.as_bytes(),
            &rng,
        )
        .ok();
        ActiveKey { kid, key, fast, rng }
    }

    /// ES256 signature of `message`: r ‖ s, 64 bytes (the JWS encoding).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        // Signatures are issued with a low S (verifiers refuse high-S ones: one valid signature per
        // message and key, no malleable twin).
        if let Some(fast) = &self.fast
            && let Ok(signature) = fast.sign(&self.rng, message)
            && let Ok(parsed) = p256::ecdsa::Signature::from_slice(signature.as_ref())
        {
            return parsed.normalize_s().to_bytes().to_vec();
        }
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.key.sign(message);
        signature.normalize_s().to_bytes().to_vec()
    }
}

pub struct KeyRing {
    db: Db,
    active: RwLock<Arc<ActiveKey>>,
    verifying: RwLock<HashMap<String, VerifyingKey>>,
    /// The public issuer URL, also accepted as `iss` of officer and agency tokens.
    issuer: std::sync::OnceLock<String>,
    /// When the key table was last read for an unknown `kid`: tokens naming made-up key ids
    /// re-read it at most once per [`UNKNOWN_KID_RELOAD`], not on every request.
    last_reload: std::sync::Mutex<Option<std::time::Instant>>,
    /// The operator's key-encryption key, when the keys are stored sealed.
    kek: Option<Arc<Kek>>,
}

/// The least time between two reads of the key table caused by unknown key ids (a rotation on
/// another server is also announced by the periodic reload).
const UNKNOWN_KID_RELOAD: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    private_key: Vec<u8>,
    created_at: String,
}

/// How long a new key is only published before it signs.
pub const PUBLISH_BEFORE_USE_SECS: i64 = 60;
/// How long a superseded key stays published: longer than any token it signed lives (tokens of
/// `civitas token` live up to 90 days).
pub const RETIRE_AFTER_SECS: i64 = 91 * 86_400;

/// A stored key as listed for operators.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: String,
    pub signing: bool,
}

fn jwk_of(kid: &str, key: &VerifyingKey) -> Jwk {
    let point = key.to_sec1_point(false);
    let coord = |c: Option<&[u8]>| URL_SAFE_NO_PAD.encode(c.unwrap_or_default());
    Jwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: coord(point.x().map(|x| x.as_slice())),
        y: coord(point.y().map(|y| y.as_slice())),
        kid: kid.into(),
        alg: "ES256".into(),
        use_: "sig".into(),
    }
}

impl KeyRing {
    /// Loads the stored keys, creating the first one when there is none (keys stored in the
    /// clear; see [`KeyRing::open`]).
    pub async fn load_or_create(db: &Db, now: time::OffsetDateTime) -> Result<KeyRing, StoreError> {
        Self::open(db, now, None).await
    }

    /// Loads the stored keys with the operator's key-encryption key, creating the first one
    /// when there is none. With a KEK, keys stored in the clear are sealed in place; without
    /// one, sealed keys cannot be used (a clear error).
    pub async fn open(db: &Db, now: time::OffsetDateTime, kek: Option<Arc<Kek>>) -> Result<KeyRing, StoreError> {
        if Self::fetch(db).await?.is_empty() {
            Self::generate(db, now, kek.as_deref()).await?;
        }
        if let Some(kek) = &kek {
            Self::seal_clear_keys(db, kek).await?;
        }
        let (active, verifying) = Self::load(db, now, kek.as_deref()).await?;
        Ok(KeyRing {
            db: db.clone(),
            active: RwLock::new(Arc::new(ActiveKey::new(active.0, active.1))),
            verifying: RwLock::new(verifying),
            issuer: std::sync::OnceLock::new(),
            last_reload: std::sync::Mutex::new(None),
            kek,
        })
    }

    /// Seals every key still stored in the clear (the first start with a KEK).
    async fn seal_clear_keys(db: &Db, kek: &Kek) -> Result<(), StoreError> {
        let sql = "SELECT kid, private_key, created_at FROM signing_keys";
        let rows = dispatch!(db, pool => sqlx::query_as::<_, KeyRow>(sql).fetch_all(pool).await)?;
        for row in rows.iter().filter(|r| !crate::kek::is_sealed(&r.private_key)) {
            let sealed = kek.seal(&row.kid, &row.private_key);
            let sql = "UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3";
            dispatch!(db, pool => sqlx::query(sql).bind(&sealed).bind(&row.kid).bind(&row.private_key).execute(pool).await.map(|_| ()))?;
            tracing::info!(kid = %row.kid, "signing key sealed with the key-encryption key");
        }
        Ok(())
    }

    /// The P-256 key of a stored row, opened with the KEK when it is sealed.
    fn signing_key_of(row: &KeyRow, kek: Option<&Kek>) -> Result<SigningKey, StoreError> {
        let secret = if crate::kek::is_sealed(&row.private_key) {
            let kek = kek.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "signing key {} is sealed: configure the key-encryption key (key_encryption_key_file or CIVITAS_KEY_ENCRYPTION_KEY_FILE)",
                    row.kid
                ))
            })?;
            kek.open(&row.kid, &row.private_key).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "signing key {} does not open with the configured key-encryption key (another KEK, or altered)",
                    row.kid
                ))
            })?
        } else {
            row.private_key.clone()
        };
        SigningKey::from_slice(&secret)
            .map_err(|_| StoreError::Corrupt(format!("signing key {} is not a P-256 scalar", row.kid)))
    }

    /// The signing key at `now` (the newest key published long enough, else the oldest one)
    /// and every verifying key.
    async fn load(
        db: &Db,
        now: time::OffsetDateTime,
        kek: Option<&Kek>,
    ) -> Result<((String, SigningKey), HashMap<String, VerifyingKey>), StoreError> {
        let rows = Self::fetch(db).await?;
        let ready_before = civitas_store::timestamp(now - time::Duration::seconds(PUBLISH_BEFORE_USE_SECS));
        let mut verifying = HashMap::new();
        let mut active = None;
        let mut oldest = None;
        for row in &rows {
            let key = Self::signing_key_of(row, kek)?;
            verifying.insert(row.kid.clone(), *key.verifying_key());
            if active.is_none() && row.created_at <= ready_before {
                active = Some((row.kid.clone(), key.clone()));
            }
            oldest = Some((row.kid.clone(), key));
        }
        let active = active.or(oldest).ok_or_else(|| StoreError::Corrupt("no signing key".into()))?;
        Ok((active, verifying))
    }

    /// Re-reads the keys (another process may have rotated them).
    pub async fn reload(&self, now: time::OffsetDateTime) -> Result<(), StoreError> {
        let (active, verifying) = Self::load(&self.db, now, self.kek.as_deref()).await?;
        let unchanged = self.active.read().map(|a| a.kid == active.0).unwrap_or(false);
        if !unchanged && let Ok(mut guard) = self.active.write() {
            *guard = Arc::new(ActiveKey::new(active.0, active.1));
        }
        if let Ok(mut guard) = self.verifying.write() {
            *guard = verifying;
        }
        Ok(())
    }

    /// Adds a new key and retires keys superseded more than [`RETIRE_AFTER_SECS`] ago. Returns
    /// the new key id and the retired ones.
    pub async fn rotate(
        db: &Db,
        now: time::OffsetDateTime,
        kek: Option<&Kek>,
    ) -> Result<(String, Vec<String>), StoreError> {
        let rows = Self::fetch(db).await?;
        let cutoff = civitas_store::timestamp(now - time::Duration::seconds(RETIRE_AFTER_SECS));
        // rows are newest first: a key is superseded when the next newer key was created.
        let mut retired = vec![];
        for pair in rows.windows(2) {
            let (newer, older) = (&pair[0], &pair[1]);
            if newer.created_at < cutoff {
                retired.push(older.kid.clone());
            }
        }
        let at = civitas_store::timestamp(now);
        for kid in &retired {
            let sql = "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2";
            dispatch!(db, pool => sqlx::query(sql).bind(&at).bind(kid).execute(pool).await.map(|_| ()))?;
        }
        let kid = Self::generate(db, now, kek).await?;
        // Every server re-reads its keys at once (PostgreSQL; SQLite servers poll).
        civitas_store::changes::notify(db, civitas_store::changes::KEYS).await?;
        Ok((kid, retired))
    }

    /// The unretired keys, newest first, and which one signs at `now`.
    pub async fn list(db: &Db, now: time::OffsetDateTime, kek: Option<&Kek>) -> Result<Vec<KeyInfo>, StoreError> {
        let ((signing, _), _) = Self::load(db, now, kek).await?;
        Ok(Self::fetch(db)
            .await?
            .into_iter()
            .map(|r| KeyInfo { signing: r.kid == signing, kid: r.kid, created_at: r.created_at })
            .collect())
    }

    async fn fetch(db: &Db) -> Result<Vec<KeyRow>, StoreError> {
        let sql = "SELECT kid, private_key, created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid";
        Ok(dispatch!(db, pool => sqlx::query_as::<_, KeyRow>(sql).fetch_all(pool).await)?)
    }

    /// Creates a new key that becomes the signing key of every process after its next reload.
    pub async fn generate(db: &Db, now: time::OffsetDateTime, kek: Option<&Kek>) -> Result<String, StoreError> {
        let key = <SigningKey as p256::elliptic_curve::Generate>::try_generate()
            .map_err(|_| StoreError::Corrupt("the system random generator failed".into()))?;
        let point = key.verifying_key().to_sec1_point(false);
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(point.as_bytes())[..12]);
        let jwk = serde_json::to_string(&jwk_of(&kid, key.verifying_key())).unwrap_or_default();
        let secret = match kek {
            Some(kek) => kek.seal(&kid, &key.to_bytes()),
            None => key.to_bytes().to_vec(),
        };
        let at = civitas_store::timestamp(now);
        let sql =
            "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at) VALUES ($1, 'ES256', $2, $3, $4)";
        dispatch!(db, pool => sqlx::query(sql).bind(&kid).bind(&secret).bind(&jwk).bind(&at).execute(pool).await.map(|_| ()))?;
        Ok(kid)
    }

    /// Sets the public issuer URL (once, at start-up).
    /// Seals `secret` (another key of this server: the transparency log's) with the operator's
    /// key-encryption key, or returns it as it is without one.
    pub fn seal_secret(&self, label: &str, secret: &[u8]) -> Vec<u8> {
        match &self.kek {
            Some(kek) => kek.seal(label, secret),
            None => secret.to_vec(),
        }
    }

    /// Opens a secret stored by [`KeyRing::seal_secret`] (`None`: sealed, and no or another KEK).
    pub fn open_secret(&self, label: &str, stored: &[u8]) -> Option<Vec<u8>> {
        if crate::kek::is_sealed(stored) { self.kek.as_ref()?.open(label, stored) } else { Some(stored.to_vec()) }
    }

    pub fn set_issuer(&self, issuer: &str) {
        let _ = self.issuer.set(issuer.to_owned());
    }

    pub fn issuer(&self) -> Option<&str> {
        self.issuer.get().map(String::as_str)
    }

    pub fn signing_key(&self) -> Arc<ActiveKey> {
        match self.active.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The verifying key `kid`, reloading from the database once when another process rotated.
    pub async fn verifying_key(&self, kid: &str) -> Result<Option<VerifyingKey>, StoreError> {
        if let Some(k) = self.cached(kid) {
            return Ok(Some(k));
        }
        {
            let Ok(mut last) = self.last_reload.lock() else { return Ok(None) };
            if last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_RELOAD) {
                return Ok(None);
            }
            *last = Some(std::time::Instant::now());
        }
        let rows = Self::fetch(&self.db).await?;
        let mut map = HashMap::new();
        for row in &rows {
            if let Ok(key) = Self::signing_key_of(row, self.kek.as_deref()) {
                map.insert(row.kid.clone(), *key.verifying_key());
            }
        }
        if let Ok(mut guard) = self.verifying.write() {
            *guard = map;
        }
        Ok(self.cached(kid))
    }

    fn cached(&self, kid: &str) -> Option<VerifyingKey> {
        self.verifying.read().ok().and_then(|m| m.get(kid).copied())
    }

    /// The public keys, as a JWKS document body.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.verifying.read().map(|m| m.iter().map(|(kid, k)| jwk_of(kid, k)).collect()).unwrap_or_default()
    }
}
