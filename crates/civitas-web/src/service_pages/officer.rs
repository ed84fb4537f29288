//! The officers' service pages: the work queue, a dossier with its actions, slips and
//! documents, and counter intake from the card QR.

use super::*;
use crate::ui::{ButtonKind, Column, Row};

// ----- officer -----

pub(super) async fn officer(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let caller = page_caller(state, headers).await?;
    if !matches!(
        caller.role(),
        civitas_identity::Role::OnestopOfficer | civitas_identity::Role::Specialist | civitas_identity::Role::Leader
    ) {
        let lang = crate::pages::lang(headers, None);
        return Err(message(
            state,
            headers,
            lang,
            StatusCode::FORBIDDEN,
            tr(lang, "Vai trò của bạn không xử lý hồ sơ.", "Your role does not process dossiers."),
        ));
    }
    Ok(caller)
}

pub(super) fn officer_nav(lang: Lang, caller: &Caller) -> Markup {
    let mut items = vec![("/officer/queue", tr(lang, "Hồ sơ cần xử lý", "Work queue"))];
    if caller.role() == civitas_identity::Role::OnestopOfficer {
        items.push(("/officer/counter", tr(lang, "Tiếp nhận tại quầy", "Counter intake")));
    }
    crate::ui::sub_nav(tr(lang, "Một cửa", "One-stop"), &items)
}

#[derive(Debug, Deserialize, Default)]
pub struct QueueQ {
    lang: Option<String>,
    procedure: Option<String>,
    state: Option<String>,
    due: Option<String>,
}

pub(super) async fn queue_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<QueueQ>,
    Query(all): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let caller = page_try!(officer(&state, &headers).await);
    let query =
        crate::one_stop::QueueQueryPage { procedure: q.procedure.clone(), state: q.state.clone(), due: q.due.clone() };
    let filter = match crate::one_stop::queue_filter_page(&state, &query) {
        Ok(f) => f,
        Err(p) => return problem_page(&state, &headers, lang, p),
    };
    let items = match dossiers::queue(&state.db, &caller.unit_scope(), &filter).await {
        Ok(i) => i,
        Err(e) => return problem_page(&state, &headers, lang, crate::problem::internal(&e)),
    };
    let today = dossiers::local_today(crate::now()).to_string();
    let title = tr(lang, "Hồ sơ cần xử lý", "Work queue");
    let with_all = |all: &str, rest: Vec<(String, String)>| {
        std::iter::once((String::new(), all.to_owned())).chain(rest).collect::<Vec<_>>()
    };
    let procedures = with_all(
        tr(lang, "Tất cả", "All"),
        state.catalogue.procedures.iter().map(|p| (p.code.clone(), format!("{} {}", p.code, name(lang, p)))).collect(),
    );
    let states = with_all(
        tr(lang, "Đang chờ xử lý", "Open"),
        dossiers::OPEN.iter().map(|s| (dossiers::name_of(*s), state_text(lang, *s).to_owned())).collect(),
    );
    let dues = with_all(
        tr(lang, "Tất cả", "All"),
        vec![
            ("soon".into(), tr(lang, "Sắp đến hạn", "Due soon").into()),
            ("overdue".into(), tr(lang, "Quá hạn", "Overdue").into()),
        ],
    );
    let body = html! {
        (officer_nav(lang, &caller))
        h1 { (title) " · " (caller.unit_label()) }
        form method="get" action="/officer/queue" class="filters" {
            (crate::ui::select("procedure", tr(lang, "Thủ tục", "Procedure"), &procedures, q.procedure.as_deref()))
            (crate::ui::select("state", tr(lang, "Trạng thái", "Status"), &states, q.state.as_deref()))
            (crate::ui::select("due", tr(lang, "Hạn", "Due"), &dues, q.due.as_deref()))
            button type="submit" { (tr(lang, "Lọc", "Filter")) }
        }
        @if items.is_empty() { p { (tr(lang, "Không có hồ sơ nào khớp bộ lọc. Bỏ bớt điều kiện lọc, hoặc tiếp nhận hồ sơ tại ", "No dossier matches the filter. Remove a condition, or receive a dossier at ")) a href="/officer/counter" { (tr(lang, "quầy một cửa", "the one-stop counter")) } "." } }
        @else {
            (crate::ui::Table {
                id: "queue",
                caption: None,
                columns: vec![
                    Column::sortable(tr(lang, "Mã hồ sơ", "Code")),
                    Column::sortable(tr(lang, "Thủ tục", "Procedure")),
                    Column::sortable(tr(lang, "Người nộp", "Applicant")),
                    Column::sortable(tr(lang, "Trạng thái", "Status")),
                    Column::sortable(tr(lang, "Ngày hẹn", "Due")),
                ],
                rows: items.iter().map(|d| Row {
                    keys: vec![d.code.clone(), d.procedure_code.clone(), civitas_core::text::fold(&d.applicant_name), state_text(lang, d.state).to_owned(), d.appointment_on.clone()],
                    cells: vec![
                        html! { a href=(format!("/officer/dossiers/{}", d.code)) { (d.code) } },
                        html! { (d.procedure_code) },
                        html! { (d.applicant_name) },
                        state_tag(lang, d.state),
                        html! { (lang.day(&d.appointment_on)) @if d.appointment_on < today && d.state != DState::SupplementRequested { " " (crate::ui::tag(crate::ui::Tone::Danger, tr(lang, "quá hạn", "overdue"))) } },
                    ],
                }).collect(),
                path: "/officer/queue",
                keep: Vec::new(),
                prefix: "",
                page_size: 25,
            }.render_for(lang, &all))
        }
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, "/officer/queue", Some(&caller), body)
}

