//! Civil-status certificates: the birth certificate (giấy khai sinh), the marriage certificate
//! and the death extract, as PDFs whose QR holds a compact JWS (ES256, the server's key id in
//! its header) over the essential fields and the registration number, so anyone can check them
//! offline against the published keys (`civitas verify`). `/verify` (no sign-in) also says
//! whether a certificate is still valid, revoked, or superseded by a corrected re-issue.
//! Corrections of a registered record are their own audited action: the register is
//! corrected, the certificate re-issued, the old one superseded, in one transaction.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civitas_docs::{Block, Document};
use civitas_identity::Role;
use civitas_services::certificates::{self, Certificate};

use crate::AppState;
use crate::auth::{Bearer, Caller};
use crate::i18n::Lang;
use crate::problem::Problem;

pub use civitas_services::certificate_issue::CertClaims;
use civitas_services::certificate_issue::{self, IssueError, field_label, title};

/// The server's certificate ports: signed with its key ring, rendered with its PDF writer.
pub struct Ports<'a>(pub &'a AppState);

impl certificate_issue::Signer for Ports<'_> {
    fn sign(&self, typ: &str, claims: &CertClaims) -> String {
        civitas_identity::tokens::sign_jws(&self.0.keys, typ, claims)
    }
}

impl certificate_issue::Renderer for Ports<'_> {
    fn certificate(&self, claims: &CertClaims, jws: &str) -> Result<Vec<u8>, String> {
        render(claims, jws).map_err(|p| p.detail)
    }
}

impl From<IssueError> for Problem {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::MissingPerson | IssueError::Render(_) => crate::problem::internal(&e),
            IssueError::Register(r) => r.into(),
        }
    }
}

/// The PDF of a certificate, from its signed payload (so the paper shows what the QR says).
pub fn render(claims: &CertClaims, jws: &str) -> Result<Vec<u8>, Problem> {
    let units = civitas_core::AdminUnits::get();
    let authority = units.commune(&claims.reg).map(|c| format!("UBND {}", c.name)).unwrap_or_default();
    let mut blocks = vec![
        Block::Centered("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM".into()),
        Block::Centered("Độc lập - Tự do - Hạnh phúc".into()),
        Block::Gap(8.0),
        Block::Centered(authority),
        Block::Gap(8.0),
        Block::Title(title(&claims.typ).into()),
        Block::Centered(format!("Số: {}", claims.no)),
        Block::Gap(8.0),
    ];
    for (k, v) in &claims.f {
        blocks.push(Block::Field(field_label(k).into(), v.clone()));
    }
    blocks.push(Block::Gap(8.0));
    blocks.push(Block::Text(format!(
        "Mã chứng nhận: {}. Kiểm tra tính hợp lệ: quét mã QR hoặc nhập mã tại trang /verify của hệ thống.",
        claims.id
    )));
    civitas_docs::render(&Document {
        title: title(&claims.typ).into(),
        blocks,
        qr: Some(jws.to_owned()),
        footer: format!("civitas · {} · {}", title(&claims.typ), claims.no),
        subject: Some(jws.to_owned()),
    })
    .map_err(|e| crate::problem::internal(&e))
}

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/api/v1/certificates", get(list))
        .route("/api/v1/certificates/{id}/pdf", get(pdf))
        .route("/api/v1/certificates/{id}/correct", post(correct))
        .route("/api/v1/certificates/{id}/revoke", post(revoke))
        .route("/verify", get(verify_page))
        .into_router()
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Certificate>,
}

/// Who is asking: an officer of civil status (the leader or specialist of a unit) or a person
/// (their e-ID access token).
enum Reader {
    Officer(Caller),
    Person(String),
}

fn reader(bearer: Bearer) -> Reader {
    match bearer {
        Bearer::Officer(caller) => Reader::Officer(caller),
        Bearer::Citizen(citizen) => Reader::Person(citizen.pid),
    }
}

