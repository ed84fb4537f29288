//! Households as export and import carry them. A household is implied by its head's line (the
//! person whose `relation_to_head` is `head`: the household's id, the head, the head's
//! permanent residence); only the households that line cannot imply — a head named after a
//! death, waiting for the household to confirm, or a head whose own record is not the head's —
//! travel as lines of their own, so an export of ordinary data stays people only.

use serde::{Deserialize, Serialize};

use civitas_store::dispatch;

use super::Register;
use crate::RegisterError;

/// A household line of an export: `{"household": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdLine {
    pub household: HouseholdRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct HouseholdRecord {
    pub id: String,
    pub head_pid: String,
    pub commune: String,
    pub address: String,
    /// The head was named by the system (after the head's death) and waits for the household
    /// to confirm.
    #[serde(default)]
    #[sqlx(try_from = "i64")]
    pub head_to_confirm: Flag,
}

/// A 0/1 column as a boolean (JSON `true` / `false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl From<i64> for Flag {
    fn from(v: i64) -> Self {
        Flag(v != 0)
    }
}

impl HouseholdRecord {
    /// Checks a record read from a file: what is wrong, or nothing.
    pub fn check(&self) -> Result<(), String> {
        if self.id.trim().is_empty() || self.id.len() > 64 {
            return Err("household id must have 1–64 characters".into());
        }
        self.head_pid.parse::<civitas_core::Pid>().map_err(|e| format!("household head: {e}"))?;
        if civitas_core::AdminUnits::get().commune(&self.commune).is_none() {
            return Err(format!("household commune {:?} is not a commune code", self.commune));
        }
        if self.address.trim().is_empty() {
            return Err("household address is empty".into());
        }
        Ok(())
    }
}

impl Register {
    /// The households their heads' lines do not imply, by id.
    pub async fn households_not_implied(&self) -> Result<Vec<HouseholdRecord>, RegisterError> {
        let sql = "SELECT h.id, h.head_pid, h.commune, h.address, h.head_to_confirm FROM households h \
                   LEFT JOIN people p ON p.pid = h.head_pid AND p.household_id = h.id AND p.relation_to_head = 'head' \
                   AND p.permanent_commune = h.commune AND p.permanent_address = h.address \
                   WHERE p.pid IS NULL OR h.head_to_confirm <> 0 ORDER BY h.id";
        Ok(dispatch!(&self.db, pool => sqlx::query_as::<_, HouseholdRecord>(sql).fetch_all(pool).await)?)
    }

    /// Creates the households of `records` that do not exist yet; returns how many it created.
    pub async fn import_households(&self, records: &[HouseholdRecord], at: &str) -> Result<u64, RegisterError> {
        let sql = "INSERT INTO households (id, head_pid, commune, address, head_to_confirm, version, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (id) DO NOTHING";
        let mut created = 0;
        for r in records {
            let flag = i64::from(r.head_to_confirm.0);
            created += dispatch!(&self.db, pool => sqlx::query(sql)
                .bind(&r.id)
                .bind(&r.head_pid)
                .bind(&r.commune)
                .bind(&r.address)
                .bind(flag)
                .bind(at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(created)
    }
}