pub(super) async fn officer_load(
    state: &AppState,
    headers: &HeaderMap,
    code: &str,
) -> Result<(Caller, Dossier), Response> {
    let caller = officer(state, headers).await?;
    let lang = crate::pages::lang(headers, None);
    match dossiers::get(&state.db, code).await {
        // The officer who received it at the counter (anywhere: Decree 118) may see it and print
        // its slips; only the competent unit acts on it.
        Ok(Some(d)) if caller.covers_unit(&d.unit_code) || d.data["received_by"] == caller.claims.sub.as_str() => {
            Ok((caller, d))
        }
        _ => Err(not_found(
            state,
            headers,
            lang,
            "Không tìm thấy hồ sơ trong đơn vị của bạn.",
            "No such dossier in your unit.",
        )),
    }
}

pub(super) async fn officer_dossier(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (caller, d) = page_try!(officer_load(&state, &headers, &code).await);
    render_officer_dossier(&state, &headers, lang, &caller, &d, None).await
}

pub(super) async fn render_officer_dossier(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    d: &Dossier,
    error: Option<String>,
) -> Response {
    let steps = dossiers::steps(&state.db, &d.code).await.unwrap_or_default();
    let (csrf, _) = csrf_of(state, headers);
    let p = state.catalogue.get(&d.procedure_code);
    let actor = match caller.role() {
        civitas_identity::Role::OnestopOfficer => Actor::Onestop(caller.claims.sub.clone()),
        civitas_identity::Role::Leader => {
            Actor::Officer(caller.claims.sub.clone(), civitas_services::catalogue::StepRole::Leader)
        }
        _ => Actor::Officer(caller.claims.sub.clone(), civitas_services::catalogue::StepRole::Specialist),
    };
    let possible: Vec<Action> = [
        Action::StartProcessing,
        Action::Forward,
        Action::Approve,
        Action::IssueResult,
        Action::Return,
        Action::RequestSupplement,
        Action::Refuse,
        Action::RejectAtReceipt,
    ]
    .into_iter()
    .filter(|a| civitas_services::workflow::next(d.state, *a).is_ok())
    .filter(|a| p.is_some_and(|p| dossiers::permitted(p, d, *a, &actor).is_ok()))
    .filter(|_| caller.covers_unit(&d.unit_code))
    .collect();
    let errors: Vec<(&str, &str)> = error.as_deref().map(|e| vec![("note", e)]).unwrap_or_default();
    let title = format!("{} {}", tr(lang, "Hồ sơ", "Dossier"), d.code);
    let body = html! {
        (officer_nav(lang, caller))
        h1 { (title) }
        (error_summary(lang, &errors))
        (facts(state, lang, d))
        h2 { (tr(lang, "Thông tin tờ khai", "The form")) }
        @if let Some(fields) = d.data["fields"].as_object() {
            (crate::ui::summary_list(None, &fields.iter().map(|(k, v)| (k.as_str(), html! { (v.as_str().unwrap_or_default()) })).collect::<Vec<_>>()))
        }
        @if let Some(m) = d.data["card_mismatches"].as_array().filter(|m| !m.is_empty()) {
            (crate::ui::banner(crate::ui::Tone::Warning, None, None, html! { p { (tr(lang, "Thông tin trên thẻ khác Cơ sở dữ liệu:", "The card differs from the register:")) " " (m.len()) } }))
        }
        h2 { (tr(lang, "Giấy tờ", "Documents")) }
        ul {
            @if let Some(c) = d.data["components"].as_object() { @for (k, v) in c { li { a href=(format!("/officer/documents/{}/{}", d.code, v.as_str().unwrap_or_default())) { (k) } } } }
            @if let Some(r) = d.data["replaced"].as_object() { @for (k, v) in r { li { (k) ": " (v.as_str().unwrap_or_default()) } } }
        }
        p {
            a href=(format!("/officer/dossiers/{}/receipt.pdf", d.code)) { (tr(lang, "In giấy tiếp nhận (mẫu 01)", "Print the receipt (form 01)")) }
            @if d.apology_on.is_some() { " · " a href=(format!("/officer/dossiers/{}/apology.pdf", d.code)) { (tr(lang, "In thư xin lỗi (mẫu 04)", "Print the apology (form 04)")) } }
        }
        @if !possible.is_empty() {
            h2 { (tr(lang, "Xử lý", "Process")) }
            form method="post" action=(format!("/officer/dossiers/{}", d.code)) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="version" value=(d.version);
                (crate::ui::TextInput::new("note", tr(lang, "Nội dung (bắt buộc khi yêu cầu bổ sung, từ chối)", "Note (required to ask for documents or refuse)"), "").error(error.as_deref()).render())
                @if civitas_services::civil::kind_of(&d.procedure_code) == Some(civitas_services::civil::Kind::Birth) && possible.contains(&Action::Approve) {
                    div class="checkbox" {
                        input type="checkbox" id="not_duplicate" name="not_duplicate" value="1";
                        label for="not_duplicate" { (tr(lang, "Đã kiểm tra: không trùng với khai sinh đã đăng ký", "Checked: not a duplicate of a registered birth")) }
                    }
                }
                div class="actions" {
                    @for a in &possible {
                        @let v = dossiers::name_of(*a);
                        @let kind = if matches!(a, Action::Refuse | Action::RejectAtReceipt) { ButtonKind::Warning } else if matches!(a, Action::RequestSupplement) { ButtonKind::Secondary } else { ButtonKind::Primary };
                        (crate::ui::button(kind, &action_text(lang, &v), Some(("action", &v))))
                    }
                }
            }
        }
        (follow_ups(lang, &civitas_services::followups::sub_dossiers_of(&state.db, &d.code).await.unwrap_or_default()))
        (portal_sync(lang, civitas_services::portal::sync_state(&state.db, &d.code).await.ok()))
        (timeline(lang, &steps, true))
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_page(state, headers, lang, status, &title, &format!("/officer/dossiers/{}", d.code), Some(caller), body)
}

