//! Codes, grants and tokens: the code exchange, refresh rotation with reuse detection,
//! client credentials, userinfo, revocation, introspection, purging.

use super::*;

impl Identity {
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

    pub(crate) async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE grants SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL";
        dispatch!(&self.db, pool => sqlx::query(sql).bind(now).bind(family).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub(crate) async fn grant_revoked(&self, family: &str) -> Result<bool, StoreError> {
        let sql = "SELECT revoked_at FROM grants WHERE family = $1";
        let row: Option<(Option<i64>,)> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(family).fetch_optional(pool).await)?;
        Ok(!matches!(row, Some((None,))))
    }

    pub(crate) async fn account_usable(&self, pid: &str) -> Result<bool, StoreError> {
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
    pub(crate) async fn issue_user_tokens(
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
    pub(crate) async fn sign_tokens(
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
    pub(crate) async fn rotate_refresh(
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
    pub(crate) async fn refresh_check(
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
    pub(crate) async fn grant_of(&self, family: &str) -> Result<Option<(String, Arc<GrantData>)>, StoreError> {
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

    pub(crate) async fn session_alive(&self, pid: &str, sid: &str, now: i64) -> Result<bool, StoreError> {
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
