//! Level 2 at the counter, lock, unlock, revoke.

use super::*;

impl Identity {
    /// Raises an account to level 2 after an officer verified the person at `place`. Returns the
    /// new second factor, handed over at the counter.
    pub async fn raise_to_level2(
        &self,
        pid: &str,
        officer: &str,
        place: &str,
        now: time::OffsetDateTime,
    ) -> Result<SecondFactor, AccountError> {
        let person = self.living_person(pid).await?;
        age_allows(person.birth_date.age_on(now.date()), 2, true)
            .map_err(|m| AccountError::NotAllowed("age", m.into()))?;
        let row = self.account_row(pid).await?.ok_or_else(|| AccountError::NoAccount(pid.to_owned()))?;
        if row.state != "active" {
            return Err(AccountError::NotAllowed("account-not-active", format!("the account is {}", row.state)));
        }
        if place.trim().is_empty() {
            return Err(AccountError::Invalid("missing-place", "name the place where the person was verified".into()));
        }
        let second = new_second_factor(pid);
        let secret = totp::decode_secret(&second.totp_secret);
        let at = civitas_store::timestamp(now);
        let event = self.event(
            "eid.level_raised",
            pid,
            serde_json::json!({ "level": 2, "place": place.trim(), "previous_level": row.level }),
            officer,
            &at,
        );
        let codes: Vec<Vec<u8>> = second.recovery_codes.iter().map(|c| digest(c)).collect();
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE accounts SET level = 2, totp_secret = $1, totp_last_step = 0, level2_by = $2, level2_place = $3, level2_at = $4, updated_at = $4 WHERE pid = $5")
                .bind(&secret).bind(officer).bind(place.trim()).bind(&at).bind(pid).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM recovery_codes WHERE pid = $1").bind(pid).execute(&mut *tx).await?;
            for c in &codes {
                sqlx::query("INSERT INTO recovery_codes (pid, code_hash) VALUES ($1, $2)").bind(pid).bind(c).execute(&mut *tx).await?;
            }
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(second)
    }

    /// Locks an account (by its holder, an officer with a reason, or the system on death); every
    /// session and grant ends.
    pub async fn lock(&self, pid: &str, by: &str, reason: &str, now: time::OffsetDateTime) -> Result<(), AccountError> {
        if reason.trim().is_empty() {
            return Err(AccountError::Invalid("missing-reason", "give the reason for locking".into()));
        }
        self.change_state(pid, &["active"], "locked", Some(reason.trim()), "eid.locked", by, now).await
    }

    pub async fn unlock(
        &self,
        pid: &str,
        by: &str,
        reason: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let row = self.account_row(pid).await?.ok_or_else(|| AccountError::NoAccount(pid.to_owned()))?;
        if row.state_reason.as_deref() == Some(DECEASED_REASON) {
            return Err(AccountError::NotAllowed(
                "person-not-living",
                "the account was locked because the person died".into(),
            ));
        }
        self.living_person(pid).await?;
        self.change_state(
            pid,
            &["locked"],
            "active",
            Some(reason.trim()).filter(|r| !r.is_empty()),
            "eid.unlocked",
            by,
            now,
        )
        .await
    }

    pub async fn revoke(
        &self,
        pid: &str,
        by: &str,
        reason: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        if reason.trim().is_empty() {
            return Err(AccountError::Invalid("missing-reason", "give the reason for revoking".into()));
        }
        self.change_state(pid, &["active", "locked", "pending"], "revoked", Some(reason.trim()), "eid.revoked", by, now)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn change_state(
        &self,
        pid: &str,
        from: &[&str],
        to: &str,
        reason: Option<&str>,
        kind: &'static str,
        by: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), AccountError> {
        let row = self.account_row(pid).await?.ok_or_else(|| AccountError::NoAccount(pid.to_owned()))?;
        if !from.contains(&row.state.as_str()) {
            return Err(AccountError::NotAllowed(
                "wrong-account-state",
                format!("the account is {}; this action needs it {}", row.state, from.join(" or ")),
            ));
        }
        let at = civitas_store::timestamp(now);
        let event = self.event(kind, pid, serde_json::json!({ "reason": reason, "from": row.state }), by, &at);
        let ts = now.unix_timestamp();
        dispatch!(&self.db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("UPDATE accounts SET state = $1, state_reason = $2, updated_at = $3 WHERE pid = $4")
                .bind(to).bind(reason).bind(&at).bind(pid).execute(&mut *tx).await?;
            if to != "active" {
                end_everything!(tx, pid, ts)?;
            }
            insert_events!(tx, std::slice::from_ref(&event))?;
            tx.commit().await
        })?;
        Ok(())
    }
}