#[derive(Debug, Deserialize)]
pub struct ActForm {
    csrf: String,
    not_duplicate: Option<String>,
    action: String,
    note: Option<String>,
    version: Option<i64>,
}

pub(super) async fn officer_act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (caller, d) = page_try!(officer_load(&state, &headers, &code).await);
    if !csrf_ok(&state, &headers, &form.csrf) {
        return csrf_expired(&state, &headers, lang);
    }
    let action = match crate::one_stop::parse_action(&form.action) {
        Ok(a) => a,
        Err(p) => return problem_page(&state, &headers, lang, p),
    };
    let input = ActInput {
        note: form.note.filter(|n| !n.trim().is_empty()),
        expected_version: form.version,
        ..Default::default()
    };
    match crate::one_stop::perform(&state, &caller, &code, action, input, form.not_duplicate.as_deref() == Some("1"))
        .await
    {
        Ok(_) => Redirect::to(&format!("/officer/dossiers/{code}")).into_response(),
        Err(p) if p.status == 422 => {
            render_officer_dossier(
                &state,
                &headers,
                lang,
                &caller,
                &d,
                Some(tr(lang, "Ghi rõ nội dung cần bổ sung hoặc lý do.", "Say what is missing, or why.").to_owned()),
            )
            .await
        }
        Err(p) => problem_page(&state, &headers, lang, p),
    }
}

