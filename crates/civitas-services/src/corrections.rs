//! Changing an issued civil-status certificate, as use cases of a leader: correcting the record
//! (cải chính hộ tịch: the register is corrected, the certificate re-issued, the old one
//! superseded, in one transaction) and revoking a certificate issued in error. Both are audited
//! events; both refuse a certificate outside the leader's units as if it did not exist.

use civitas_registry::{Register, RegisterError};
use civitas_store::{Db, NewEvent, StoreError};

use crate::certificate_issue::{self, IssueError, Renderer, Signer};
use crate::certificates::{self, Certificate};

/// The leader deciding: their subject and the administrative units they act for.
pub struct Leader<'a> {
    pub sub: &'a str,
    /// Whether the leader's units cover the given unit code.
    pub covers: &'a (dyn Fn(&str) -> bool + Sync),
}

/// What correcting needs of the server: the stores and the certificate ports.
pub struct Correcting<'a> {
    pub db: &'a Db,
    pub register: &'a Register,
    /// The public base URL (`iss` of certificates).
    pub issuer: &'a str,
    pub signer: &'a dyn Signer,
    pub renderer: &'a dyn Renderer,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such certificate in your units")]
    NotFound,
    #[error("the certificate is {0}")]
    NotValid(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the record or the certificate changed meanwhile; reload and retry")]
    Changed,
    #[error("the certificate's record is incomplete: {0}")]
    Inconsistent(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// The reason of a change: trimmed, NFC, 1–1,000 characters.
fn reason_of(reason: &str, what: &str) -> Result<String, ChangeError> {
    let reason = civitas_core::nfc(reason.trim());
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ChangeError::Invalid(format!("give the reason{what} (1–1,000 characters)")));
    }
    Ok(reason)
}

async fn certificate_of(db: &Db, leader: &Leader<'_>, id: &str) -> Result<Certificate, ChangeError> {
    certificates::get(db, id).await?.filter(|c| (leader.covers)(&c.unit_code)).ok_or(ChangeError::NotFound)
}

/// Corrects the full name on certificate `id` (the child of a birth, the deceased of a death):
/// the register's person gets a new version, the certificate is re-issued from the corrected
/// register and the old one superseded, with `person.corrected` and `civil.corrected` events.
/// Returns the new certificate.
pub async fn correct(
    c: &Correcting<'_>,
    leader: &Leader<'_>,
    id: &str,
    full_name: &str,
    reason: &str,
    now: time::OffsetDateTime,
) -> Result<Certificate, ChangeError> {
    let old = certificate_of(c.db, leader, id).await?;
    if old.status != "valid" {
        return Err(ChangeError::NotValid(old.status));
    }
    let reason = reason_of(reason, " and evidence of the correction")?;
    let name = civitas_core::nfc(full_name.trim());
    if old.kind == "marriage" {
        return Err(ChangeError::Invalid(
            "a marriage certificate is corrected through the spouses' own records".into(),
        ));
    }
    let pid: civitas_core::Pid = old.subject_pid.parse().map_err(|_| ChangeError::Inconsistent("subject"))?;
    let person = c.register.get(&pid).await?.ok_or(ChangeError::Inconsistent("person"))?;
    if person.full_name == name {
        return Err(ChangeError::Invalid("the name is already so".into()));
    }
    let record = crate::civil::record_of(c.db, &old.dossier_code).await?.ok_or(ChangeError::Inconsistent("record"))?;
    let at = civitas_store::timestamp(now);
    let mut corrected = person.clone();
    corrected.full_name = name.clone();
    let today = crate::dossiers::local_today(now);
    let corrected = corrected.normalize_and_validate(today).map_err(|e| ChangeError::Invalid(e.to_string()))?;
    let basis = civitas_registry::LegalBasis {
        basis: format!("Cải chính hộ tịch: {reason}"),
        document_ref: Some(record.registration_number.clone()),
    };
    let attribution = civitas_registry::store::Attribution { actor: leader.sub, legal_basis: &basis, at: &at };
    let version = person.version.unwrap_or(1);
    let events = [
        NewEvent {
            kind: "person.corrected",
            subject: pid.as_str().to_owned(),
            payload: serde_json::json!({ "fields": ["full_name"], "version": version + 1 }),
            actor: leader.sub.to_owned(),
            occurred_at: at.clone(),
        },
        NewEvent {
            kind: "civil.corrected",
            subject: record.id.clone(),
            payload: serde_json::json!({ "certificate": old.id, "field": "full_name", "from": person.full_name, "to": name, "reason": reason }),
            actor: leader.sub.to_owned(),
            occurred_at: at.clone(),
        },
    ];
    let mut writes = c
        .register
        .plan_version(&corrected, &person, version, "corrected", &attribution, &events)
        .map_err(|e| ChangeError::Invalid(e.to_string()))?;
    // The new certificate reads the corrected register; sign it from the corrected fields.
    let mut fields = certificate_issue::fields_of(c.register, &record).await?;
    fields.insert("n".into(), name.clone());
    let issued = certificate_issue::sign(c.issuer, c.signer, c.renderer, &record, fields, now)?;
    let new_id = issued.id.clone();
    writes.push(certificates::supersede(&old.id, &new_id, &reason));
    writes.push(issued.write);
    if civitas_store::unit::commit(c.db, &writes).await?.is_err() {
        return Err(ChangeError::Changed);
    }
    certificates::get(c.db, &new_id).await?.ok_or(ChangeError::Inconsistent("new certificate"))
}

/// Revokes certificate `id` (issued in error, the registration annulled by a court decision,
/// ...), with a `civil.certificate_revoked` event. Only a valid certificate is revoked.
pub async fn revoke(
    db: &Db,
    leader: &Leader<'_>,
    id: &str,
    reason: &str,
    now: time::OffsetDateTime,
) -> Result<Certificate, ChangeError> {
    let c = certificate_of(db, leader, id).await?;
    let reason = reason_of(reason, "")?;
    let event = NewEvent {
        kind: "civil.certificate_revoked",
        subject: c.id.clone(),
        payload: serde_json::json!({ "record": c.record_id, "reason": reason }),
        actor: leader.sub.to_owned(),
        occurred_at: civitas_store::timestamp(now),
    };
    let writes = [certificates::revoke(&c.id, &reason), civitas_store::unit::event(&event)];
    if civitas_store::unit::commit(db, &writes).await?.is_err() {
        return Err(ChangeError::NotValid(c.status));
    }
    certificates::get(db, id).await?.ok_or(ChangeError::Inconsistent("certificate"))
}
