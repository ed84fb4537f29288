//! The relying-party registry (clients) and browser sessions at the provider.

use super::*;

impl Identity {
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
    pub(crate) async fn end_session_hash(&self, id_hash: &[u8], now: i64) -> Result<(), StoreError> {
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
}
