//! The one-stop system over HTTP: the procedure catalogue, citizens' documents and online
//! submissions (e-ID access token), counter intake from the card QR (one-stop officers), the
//! officers' work queue and actions per processing step, apologies, ratings, and the printable
//! slips (receipt, form 01; apology, form 04) as PDFs with the QR of Circular 01/2023.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_core::Pid;
use civitas_core::card::CardQr;
use civitas_identity::Role;
use civitas_services::catalogue::{Procedure, StepRole};
use civitas_services::documents::{self, DocumentError};
use civitas_services::dossiers::{self, ActInput, Actor, Dossier, DossierError, NewDossier, QueueFilter, Rating};
use civitas_services::papers;
use civitas_services::processing::{self, ProcessingError};
use civitas_services::submission::{self, SubmissionError};
use civitas_services::workflow::{Action, State};

use crate::AppState;
use crate::auth::{Bearer, Caller, Citizen};
use crate::files::file_response;
use crate::problem::{FieldProblem, Problem};

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/procedures", get(list_procedures))
        .route("/api/v1/procedures/{code}", get(get_procedure))
        .route(
            "/api/v1/me/documents",
            get(my_documents)
                .post(upload_document)
                .layer(axum::extract::DefaultBodyLimit::max(documents::MAX_BYTES + 64 * 1024)),
        )
        .route("/api/v1/me/documents/{id}", get(my_document))
        .route("/api/v1/dossiers", post(submit_online))
        .route("/api/v1/counter/card-check", post(card_check))
        .route("/api/v1/counter/dossiers", post(submit_counter))
        .route("/api/v1/work-queue", get(work_queue))
        .route("/api/v1/ratings/officials", get(official_ratings))
        .route("/api/v1/dossiers/{code}", get(get_dossier))
        .route("/api/v1/dossiers/{code}/actions", post(officer_action))
        .route("/api/v1/dossiers/{code}/supplement", post(supplement))
        .route("/api/v1/dossiers/{code}/withdraw", post(withdraw))
        .route("/api/v1/dossiers/{code}/apology", post(apology))
        .route("/api/v1/dossiers/{code}/rating", post(rate))
        .route("/api/v1/dossiers/{code}/receipt.pdf", get(receipt_pdf))
        .route("/api/v1/dossiers/{code}/apology.pdf", get(apology_pdf))
        .route("/api/v1/dossiers/{code}/documents/{id}", get(dossier_document))
        .into_router()
}

impl From<DossierError> for Problem {
    fn from(e: DossierError) -> Self {
        match e {
            DossierError::Invalid(d) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-dossier", "Invalid dossier", d)
            }
            DossierError::NotFound(c) => Problem::not_found(format!("no dossier {c} that you may see")),
            // The workflow's refusal (another role acts at this step), not the access policy's.
            DossierError::Forbidden(d) => Problem::new(StatusCode::FORBIDDEN, "not-your-step", "Not your step", d),
            e @ DossierError::Transition(_) => {
                Problem::new(StatusCode::CONFLICT, "wrong-state", "Not possible in this state", e.to_string())
            }
            e @ DossierError::VersionConflict { .. } => {
                Problem::new(StatusCode::CONFLICT, "version-conflict", "Changed meanwhile", e.to_string())
            }
            DossierError::PossibleDuplicate(d) => {
                Problem::new(StatusCode::CONFLICT, "possible-duplicate", "Possible duplicate", d)
            }
            DossierError::Busy => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                "too many submissions at once; retry shortly",
            ),
            DossierError::Store(e) => crate::problem::internal(&e),
        }
    }
}

impl From<DocumentError> for Problem {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Store(e) => crate::problem::internal(&e),
            e @ DocumentError::TooLarge { .. } => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Document too large", e.to_string())
            }
            e @ DocumentError::UnsupportedType { .. } => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-type",
                "Unsupported document type",
                e.to_string(),
            ),
            e => Problem::bad_request("invalid-document", e.to_string()),
        }
    }
}

mod acting;
mod intake;
mod reading;
mod store;

pub use acting::*;
pub use intake::*;
pub use reading::*;
pub use store::*;