pub(super) async fn officer_slip(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, slip)): Path<(String, String)>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (_, d) = page_try!(officer_load(&state, &headers, &code).await);
    let made = match slip.as_str() {
        "receipt.pdf" => {
            civitas_services::papers::receipt(&state.office(), &d).map_err(|e| crate::problem::internal(&e))
        }
        "apology.pdf" if d.apology_on.is_some() => {
            civitas_services::papers::apology(&state.office(), &d).map_err(|e| crate::problem::internal(&e))
        }
        _ => {
            return not_found(&state, &headers, lang, "Không có phiếu này.", "No such slip.");
        }
    };
    match made {
        Ok(bytes) => crate::files::file_response("application/pdf", &format!("{code}-{slip}"), bytes),
        Err(p) => problem_page(&state, &headers, lang, p),
    }
}

pub(super) async fn officer_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (_, d) = page_try!(officer_load(&state, &headers, &code).await);
    match crate::one_stop::dossier_file(&state, &d, &id).await {
        Ok(Some(file)) => file,
        _ => not_found(&state, &headers, lang, "Không tìm thấy giấy tờ.", "No such document."),
    }
}

// ----- counter -----

#[derive(Debug, Deserialize, Default)]
pub struct CounterForm {
    csrf: Option<String>,
    card_qr: Option<String>,
    procedure: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

pub(super) async fn counter_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let caller = page_try!(officer(&state, &headers).await);
    render_counter(&state, &headers, lang, &caller, &CounterForm::default(), None, &[]).await
}

