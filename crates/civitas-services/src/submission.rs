//! Preparing a submission: everything checked before a dossier is stored — the e-form against
//! the procedure, each document (handed in from the applicant's store, replaced by the
//! register or an earlier result), the competent unit — and the applicant's data taken from the
//! register, never typed. Online, at the counter and in the demo alike.

use std::collections::BTreeMap;

use civitas_core::AdminUnits;
use civitas_registry::Person;
use civitas_store::{Db, StoreError};

use crate::catalogue::{Level, Procedure, Replacement};
use crate::documents;
use crate::dossiers::NewDossier;

/// One field of a submission that was not accepted (`fields.<name>` or `components.<code>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    #[error("the form has problems")]
    Invalid(Vec<FieldError>),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Where and under which catalogue a dossier is received.
pub struct Receiving<'a> {
    /// Identity code of the receiving body (QCVN 102), the first part of the dossier code.
    pub body_code: &'a str,
    pub catalogue_version: &'a str,
    /// online, counter or postal.
    pub channel: &'a str,
}

/// The applicant's details as the register holds them, copied into the dossier.
pub fn applicant_data(person: &Person) -> serde_json::Value {
    serde_json::json!({
        "pid": person.pid.as_str(),
        "full_name": person.full_name,
        "birth_date": person.birth_date.vn_text(),
        "sex": person.sex.label("vi"),
        "permanent_residence": person.permanent_residence.as_ref().map(civitas_registry::Residence::full_text),
    })
}

/// Checks a submission of `person` for `procedure` and returns the dossier to store; `extra`
/// is merged into the dossier's data (card mismatches, who received it).
pub async fn prepare(
    db: &Db,
    receiving: &Receiving<'_>,
    procedure: &Procedure,
    person: &Person,
    fields: &BTreeMap<String, String>,
    components: &BTreeMap<String, String>,
    extra: serde_json::Value,
) -> Result<NewDossier, SubmissionError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let checked = match procedure.check_fields(fields) {
        Ok(c) => c,
        Err(es) => {
            errors.extend(es.into_iter().map(|e| FieldError {
                detail: format!("{} {}", e.field, e.problem.text_en()),
                field: format!("fields.{}", e.field),
            }));
            BTreeMap::new()
        }
    };
    let documents = check_documents(db, procedure, person, components).await?;
    errors.extend(documents.errors);
    let unit = competent_unit(procedure, &checked, person);
    if errors.is_empty() && unit.is_none() {
        errors.push(FieldError {
            field: "fields.commune".into(),
            detail: "the register has no permanent residence for the applicant: name the commune".into(),
        });
    }
    if !errors.is_empty() {
        return Err(SubmissionError::Invalid(errors));
    }
    let mut data = serde_json::json!({
        "applicant": applicant_data(person),
        "fields": checked,
        "components": documents.attached,
        "replaced": documents.replaced,
    });
    if let (Some(obj), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
        obj.extend(extra);
    }
    Ok(NewDossier {
        procedure_code: procedure.code.clone(),
        body_code: receiving.body_code.to_owned(),
        unit_code: unit.unwrap_or_default(),
        applicant_pid: person.pid.as_str().to_owned(),
        applicant_name: person.full_name.clone(),
        channel: receiving.channel.to_owned(),
        data,
        statutory_days: procedure.days,
        catalogue_version: receiving.catalogue_version.to_owned(),
        national_code: procedure.national_code.trim().to_owned(),
    })
}

/// The documents of a submission: attached from the applicant's store, replaced by the
/// register, the form or an earlier result, and what is wrong with them.
struct Documents {
    attached: serde_json::Map<String, serde_json::Value>,
    replaced: serde_json::Map<String, serde_json::Value>,
    errors: Vec<FieldError>,
}

async fn check_documents(
    db: &Db,
    procedure: &Procedure,
    person: &Person,
    components: &BTreeMap<String, String>,
) -> Result<Documents, SubmissionError> {
    let mut out = Documents { attached: serde_json::Map::new(), replaced: serde_json::Map::new(), errors: Vec::new() };
    for code in components.keys() {
        if !procedure.components.iter().any(|c| &c.code == code && c.needs_file()) {
            out.errors.push(FieldError {
                field: format!("components.{code}"),
                detail: format!("{code} is not a document this procedure asks for"),
            });
        }
    }
    for c in &procedure.components {
        let missing = |detail: String| FieldError { field: format!("components.{}", c.code), detail };
        match (c.replacement(), components.get(&c.code)) {
            (Some(Replacement::Register), _) => {
                out.replaced.insert(c.code.clone(), "register".into());
            }
            (Some(Replacement::Form), _) => {
                out.replaced.insert(c.code.clone(), "form".into());
            }
            (_, Some(id)) => {
                if documents::owned_by(db, id, person.pid.as_str()).await? {
                    out.attached.insert(c.code.clone(), id.clone().into());
                } else {
                    out.errors.push(missing(format!("document {id} is not in the applicant's store")));
                }
            }
            (Some(Replacement::Result(of)), None) => {
                match documents::latest_result(db, person.pid.as_str(), &of).await? {
                    Some(doc) => {
                        out.attached.insert(c.code.clone(), doc.id.into());
                        out.replaced.insert(c.code.clone(), format!("result:{of}").into());
                    }
                    None if c.required => out
                        .errors
                        .push(missing(format!("{} is required (no result of {of} in the store to reuse)", c.name_en))),
                    None => {}
                }
            }
            (None, None) if c.required => out.errors.push(missing(format!("{} is required", c.name_en))),
            (None, None) => {}
        }
    }
    Ok(out)
}

/// The competent unit: the commune the form names, else the applicant's permanent residence;
/// its province for provincial procedures.
fn competent_unit(procedure: &Procedure, checked: &BTreeMap<String, String>, person: &Person) -> Option<String> {
    let commune = procedure
        .commune_of(checked)
        .map(str::to_owned)
        .or_else(|| person.permanent_residence.as_ref().map(|r| r.commune.as_str().to_owned()));
    commune.as_deref().and_then(|c| AdminUnits::get().commune(c)).map(|c| match procedure.level {
        Level::Commune => c.code.clone(),
        Level::Province => c.province_code.clone(),
    })
}
