//! An officer's action on a dossier, as one use case: the workflow step (`dossiers::act`), and
//! what some steps bring with them — approving a birth, marriage or death registers it
//! (`civil::approve`, in the same transaction); issuing the result of a civil-status dossier
//! signs its certificate; issuing any other result renders the result document. The documents
//! are rendered through ports the server wires (PDF writer, key ring).
//!
//! Who may act (role, administrative unit) is decided before: by the access policy and the
//! workflow's step roles (`Actor`).

use civitas_core::workdays::WorkCalendar;
use civitas_registry::Register;
use civitas_store::Db;
use civitas_store::unit::GroupCommitter;

use crate::catalogue::Procedure;
use crate::certificate_issue::{self, IssueError, Renderer, Signer};
use crate::dossiers::{self, ActInput, Actor, Dossier, DossierError, ResultFile};
use crate::workflow::Action;

/// Renders the result document of a (non civil-status) dossier, signed by `officer`.
pub trait ResultRenderer: Send + Sync {
    fn result(
        &self,
        d: &Dossier,
        procedure: &Procedure,
        officer: &str,
        now: time::OffsetDateTime,
    ) -> Result<Vec<u8>, String>;
}

/// What processing needs of the server.
pub struct Processing<'a> {
    pub db: &'a Db,
    pub register: &'a Register,
    pub calendar: &'a WorkCalendar,
    pub committer: &'a GroupCommitter,
    /// The public base URL (`iss` of certificates).
    pub issuer: &'a str,
    pub signer: &'a dyn Signer,
    pub certificates: &'a dyn Renderer,
    pub results: &'a dyn ResultRenderer,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    #[error(transparent)]
    Dossier(#[from] DossierError),
    #[error(transparent)]
    Certificate(#[from] IssueError),
    #[error("the result document could not be rendered: {0}")]
    Render(String),
}

/// Performs `action` on dossier `d` (of `procedure`) as `actor` at `now`.
#[allow(clippy::too_many_arguments)]
pub async fn perform(
    p: &Processing<'_>,
    procedure: &Procedure,
    d: &Dossier,
    action: Action,
    actor: &Actor,
    mut input: ActInput,
    not_duplicate: bool,
    now: time::OffsetDateTime,
) -> Result<Dossier, ProcessingError> {
    let civil = crate::civil::kind_of(&procedure.code).is_some();
    // The result of a civil-status registration is its certificate, signed, written with the
    // step in one transaction.
    if action == Action::IssueResult
        && civil
        && let Some(record) = crate::civil::record_of(p.db, &d.code).await.map_err(DossierError::from)?
    {
        let issued = certificate_issue::issue(p.register, p.issuer, p.signer, p.certificates, &record, now).await?;
        let code = crate::codes::signed_result(
            p.db,
            p.signer,
            p.issuer,
            procedure,
            d,
            &record.registration_number,
            &issued.pdf,
            &actor.id(),
            now,
        )
        .await
        .map_err(DossierError::from)?;
        input.result = Some(ResultFile {
            name: format!("{} {}.pdf", procedure.name_vi, record.registration_number.replace('/', "-")),
            bytes: issued.pdf,
            code: Some(code),
        });
        let (current, mut writes) =
            dossiers::plan_act(p.db, p.calendar, procedure, &d.code, action, actor, input, now).await?;
        writes.push(issued.write);
        return Ok(dossiers::commit_planned(p.db, &d.code, current.version, &writes).await?);
    }
    if action == Action::IssueResult && input.result.is_none() {
        let bytes = p.results.result(d, procedure, &actor.id(), now).map_err(ProcessingError::Render)?;
        let code =
            crate::codes::signed_result(p.db, p.signer, p.issuer, procedure, d, &d.code, &bytes, &actor.id(), now)
                .await
                .map_err(DossierError::from)?;
        input.result =
            Some(ResultFile {
                name: format!("Kết quả {} {}.pdf", procedure.code, d.code), bytes, code: Some(code)
            });
    }
    if action == Action::Approve && civil {
        return Ok(crate::civil::approve(
            p.db,
            p.register,
            p.calendar,
            procedure,
            &d.code,
            actor,
            input,
            not_duplicate,
            p.committer,
            now,
        )
        .await?);
    }
    if action == Action::Approve && procedure.code == CARD_PROCEDURE {
        // The card's record is created with the approval (its data collected at the counter).
        let (current, mut writes) =
            dossiers::plan_act(p.db, p.calendar, procedure, &d.code, action, actor, input, now).await?;
        let holder: Option<civitas_registry::Person> = match d.applicant_pid.parse::<civitas_core::Pid>() {
            Ok(pid) => p.register.get(&pid).await.ok().flatten(),
            Err(_) => None,
        };
        let commune = holder
            .as_ref()
            .and_then(|h| h.communes().first().map(|c| (*c).to_owned()))
            .unwrap_or_else(|| d.unit_code.clone());
        let at = civitas_store::timestamp(now);
        let today = dossiers::local_today(now);
        writes.extend(crate::cards::collected(
            &d.applicant_pid,
            &commune,
            crate::cards::generation_on(today),
            None,
            Some(&d.code),
            &actor.id(),
            &at,
        ));
        return Ok(dossiers::commit_planned(p.db, &d.code, current.version, &writes).await?);
    }
    Ok(dossiers::act(p.db, p.calendar, procedure, &d.code, action, actor, input, now).await?)
}

/// The procedure whose approval creates a card record (renewal or replacement, DVC-02).
pub const CARD_PROCEDURE: &str = "DVC-02";