fn may_read(reader: &Reader, c: &Certificate) -> bool {
    match reader {
        Reader::Officer(caller) => caller.covers_unit(&c.unit_code),
        Reader::Person(pid) => &c.subject_pid == pid || c.other_pid.as_deref() == Some(pid.as_str()),
    }
}

#[utoipa::path(get, path = "/api/v1/certificates", tag = "civil-status", params(ListQuery),
    responses((status = 200, body = CertificateList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Query(q): Query<ListQuery>,
) -> Result<Json<CertificateList>, Problem> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let items = match reader(bearer) {
        Reader::Officer(caller) => certificates::of_units(&state.db, &caller.unit_scope(), limit).await?,
        Reader::Person(pid) => certificates::of_person(&state.db, &pid, limit).await?,
    };
    Ok(Json(CertificateList { items }))
}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/pdf", tag = "civil-status", params(("id" = String, Path)),
    responses((status = 200, description = "The certificate, PDF", content_type = "application/pdf"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn pdf(
    AxumState(state): AxumState<AppState>,
    bearer: Bearer,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let reader = reader(bearer);
    let c = certificates::get(&state.db, &id).await?.filter(|c| may_read(&reader, c));
    let c = c.ok_or_else(|| Problem::not_found("no such certificate that you may read"))?;
    let claims: CertClaims =
        civitas_identity::tokens::verify_jws(&state.keys, &c.payload).await.map_err(|_| Problem::internal())?;
    let bytes = render(&claims, &c.payload)?;
    Ok(crate::files::file_response("application/pdf", &format!("{}-{}.pdf", c.kind, c.id), bytes))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The corrected full name (the field a correction most often concerns).
    full_name: String,
    /// Why, and on what evidence: kept on the record, the register's history and the event.
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/correct", tag = "civil-status", params(("id" = String, Path)),
    request_body = Correction,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn correct(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Correction>,
) -> Result<(StatusCode, Json<Certificate>), Problem> {
    if caller.role() != Role::Leader {
        return Err(Problem::forbidden("corrections of civil status are decided by a leader"));
    }
    let old = certificates::get(&state.db, &id).await?.filter(|c| caller.covers_unit(&c.unit_code));
    let old = old.ok_or_else(|| Problem::not_found("no such certificate in your units"))?;
    if old.status != "valid" {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not-valid",
            "Not valid",
            format!("the certificate is {}", old.status),
        ));
    }
    let reason = civitas_core::nfc(body.reason.trim());
    let name = civitas_core::nfc(body.full_name.trim());
    let invalid = |d: &str| {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-correction", "Invalid correction", d.to_owned())
    };
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(invalid("give the reason and evidence of the correction (1–1,000 characters)"));
    }
    // Whose name: the child of a birth, the deceased of a death.
    if old.kind == "marriage" {
        return Err(invalid("a marriage certificate is corrected through the spouses' own records"));
    }
    let pid: civitas_core::Pid = old.subject_pid.parse().map_err(|_| Problem::internal())?;
    let person = state.register.get(&pid).await?.ok_or_else(Problem::internal)?;
    if person.full_name == name {
        return Err(invalid("the name is already so"));
    }
    let record =
        civitas_services::civil::record_of(&state.db, &old.dossier_code).await?.ok_or_else(Problem::internal)?;
    let now = crate::now();
    let at = civitas_store::timestamp(now);
    let mut corrected = person.clone();
    corrected.full_name = name.clone();
    let today = civitas_services::dossiers::local_today(now);
    let corrected = corrected.normalize_and_validate(today).map_err(|e| invalid(&e.to_string()))?;
    let basis = civitas_registry::LegalBasis {
        basis: format!("Cải chính hộ tịch: {reason}"),
        document_ref: Some(record.registration_number.clone()),
    };
    let attribution = civitas_registry::store::Attribution { actor: &caller.claims.sub, legal_basis: &basis, at: &at };
    let version = person.version.unwrap_or(1);
    let events = [
        civitas_store::NewEvent {
            kind: "person.corrected",
            subject: pid.as_str().to_owned(),
            payload: serde_json::json!({ "fields": ["full_name"], "version": version + 1 }),
            actor: caller.claims.sub.clone(),
            occurred_at: at.clone(),
        },
        civitas_store::NewEvent {
            kind: "civil.corrected",
            subject: record.id.clone(),
            payload: serde_json::json!({ "certificate": old.id, "field": "full_name", "from": person.full_name, "to": name, "reason": reason }),
            actor: caller.claims.sub.clone(),
            occurred_at: at.clone(),
        },
    ];
    let mut writes = state
        .register
        .plan_version(&corrected, &person, version, "corrected", &attribution, &events)
        .map_err(|e| invalid(&e.to_string()))?;
    // The new certificate reads the corrected register; sign it from the corrected fields.
    let mut fields = certificate_issue::fields_of(&state.register, &record).await?;
    fields.insert("n".into(), name.clone());
    let ports = Ports(&state);
    let issued = certificate_issue::sign(&state.identity.issuer, &ports, &ports, &record, fields, now)?;
    let new_id = issued.id.clone();
    writes.push(certificates::supersede(&old.id, &new_id, &reason));
    writes.push(issued.write);
    if civitas_store::unit::commit(&state.db, &writes).await?.is_err() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "changed",
            "Changed meanwhile",
            "the record or the certificate changed meanwhile; reload and retry",
        ));
    }
    let new = certificates::get(&state.db, &new_id).await?.ok_or_else(Problem::internal)?;
    Ok((StatusCode::CREATED, Json(new)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Why (issued in error, the registration annulled by a court decision, ...).
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/revoke", tag = "civil-status", params(("id" = String, Path)),
    request_body = Revocation,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke(
    AxumState(state): AxumState<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Revocation>,
) -> Result<Json<Certificate>, Problem> {
    if caller.role() != Role::Leader {
        return Err(Problem::forbidden("certificates are revoked by a leader"));
    }
    let c = certificates::get(&state.db, &id).await?.filter(|c| caller.covers_unit(&c.unit_code));
    let c = c.ok_or_else(|| Problem::not_found("no such certificate in your units"))?;
    let reason = civitas_core::nfc(body.reason.trim());
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-reason",
            "Invalid reason",
            "give the reason (1–1,000 characters)",
        ));
    }
    let at = civitas_store::timestamp(crate::now());
    let event = civitas_store::NewEvent {
        kind: "civil.certificate_revoked",
        subject: c.id.clone(),
        payload: serde_json::json!({ "record": c.record_id, "reason": reason }),
        actor: caller.claims.sub.clone(),
        occurred_at: at,
    };
    let writes = [certificates::revoke(&c.id, &reason), civitas_store::unit::event(&event)];
    if civitas_store::unit::commit(&state.db, &writes).await?.is_err() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not-valid",
            "Not valid",
            format!("the certificate is {}", c.status),
        ));
    }
    Ok(Json(certificates::get(&state.db, &id).await?.ok_or_else(Problem::internal)?))
}

