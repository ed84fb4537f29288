//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' annotations.
//! `civitas openapi` prints it; CI diffs it against the committed `openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{
    api, archive_pages, calendar, certificates, codes_pages, committees_api, dossiers, one_stop, portal_api, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "civitas API", description = "Population register and Project 06 services. Errors are RFC 9457 problem details."),
    paths(
        api::get_person, api::search_people, api::register_person, api::correct_person, api::person_history,
        api::change_residence, api::residence_confirmation, api::get_household, api::find_communes, api::suggest_communes, crate::transparency::my_access, crate::transparency::my_receipt, api::convert_old_commune,
        calendar::holidays, calendar::working_days, calendar::lunar_date, dossiers::status, dossiers::my_dossiers,
        one_stop::list_procedures, one_stop::get_procedure, one_stop::upload_document, one_stop::my_documents,
        one_stop::my_document, one_stop::submit_online, one_stop::card_check, one_stop::submit_counter,
        one_stop::get_dossier, one_stop::dossier_document, one_stop::work_queue, one_stop::official_ratings,
        one_stop::officer_action, one_stop::supplement, one_stop::withdraw, one_stop::apology, one_stop::rate,
        one_stop::receipt_pdf, one_stop::apology_pdf, webhooks::dead, webhooks::replay, webhooks::list_agencies,
        portal_api::status, portal_api::dead, portal_api::replay, codes_pages::by_code, archive_pages::packages, archive_pages::disposal,
        committees_api::list, committees_api::create, committees_api::one, committees_api::add_member,
        committees_api::assign, committees_api::task, committees_api::report,
        certificates::list, certificates::pdf, certificates::correct, certificates::revoke,
        crate::exchange::verify, crate::exchange::attributes, crate::exchange::list_subscriptions, crate::exchange::subscribe,
        crate::cards_api::person_cards, crate::cards_api::change_state, crate::cards_api::report_lost, crate::cards_api::card_counters, crate::cards_api::verify_card,
        crate::reports_api::list, crate::reports_api::indicator, crate::reports_api::form_06a, crate::reports_api::public_index, crate::reports_api::unit_index,
        crate::onboarding::start, crate::onboarding::status, crate::onboarding::confirm_phone, crate::onboarding::challenge,
        crate::onboarding::submit_card, crate::onboarding::reviews_api, crate::onboarding::review_api, crate::onboarding::decide_api,
        crate::exchange::list_grants, crate::exchange::create_grant, crate::exchange::revoke_grant, crate::exchange::audit_access,
    ),
    modifiers(&BearerAuth),
    tags((name = "register", description = "Population register"), (name = "units", description = "Administrative units"),
        (name = "calendar", description = "Working days, public holidays and lunar dates"),
        (name = "dossiers", description = "One-stop dossiers"),
        (name = "procedures", description = "The catalogue of procedures"),
        (name = "documents", description = "A citizen's document store"),
        (name = "interconnection", description = "Follow-ups at other agencies: endpoints, dead letters"),
        (name = "civil-status", description = "Birth, marriage and death certificates"),
        (name = "exchange", description = "Agency systems under grants: verify, attributes, life-event subscriptions; the grants"),
        (name = "audit", description = "The auditor's search of the access log"),
        (name = "cards", description = "Chip ID cards in the register: records, lifecycle, Project 06 counters"),
        (name = "reports", description = "Project 06 steering: indicators, form 06a, the Decision 766 index, committees and their tasks"),
        (name = "archive", description = "The electronic archive: packages, drift, disposal decisions"))
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
    serde_json::to_string_pretty(&value()).unwrap_or_default()
}

pub async fn document() -> Json<serde_json::Value> {
    Json(value())
}

/// The generated document, completed by the rules every operation follows, so that a
/// schema-driven client finds every status and content type the server can answer:
/// - errors are `application/problem+json` (RFC 9457);
/// - every operation may answer 400 (a malformed query or body), 500 and 503; a protected one
///   401 and 403; one with path parameters 404; one with a body 413, 415 and 422;
/// - query parameters that the annotations left "in path" are declared in the query.
pub fn value() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let problem = serde_json::json!({
        "description": "A problem (RFC 9457)",
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    });
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else { return doc };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (_, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else { continue };
            if let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) {
                for param in params.iter_mut() {
                    let name = param["name"].as_str().unwrap_or_default().to_owned();
                    if param["in"] == "path" && !path.contains(&format!("{{{name}}}")) {
                        let nullable =
                            param["schema"]["type"].as_array().is_some_and(|t| t.iter().any(|v| v == "null"));
                        param["in"] = "query".into();
                        param["required"] = (!nullable).into();
                    }
                    // The formats the server checks, so that a client (or a fuzzer) knows them.
                    match name.as_str() {
                        "pid" => param["schema"] = serde_json::json!({ "type": "string", "pattern": "^[0-9]{12}$" }),
                        "pid_last4" => {
                            param["schema"] = serde_json::json!({ "type": "string", "pattern": "^[0-9]{4}$" });
                            param["required"] = true.into();
                        }
                        _ => {}
                    }
                }
            }
            let secured = op.get("security").is_some();
            let has_path_params = path.contains('{');
            let has_body = op.get("requestBody").is_some();
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else { continue };
            for (_, response) in responses.iter_mut() {
                let is_problem = response.pointer("/content/application~1json/schema/$ref")
                    == Some(&serde_json::json!("#/components/schemas/Problem"));
                if is_problem {
                    let description = response.get("description").cloned();
                    *response = problem.clone();
                    if let Some(d) = description.filter(|d| d.as_str().is_some_and(|s| !s.is_empty())) {
                        response["description"] = d;
                    }
                }
            }
            let mut add = |status: &str| {
                responses.entry(status.to_owned()).or_insert_with(|| problem.clone());
            };
            for status in ["400", "500", "503"] {
                add(status);
            }
            if secured {
                add("401");
                add("403");
            }
            if has_path_params {
                add("404");
            }
            if has_body {
                for status in ["413", "415", "422"] {
                    add(status);
                }
            }
        }
    }
    doc
}
