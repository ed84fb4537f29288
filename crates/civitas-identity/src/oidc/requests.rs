//! Authorization requests (validated, stored, pushed) and the holder's consents.

use super::*;

fn param<'a>(params: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The PKCE challenge, the level, `max_age` and `prompt` of a request.
type Extras<'a> = (&'a str, i64, Option<i64>, Vec<String>);

/// The PKCE challenge (S256 only), the level asked for (the lowest of the known `acr_values`),
/// `max_age` and `prompt` of a request; an `invalid_request` description if one is wrong.
fn checked_extras(params: &HashMap<String, String>) -> Result<Extras<'_>, String> {
    let get = |k: &str| param(params, k);
    let Some(challenge) = get("code_challenge") else {
        return Err("PKCE is required: send code_challenge with code_challenge_method=S256".into());
    };
    match get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") | None => return Err("code_challenge_method must be S256; plain is refused".into()),
        Some(_) => return Err("unknown code_challenge_method; use S256".into()),
    }
    if challenge.len() != 43 || !challenge.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("code_challenge must be a base64url SHA-256 (43 characters)".into());
    }
    let mut level = 1;
    if let Some(acr_values) = get("acr_values") {
        let known: Vec<i64> = acr_values.split_whitespace().filter_map(level_of_acr).collect();
        if known.is_empty() {
            return Err("acr_values names no supported level (urn:vn:eid:loa:1, urn:vn:eid:loa:2)".into());
        }
        level = known.into_iter().min().unwrap_or(1);
    }
    let max_age = match get("max_age") {
        Some(m) => match m.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => return Err("max_age must be a non-negative number of seconds".into()),
        },
        None => None,
    };
    let prompt = words(get("prompt").unwrap_or_default());
    if prompt.iter().any(|p| !["none", "login", "consent", "select_account"].contains(&p.as_str())) {
        return Err("unknown prompt value".into());
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err("prompt=none cannot be combined with other values".into());
    }
    Ok((challenge, level, max_age, prompt))
}

impl Identity {
    /// Validates the parameters of an authorization request (from the query, the form, or a
    /// pushed request). Errors before the redirect URI is known are [`LocalError`]s.
    pub async fn validate_authorization(
        &self,
        params: &HashMap<String, String>,
        now: i64,
    ) -> Result<Result<AuthRequest, (String, Option<String>, OAuthError)>, LocalError> {
        let get = |k: &str| param(params, k);
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
        let (challenge, level, max_age, prompt) = match checked_extras(params) {
            Ok(extras) => extras,
            Err(d) => return fail("invalid_request", &d),
        };
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
}
