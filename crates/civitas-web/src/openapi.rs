//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' annotations.
//! `civitas openapi` prints it; CI diffs it against the committed `openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{api, calendar, certificates, dossiers, one_stop, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(title = "civitas API", description = "Population register and Project 06 services. Errors are RFC 9457 problem details."),
    paths(
        api::get_person, api::search_people, api::register_person, api::correct_person, api::person_history,
        api::change_residence, api::residence_confirmation, api::get_household, api::find_communes, api::convert_old_commune,
        calendar::holidays, calendar::working_days, calendar::lunar_date, dossiers::status, dossiers::my_dossiers,
        one_stop::list_procedures, one_stop::get_procedure, one_stop::upload_document, one_stop::my_documents,
        one_stop::my_document, one_stop::submit_online, one_stop::card_check, one_stop::submit_counter,
        one_stop::get_dossier, one_stop::dossier_document, one_stop::work_queue, one_stop::official_ratings,
        one_stop::officer_action, one_stop::supplement, one_stop::withdraw, one_stop::apology, one_stop::rate,
        one_stop::receipt_pdf, one_stop::apology_pdf, webhooks::dead, webhooks::replay, webhooks::list_agencies,
        certificates::list, certificates::pdf, certificates::correct, certificates::revoke,
    ),
    modifiers(&BearerAuth),
    tags((name = "register", description = "Population register"), (name = "units", description = "Administrative units"),
        (name = "calendar", description = "Working days, public holidays and lunar dates"),
        (name = "dossiers", description = "One-stop dossiers"),
        (name = "procedures", description = "The catalogue of procedures"),
        (name = "documents", description = "A citizen's document store"),
        (name = "interconnection", description = "Follow-ups at other agencies: endpoints, dead letters"),
        (name = "civil-status", description = "Birth, marriage and death certificates"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
