//! The answer of a card check (`POST /api/v1/cards/verify`, `civitas cards verify`): valid or
//! the failure's code, the steps passed, what the card says, which CSCA issued it.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Allow, Chip, CrlStatus, PaFailure, Passed, TrustStore, passive_check};

/// A card's files as a client sends them: base64 (standard alphabet) of each file as read.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardFiles {
    pub sod: String,
    pub dg1: String,
    /// The face image group (optional; remote onboarding shows it to the reviewing officer).
    pub dg2: Option<String>,
    pub dg13: String,
    pub dg14: Option<String>,
    pub dg15: Option<String>,
}

/// Data groups by number, each the whole file as read.
pub type DataGroups = BTreeMap<u8, Vec<u8>>;

/// Why the files could not even be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FilesError {
    pub field: &'static str,
    pub message: String,
}

/// The largest file accepted (base64 text of a data group or SOD).
pub const MAX_FILE_CHARS: usize = 96 * 1024;

impl CardFiles {
    /// The decoded files: the SOD and `number → file`.
    pub fn decode(&self) -> Result<(Vec<u8>, DataGroups), FilesError> {
        let one = |field: &'static str, text: &str| {
            if text.len() > MAX_FILE_CHARS {
                return Err(FilesError { field, message: format!("longer than {MAX_FILE_CHARS} characters") });
            }
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| FilesError { field, message: format!("not base64: {e}") })
        };
        let sod = one("sod", &self.sod)?;
        let mut dgs = BTreeMap::new();
        dgs.insert(1u8, one("dg1", &self.dg1)?);
        if let Some(t) = &self.dg2 {
            dgs.insert(2, one("dg2", t)?);
        }
        dgs.insert(13, one("dg13", &self.dg13)?);
        if let Some(t) = &self.dg14 {
            dgs.insert(14, one("dg14", t)?);
        }
        if let Some(t) = &self.dg15 {
            dgs.insert(15, one("dg15", t)?);
        }
        Ok((sod, dgs))
    }
}

/// What the card says (DG13, DG1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CardData {
    pub pid: Option<String>,
    pub document_number: String,
    pub full_name: Option<String>,
    /// `dd/mm/yyyy` as on the card.
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub issued_on: Option<String>,
    pub expires_on: Option<String>,
    /// `cccd-2021` or `can-cuoc-2024`, from the issue date.
    pub generation: Option<&'static str>,
    pub old_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Failure {
    pub code: &'static str,
    pub detail: String,
}

/// The verdict.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    pub valid: bool,
    pub failure: Option<Failure>,
    /// The steps passed, in CHIP.md's order.
    pub checks: Vec<&'static str>,
    pub card: Option<CardData>,
    /// The CSCA that issued the Document Signer: its id (SHA-256 of its certificate) and name.
    pub csca: Option<(String, String)>,
    pub document_signer: Option<String>,
    pub algorithms: Vec<String>,
    #[schema(value_type = Option<String>)]
    pub crl: Option<CrlStatus>,
    /// Passive authentication shows the data was issued, not that the chip was present: that
    /// is Active Authentication, done in remote onboarding on a server challenge.
    pub active_authentication: &'static str,
}

/// The card data of a passed check.
pub fn card_data(passed: &Passed) -> CardData {
    let d = &passed.dg13;
    let issued = d.text(11).map(str::to_owned);
    let generation = d
        .text(11)
        .and_then(|t| civitas_core::PartialDate::parse_vn(t).ok())
        .and_then(|p| p.to_date())
        .map(|day| if day >= time::macros::date!(2024 - 07 - 01) { "can-cuoc-2024" } else { "cccd-2021" });
    CardData {
        pid: d.pid().map(|p| p.as_str().to_owned()),
        document_number: passed.td1.pid.as_str()[3..].to_owned(),
        full_name: d.full_name().map(str::to_owned),
        birth_date: d.text(3).map(str::to_owned),
        sex: d.text(4).map(str::to_owned),
        issued_on: issued,
        expires_on: d.text(12).map(str::to_owned),
        generation,
        old_id: d.text(15).map(str::to_owned),
    }
}

/// Checks the files against `trust`: the verdict, and the passed check when valid.
pub fn verdict(
    sod: &[u8],
    dgs: &BTreeMap<u8, Vec<u8>>,
    trust: &TrustStore,
    allow: &Allow,
    now: OffsetDateTime,
) -> (Verdict, Option<Passed>) {
    match passive_check(&Chip { sod, dgs }, trust, allow, now) {
        Ok(passed) => (
            Verdict {
                valid: true,
                failure: None,
                checks: passed.checks.clone(),
                card: Some(card_data(&passed)),
                csca: Some(passed.csca.clone()),
                document_signer: Some(passed.ds_subject.clone()),
                algorithms: passed.algorithms.clone(),
                crl: Some(passed.crl),
                active_authentication: "not_performed",
            },
            Some(passed),
        ),
        Err(e) => (refused(&e), None),
    }
}

fn refused(e: &PaFailure) -> Verdict {
    Verdict {
        valid: false,
        failure: Some(Failure { code: e.code(), detail: e.to_string() }),
        checks: Vec::new(),
        card: None,
        csca: None,
        document_signer: None,
        algorithms: Vec::new(),
        crl: None,
        active_authentication: "not_performed",
    }
}