// ----- /verify -----

/// The result of checking a payload or certificate id.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// valid, revoked, superseded, unknown (a good signature, but not issued here) or invalid.
    pub status: String,
    pub reason: String,
    pub claims: Option<CertClaims>,
    pub superseded_by: Option<String>,
}

pub async fn verdict(state: &AppState, input: &str) -> Verdict {
    let input = input.trim();
    let bad =
        |reason: &str| Verdict { status: "invalid".into(), reason: reason.into(), claims: None, superseded_by: None };
    let (claims, stored) = if input.matches('.').count() == 2 {
        match civitas_identity::tokens::verify_jws::<CertClaims>(&state.keys, input).await {
            Ok(c) => {
                let stored = certificates::get(&state.db, &c.id).await.ok().flatten();
                if stored.as_ref().is_some_and(|s| s.payload != input) {
                    return bad("the payload does not match the certificate issued under this id");
                }
                (c, stored)
            }
            Err(_) => {
                return bad("the signature does not verify with this system's keys (altered, or not issued here)");
            }
        }
    } else {
        match certificates::get(&state.db, input).await.ok().flatten() {
            Some(s) => match civitas_identity::tokens::verify_jws::<CertClaims>(&state.keys, &s.payload).await {
                Ok(c) => (c, Some(s)),
                Err(_) => return bad("the stored certificate no longer verifies"),
            },
            None => return bad("no certificate has this code"),
        }
    };
    match stored {
        None => Verdict {
            status: "unknown".into(),
            reason: "signed by this system, but not in its certificate list".into(),
            claims: Some(claims),
            superseded_by: None,
        },
        Some(s) => Verdict {
            reason: match s.status.as_str() {
                "valid" => "the signature verifies and the certificate is in force".into(),
                "superseded" => {
                    format!("replaced by a corrected certificate ({})", s.reason.clone().unwrap_or_default())
                }
                other => format!("the certificate is {other}"),
            },
            status: s.status.clone(),
            superseded_by: s.superseded_by,
            claims: Some(claims),
        },
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct VerifyQuery {
    lang: Option<String>,
    payload: Option<String>,
    format: Option<String>,
}

async fn verify_page(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let input = q.payload.clone().unwrap_or_default();
    let v = if input.trim().is_empty() { None } else { Some(verdict(&state, &input).await) };
    if q.format.as_deref() == Some("json") {
        return match v {
            Some(v) => Json(v).into_response(),
            None => Problem::bad_request("missing-payload", "send payload=<the QR text or the certificate code>")
                .into_response(),
        };
    }
    let tr = |vi: &'static str, en: &'static str| if lang == Lang::En { en } else { vi };
    let title = tr("Kiểm tra giấy tờ hộ tịch", "Verify a civil-status certificate");
    let body = html! {
        h1 { (title) }
        form method="get" action="/verify" {
            div class="field" {
                label for="payload" { (tr("Nội dung mã QR hoặc mã chứng nhận", "The QR text or the certificate code")) }
                textarea id="payload" name="payload" rows="4" { (input) }
            }
            button type="submit" { (tr("Kiểm tra", "Verify")) }
        }
        @if let Some(v) = &v {
            div class=(if v.status == "valid" { "confirmation" } else { "error-summary" }) role="status" id="verdict" {
                h2 { (match v.status.as_str() {
                    "valid" => tr("Hợp lệ", "Valid"),
                    "superseded" => tr("Đã được thay thế bằng bản cải chính", "Superseded by a correction"),
                    "revoked" => tr("Đã bị thu hồi", "Revoked"),
                    "unknown" => tr("Chữ ký đúng nhưng không có trong danh sách", "Signature good, but not listed"),
                    _ => tr("Không hợp lệ", "Not valid"),
                }) }
                p { (v.reason) }
            }
            @if let Some(c) = &v.claims {
                dl class="facts" {
                    dt { (tr("Loại", "Kind")) } dd { (title_of(&c.typ)) }
                    dt { (tr("Số đăng ký", "Registration number")) } dd { (c.no) }
                    @for (k, val) in &c.f { dt { (field_label(k)) } dd { (val) } }
                }
            }
        }
    };
    let (csrf, fresh) = crate::pages::csrf_of(&state, &headers);
    let ctx = crate::pages::PageContext { lang, title, caller: None, csrf: None, path: "/verify" };
    let status = match &v {
        Some(v) if v.status == "invalid" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    crate::pages::page(status, crate::pages::layout(&ctx, body), None, fresh.then_some((csrf.as_str(), &state)))
}

fn title_of(kind: &str) -> &'static str {
    title(kind)
}