pub(super) async fn render_counter(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    caller: &Caller,
    form: &CounterForm,
    checked: Option<(civitas_registry::Person, Vec<crate::one_stop::Mismatch>)>,
    errors: &[(String, String)],
) -> Response {
    let (csrf, _) = csrf_of(state, headers);
    let title = tr(lang, "Tiếp nhận hồ sơ tại quầy", "Counter intake");
    let summary: Vec<(&str, &str)> = errors.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
    let procedure = form.procedure.as_deref().and_then(|c| state.catalogue.get(c));
    let body = html! {
        (officer_nav(lang, caller))
        h1 { (title) }
        (error_summary(lang, &summary))
        form method="post" action="/officer/counter" {
            input type="hidden" name="csrf" value=(csrf);
            (crate::ui::TextInput::new("card_qr", tr(lang, "Nội dung mã QR trên thẻ Căn cước", "Text of the identity card QR"), form.card_qr.as_deref().unwrap_or_default())
                .hint(Some(tr(lang, "Quét mã QR hoặc dán nội dung.", "Scan the QR code or paste its text.")))
                .error(summary.iter().find(|(f, _)| *f == "card_qr").map(|(_, m)| *m))
                .autocomplete("off")
                .render())
            (crate::ui::select(
                "procedure",
                tr(lang, "Thủ tục", "Procedure"),
                &std::iter::once((String::new(), "—".to_owned()))
                    .chain(state.catalogue.procedures.iter().map(|p| (p.code.clone(), format!("{} {}", p.code, name(lang, p)))))
                    .collect::<Vec<_>>(),
                form.procedure.as_deref(),
            ))
            @if let Some((person, mismatches)) = &checked {
                h2 { (tr(lang, "Công dân trong Cơ sở dữ liệu", "The person in the register")) }
                (crate::ui::summary_list(None, &[
                    (tr(lang, "Họ và tên", "Full name"), html! { span id="person-name" { (person.full_name) } }),
                    (tr(lang, "Số định danh", "ID number"), html! { (person.pid.as_str()) }),
                ]))
                @if !mismatches.is_empty() {
                    (crate::ui::banner(crate::ui::Tone::Warning, None, Some(tr(lang, "Thông tin trên thẻ khác Cơ sở dữ liệu", "The card differs from the register")), html! {
                        div class="table-wrap" { table id="mismatches" {
                            thead { tr { th scope="col" { (tr(lang, "Thông tin", "Field")) } th scope="col" { (tr(lang, "Trên thẻ", "On the card")) } th scope="col" { (tr(lang, "Trong Cơ sở dữ liệu", "In the register")) } } }
                            tbody { @for m in mismatches { tr { td { (m.field) } td { (m.card) } td { (m.register) } } } }
                        } }
                    }))
                }
                @if let Some(p) = procedure {
                    @for f in &p.fields {
                        @let error = errors.iter().find(|(n, _)| *n == format!("f-{}", f.name)).map(|(_, m)| m.as_str());
                        (field_input(lang, f, form.rest.get(&format!("field.{}", f.name)).map(String::as_str).unwrap_or_default(), None, error))
                    }
                    input type="hidden" name="confirm" value="1";
                }
            }
            button type="submit" { (if checked.is_some() && procedure.is_some() { tr(lang, "Tiếp nhận hồ sơ", "Receive the dossier") } else { tr(lang, "Kiểm tra", "Check") }) }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_page(state, headers, lang, status, title, "/officer/counter", Some(caller), body)
}

pub(super) async fn counter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CounterForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let caller = page_try!(officer(&state, &headers).await);
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return csrf_expired(&state, &headers, lang);
    }
    if caller.role() != civitas_identity::Role::OnestopOfficer {
        return message(
            &state,
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            tr(lang, "Chỉ cán bộ Một cửa tiếp nhận hồ sơ.", "Only one-stop officers receive dossiers."),
        );
    }
    let qr = form.card_qr.clone().unwrap_or_default();
    let checked = match crate::one_stop::check_card(&state, &caller, &qr).await {
        Ok(c) => c,
        Err(p) => {
            let errors = vec![("card_qr".to_owned(), p.detail)];
            return render_counter(&state, &headers, lang, &caller, &form, None, &errors).await;
        }
    };
    let procedure = form.procedure.as_deref().and_then(|c| state.catalogue.get(c));
    let mut form = form;
    if let Some(p) = procedure {
        super::apply::compose_dates(p, &mut form.rest, "field.");
        let _ = super::apply::compose_communes(p, &mut form.rest, "field.");
    }
    let Some(p) = procedure.filter(|_| form.rest.contains_key("confirm")) else {
        return render_counter(&state, &headers, lang, &caller, &form, Some(checked), &[]).await;
    };
    let fields: BTreeMap<String, String> =
        form.rest.iter().filter_map(|(k, v)| k.strip_prefix("field.").map(|f| (f.to_owned(), v.clone()))).collect();
    if let Err(es) = p.check_fields(&fields) {
        let errors: Vec<(String, String)> =
            es.into_iter().map(|e| (format!("f-{}", e.field), form_problem_text(lang, e.problem).to_owned())).collect();
        return render_counter(&state, &headers, lang, &caller, &form, Some(checked), &errors).await;
    }
    let (person, mismatches) = checked;
    let extra = serde_json::json!({ "card_mismatches": mismatches, "received_by": caller.claims.sub });
    let prepared = match crate::one_stop::prepare(&state, p, &person, &fields, &BTreeMap::new(), "counter", extra).await
    {
        Ok(x) => x,
        Err(problem) => {
            let errors: Vec<(String, String)> =
                problem.errors.into_iter().map(|e| (e.field.replacen("fields.", "f-", 1), e.detail)).collect();
            let checked = crate::one_stop::check_card(&state, &caller, &qr).await.ok();
            return render_counter(&state, &headers, lang, &caller, &form, checked, &errors).await;
        }
    };
    match state.intake.submit(prepared.new, None, &caller.claims.sub, crate::now()).await {
        Ok(d) => Redirect::to(&format!("/officer/dossiers/{}", d.code)).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

/// Where the dossier stands with the National Public Service Portal.
fn portal_sync(lang: Lang, sync: Option<civitas_services::portal::SyncState>) -> Markup {
    use crate::ui::{Tone, tag};
    let Some(s) = sync else { return html! {} };
    html! {
        h2 { (tr(lang, "Đồng bộ Cổng Dịch vụ công quốc gia", "National Public Service Portal")) }
        p id="portal-sync" data-state=(s.state) {
            (match s.state {
                "synced" => tag(Tone::Success, tr(lang, "Đã đồng bộ", "Synchronised")),
                "pending" => tag(Tone::Info, tr(lang, "Đang chờ gửi", "Waiting to be sent")),
                "dead" => tag(Tone::Danger, tr(lang, "Cổng từ chối: cần cán bộ vận hành xử lý", "Refused by the portal: an operator must look")),
                _ => tag(Tone::Neutral, tr(lang, "Không có thông điệp", "Nothing to send")),
            })
            " " (s.accepted) " / " (s.accepted + s.pending + s.dead) " " (tr(lang, "thông điệp đã được Cổng tiếp nhận", "messages accepted by the portal"))
            @if let Some(at) = &s.last_accepted_at { " · " (tr(lang, "lần cuối", "last")) " " (lang.time(at)) }
            @if let Some(e) = &s.last_error { br; small { (tr(lang, "Lỗi gần nhất: ", "Last error: ")) (e) } }
        }
    }
}
