//! The citizen's own dossiers (with supplements, ratings, withdrawal, receipts) and documents,
//! and the public status lookup.

use super::*;

// ----- my dossiers -----

pub(super) async fn my_dossiers(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQ>,
    Query(all): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let pid = page_try!(citizen(&state, &headers).await);
    let list = match dossiers::of_applicant(&state.db, &pid, 200).await {
        Ok(l) => l,
        Err(e) => return problem_page(&state, &headers, lang, crate::problem::internal(&e)),
    };
    let drafts = civitas_services::drafts::of_person(&state.db, &pid).await.unwrap_or_default();
    let title = tr(lang, "Hồ sơ của tôi", "My dossiers");
    let body = html! {
        (citizen_nav(lang))
        h1 { (title) }
        @if !drafts.is_empty() {
            h2 { (tr(lang, "Bản nháp chưa nộp", "Drafts not yet submitted")) }
            ul id="drafts" {
                @for d in &drafts {
                    li {
                        a href=(format!("/services/{}/apply", d.procedure_code)) {
                            (state.catalogue.get(&d.procedure_code).map(|p| name(lang, p).to_owned()).unwrap_or(d.procedure_code.clone()))
                        }
                        " — " (tr(lang, "lưu lúc", "saved")) " " (lang.time(&d.saved_at))
                    }
                }
            }
            h2 { (tr(lang, "Hồ sơ đã nộp", "Submitted dossiers")) }
        }
        @if list.is_empty() { p { (tr(lang, "Bạn chưa nộp hồ sơ nào. ", "You have not submitted any dossier. ")) a href="/services" { (tr(lang, "Chọn dịch vụ công để nộp hồ sơ trực tuyến", "Choose a public service to apply online")) } "." } }
        @else {
            (crate::ui::Table {
                id: "dossiers",
                caption: None,
                columns: vec![
                    crate::ui::Column::sortable(tr(lang, "Mã hồ sơ", "Code")),
                    crate::ui::Column::sortable(tr(lang, "Thủ tục", "Procedure")),
                    crate::ui::Column::sortable(tr(lang, "Trạng thái", "Status")),
                    crate::ui::Column::sortable(tr(lang, "Ngày hẹn", "Due")),
                ],
                rows: list.iter().map(|d| {
                    let procedure = state.catalogue.get(&d.procedure_code).map(|p| name(lang, p).to_owned()).unwrap_or(d.procedure_code.clone());
                    crate::ui::Row {
                        keys: vec![d.code.clone(), civitas_core::text::fold(&procedure), state_text(lang, d.state).to_owned(), d.appointment_on.clone()],
                        cells: vec![
                            html! { a href=(format!("/my/dossiers/{}", d.code)) { (d.code) } },
                            html! { (procedure) },
                            state_tag(lang, d.state),
                            html! { (lang.day(&d.appointment_on)) },
                        ],
                    }
                }).collect(),
                path: "/my/dossiers",
                keep: Vec::new(),
                prefix: "",
                page_size: 20,
            }.render_for(lang, &all))
        }
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, "/my/dossiers", None, body)
}

pub(super) fn follow_ups(lang: Lang, subs: &[civitas_services::followups::SubDossier]) -> Markup {
    html! {
        @if !subs.is_empty() {
            h2 { (tr(lang, "Thủ tục liên thông", "Interconnected procedures")) }
            (crate::ui::Table::simple(
                "follow-ups",
                &[tr(lang, "Thủ tục", "Procedure"), tr(lang, "Cơ quan", "Agency"), tr(lang, "Trạng thái", "Status"), tr(lang, "Hạn", "Due")],
                subs.iter().map(|s| vec![
                    html! { (if lang == Lang::En { &s.name_en } else { &s.name_vi }) },
                    html! { (s.agency_id) },
                    html! {
                        (match s.state.as_str() {
                            "accepted" => crate::ui::tag(crate::ui::Tone::Success, tr(lang, "Cơ quan đã tiếp nhận", "Accepted by the agency")),
                            "failed" => crate::ui::tag(crate::ui::Tone::Danger, tr(lang, "Gửi không thành công", "Not delivered")),
                            _ => crate::ui::tag(crate::ui::Tone::Info, tr(lang, "Đang gửi", "Sending")),
                        })
                        @if let Some(r) = &s.reference { " (" (r) ")" }
                    },
                    html! { (lang.day(&s.due_on)) },
                ]).collect(),
            ))
        }
    }
}

pub(super) fn timeline(lang: Lang, steps: &[dossiers::StepRecord], show_actor: bool) -> Markup {
    let events: Vec<crate::ui::Event> = steps
        .iter()
        .map(|s| crate::ui::Event {
            when: lang.time(&s.at),
            what: action_text(lang, &s.action),
            who: show_actor.then(|| s.actor.clone()),
            note: s.note.clone(),
        })
        .collect();
    html! {
        h2 { (tr(lang, "Quá trình xử lý", "Timeline")) }
        (crate::ui::timeline("timeline", &events))
    }
}

/// How far the due date is, in working days, while the dossier is being processed: " (còn 2
/// ngày làm việc)", " (hôm nay)", " (quá hạn 3 ngày làm việc)".
fn due_in(state: &AppState, lang: Lang, d: &Dossier) -> String {
    if !matches!(d.state, DState::Received | DState::InProcessing) {
        return String::new();
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let Ok(due) = time::Date::parse(d.apology_on.as_deref().unwrap_or(&d.appointment_on), format) else {
        return String::new();
    };
    let today = civitas_services::dossiers::local_today(crate::now());
    match state.calendar.working_days_between(today, due) {
        0 => format!(" ({})", tr(lang, "hôm nay", "today")),
        n if n > 0 => format!(" ({} {n} {})", tr(lang, "còn", "in"), tr(lang, "ngày làm việc", "working days")),
        n => format!(" ({} {} {})", tr(lang, "quá hạn", "late by"), -n, tr(lang, "ngày làm việc", "working days")),
    }
}

pub(super) fn facts(state: &AppState, lang: Lang, d: &Dossier) -> Markup {
    let procedure =
        state.catalogue.get(&d.procedure_code).map(|p| name(lang, p).to_owned()).unwrap_or(d.procedure_code.clone());
    let mut rows = vec![
        (tr(lang, "Mã hồ sơ", "Dossier code"), html! { span id="dossier-code" { (d.code) } }),
        (tr(lang, "Thủ tục", "Procedure"), html! { (procedure) }),
        (tr(lang, "Người nộp", "Applicant"), html! { (d.applicant_name) }),
        (tr(lang, "Trạng thái", "Status"), html! { span id="dossier-state" { (state_tag(lang, d.state)) } }),
        (tr(lang, "Ngày tiếp nhận", "Received"), html! { (lang.day(&d.received_on)) }),
        (
            tr(lang, "Ngày hẹn trả", "Due"),
            html! { span id="dossier-due" { (lang.day(&d.appointment_on)) } (due_in(state, lang, d)) },
        ),
    ];
    if let Some(a) = &d.apology_on {
        rows.push((tr(lang, "Ngày hẹn mới (thư xin lỗi)", "New date (apology)"), html! { (lang.day(a)) }));
    }
    if let Some(s) = &d.supplement_due_on {
        rows.push((tr(lang, "Hạn bổ sung", "Supplement due"), html! { (lang.day(s)) }));
    }
    crate::ui::summary_list(None, &rows)
}

pub(super) async fn own_dossier(
    state: &AppState,
    headers: &HeaderMap,
    code: &str,
) -> Result<(String, Dossier), Response> {
    let pid = citizen(state, headers).await?;
    let lang = crate::pages::lang(headers, None);
    match dossiers::get(&state.db, code).await {
        Ok(Some(d)) if d.applicant_pid == pid => Ok((pid, d)),
        _ => Err(not_found(state, headers, lang, "Không tìm thấy hồ sơ.", "No such dossier.")),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DossierQ {
    lang: Option<String>,
    submitted: Option<String>,
}

pub(super) async fn my_dossier(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<DossierQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let (_, d) = page_try!(own_dossier(&state, &headers, &code).await);
    let steps = dossiers::steps(&state.db, &code).await.unwrap_or_default();
    let (csrf, _) = csrf_of(&state, &headers);
    let p = state.catalogue.get(&d.procedure_code);
    let title = tr(lang, "Hồ sơ", "Dossier");
    let body = html! {
        (citizen_nav(lang))
        @if q.submitted.is_some() {
            (super::apply::step(lang, 3, tr(lang, "Đã nộp", "Submitted")))
            (crate::ui::banner(crate::ui::Tone::Success, Some("submitted"), None, html! {
                h1 { (tr(lang, "Đã nộp hồ sơ", "Dossier submitted")) }
                p { (tr(lang, "Mã hồ sơ của bạn", "Your dossier code")) ": " strong id="new-code" { (d.code) } }
            }))
        } @else { h1 { (title) " " (d.code) } }
        (facts(&state, lang, &d))
        p { a href=(format!("/my/dossiers/{}/receipt.pdf", d.code)) { (tr(lang, "Giấy tiếp nhận và hẹn trả kết quả (PDF)", "Receipt and appointment slip (PDF)")) } }
        @if let Some(id) = &d.result_document { p { a href=(format!("/my/documents/{id}")) id="result-link" { (tr(lang, "Kết quả (PDF)", "Result (PDF)")) } } }
        @if d.state == DState::SupplementRequested && let Some(p) = p {
            h2 { (tr(lang, "Bổ sung hồ sơ", "Supply documents")) }
            form method="post" action=(format!("/my/dossiers/{}/supplement", d.code)) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(csrf);
                @for c in p.components.iter().filter(|c| c.needs_file()) {
                    @let id = format!("s-{}", c.code);
                    (crate::ui::field(&id, &id, html! { (if lang == Lang::En { &c.name_en } else { &c.name_vi }) }, None, None, html! {
                        input type="file" id=(id) name=(format!("file.{}", c.code));
                    }))
                }
                (crate::ui::TextInput::new("s-note", tr(lang, "Ghi chú", "Note"), "").name("note").render())
                button type="submit" { (tr(lang, "Gửi bổ sung", "Send")) }
            }
        }
        @if matches!(d.state, DState::ResultIssued | DState::Returned | DState::Refused) && d.rating.is_none() {
            h2 { (tr(lang, "Đánh giá mức độ hài lòng", "How satisfied are you?")) }
            form method="post" action=(format!("/my/dossiers/{}/rate", d.code)) {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { (tr(lang, "Chọn một", "Choose one")) }
                    @for (v, vi, en) in [("very_satisfied", "Rất hài lòng", "Very satisfied"), ("satisfied", "Hài lòng", "Satisfied"), ("not_satisfied", "Không hài lòng", "Not satisfied")] {
                        div class="checkbox" { input type="radio" id=(format!("r-{v}")) name="rating" value=(v); label for=(format!("r-{v}")) { (tr(lang, vi, en)) } }
                    }
                }
                button type="submit" { (tr(lang, "Gửi đánh giá", "Send rating")) }
            }
        }
        @if let Some(r) = d.rating { p id="rated" { (tr(lang, "Bạn đã đánh giá", "You rated")) ": " (match r { Rating::VerySatisfied => tr(lang, "Rất hài lòng", "Very satisfied"), Rating::Satisfied => tr(lang, "Hài lòng", "Satisfied"), Rating::NotSatisfied => tr(lang, "Không hài lòng", "Not satisfied") }) } }
        @if matches!(d.state, DState::Received | DState::InProcessing | DState::SupplementRequested) {
            form method="post" action=(format!("/my/dossiers/{}/withdraw", d.code)) {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" class="secondary" { (tr(lang, "Rút hồ sơ", "Withdraw the dossier")) }
            }
        }
        (follow_ups(lang, &civitas_services::followups::sub_dossiers_of(&state.db, &code).await.unwrap_or_default()))
        (timeline(lang, &steps, false))
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, &format!("/my/dossiers/{code}"), None, body)
}

pub(super) async fn my_supplement(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    mp: Multipart,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (pid, d) = page_try!(own_dossier(&state, &headers, &code).await);
    let (text, errors) = match read_multipart(&state, &headers, &pid, mp).await {
        Ok(x) => x,
        Err(MultipartRefusal::Csrf) => return csrf_expired(&state, &headers, lang),
        Err(MultipartRefusal::Interrupted) => {
            let text = tr(lang, "Tệp tải lên bị gián đoạn: hãy gửi lại.", "The upload was interrupted: send it again.");
            return message(&state, &headers, lang, StatusCode::BAD_REQUEST, text);
        }
    };
    if let Some((_, e)) = errors.first() {
        return message(&state, &headers, lang, StatusCode::UNPROCESSABLE_ENTITY, e);
    }
    let Some(p) = state.catalogue.get(&d.procedure_code) else {
        return problem_page(&state, &headers, lang, Problem::internal());
    };
    let components: Vec<(String, String)> =
        text.iter().filter_map(|(k, v)| k.strip_prefix("doc.").map(|c| (c.to_owned(), v.clone()))).collect();
    let input = ActInput { note: text.get("note").cloned(), components, ..Default::default() };
    match dossiers::act(
        &state.db,
        &state.calendar,
        p,
        &code,
        Action::Supplement,
        &Actor::Applicant(pid),
        input,
        crate::now(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/my/dossiers/{code}")).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct RateForm {
    csrf: String,
    rating: Option<String>,
}

pub(super) async fn my_rating(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<RateForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (pid, _) = page_try!(own_dossier(&state, &headers, &code).await);
    if !csrf_ok(&state, &headers, &form.csrf) {
        return csrf_expired(&state, &headers, lang);
    }
    let Some(rating) = form.rating.and_then(|r| serde_json::from_value::<Rating>(serde_json::Value::String(r)).ok())
    else {
        return message(
            &state,
            &headers,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            tr(lang, "Chọn một mức đánh giá.", "Choose a rating."),
        );
    };
    match dossiers::rate(&state.db, &code, &pid, rating, crate::now()).await {
        Ok(_) => Redirect::to(&format!("/my/dossiers/{code}")).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub(super) async fn my_withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (pid, d) = page_try!(own_dossier(&state, &headers, &code).await);
    if !csrf_ok(&state, &headers, &form.csrf) {
        return csrf_expired(&state, &headers, lang);
    }
    let Some(p) = state.catalogue.get(&d.procedure_code) else {
        return problem_page(&state, &headers, lang, Problem::internal());
    };
    match dossiers::act(
        &state.db,
        &state.calendar,
        p,
        &code,
        Action::Withdraw,
        &Actor::Applicant(pid),
        ActInput::default(),
        crate::now(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/my/dossiers/{code}")).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}

pub(super) async fn my_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let (_, d) = page_try!(own_dossier(&state, &headers, &code).await);
    match civitas_services::papers::receipt(&state.office(), &d).map_err(|e| crate::problem::internal(&e)) {
        Ok(bytes) => crate::files::file_response("application/pdf", &format!("tiep-nhan-{code}.pdf"), bytes),
        Err(p) => problem_page(&state, &headers, lang, p),
    }
}

// ----- my documents -----

pub(super) async fn render_documents(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    pid: &str,
    error: Option<String>,
) -> Response {
    let docs = documents::list(&state.db, pid).await.unwrap_or_default();
    let (csrf, _) = csrf_of(state, headers);
    let title = tr(lang, "Kho dữ liệu của tôi", "My documents");
    let errors: Vec<(&str, &str)> = error.as_deref().map(|e| vec![("file", e)]).unwrap_or_default();
    let body = html! {
        (citizen_nav(lang))
        h1 { (title) }
        (error_summary(lang, &errors))
        @if docs.is_empty() { p { (tr(lang, "Chưa có giấy tờ nào. Tải lên giấy tờ dưới đây để dùng lại khi nộp hồ sơ; kết quả giải quyết hồ sơ cũng sẽ được lưu ở đây.", "No documents yet. Upload documents below to reuse them when you apply; the results of your dossiers are kept here too.")) } }
        @else {
            (crate::ui::Table::simple(
                "documents",
                &[tr(lang, "Tên", "Name"), tr(lang, "Loại", "Kind"), tr(lang, "Ngày", "Date")],
                docs.iter().map(|d| vec![
                    html! { a href=(format!("/my/documents/{}", d.id)) { (d.name) } },
                    html! { (if d.kind == "result" { tr(lang, "Kết quả giải quyết", "Result") } else { tr(lang, "Giấy tờ tải lên", "Upload") }) },
                    html! { (lang.time(&d.created_at)) },
                ]).collect(),
            ))
        }
        h2 { (tr(lang, "Tải lên giấy tờ", "Upload a document")) }
        form method="post" action="/my/documents" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            (crate::ui::field("file", "file", html! { (tr(lang, "Tệp PDF, JPEG hoặc PNG (tối đa 10 MB)", "PDF, JPEG or PNG file (at most 10 MB)")) }, None, error.as_deref(), html! {
                input type="file" id="file" name="file.upload" aria-describedby=[crate::ui::described_by("file", false, error.is_some())];
            }))
            button type="submit" { (tr(lang, "Tải lên", "Upload")) }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    html_page(state, headers, lang, status, title, "/my/documents", None, body)
}

pub(super) async fn my_documents(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let pid = page_try!(citizen(&state, &headers).await);
    render_documents(&state, &headers, lang, &pid, None).await
}

pub(super) async fn my_upload(State(state): State<AppState>, headers: HeaderMap, mp: Multipart) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    let (text, errors) = match read_multipart(&state, &headers, &pid, mp).await {
        Ok(x) => x,
        Err(MultipartRefusal::Csrf) => return csrf_expired(&state, &headers, lang),
        Err(MultipartRefusal::Interrupted) => {
            let text = tr(lang, "Tệp tải lên bị gián đoạn: hãy gửi lại.", "The upload was interrupted: send it again.");
            return message(&state, &headers, lang, StatusCode::BAD_REQUEST, text);
        }
    };
    if let Some((_, e)) = errors.into_iter().next() {
        return render_documents(&state, &headers, lang, &pid, Some(e)).await;
    }
    if !text.contains_key("doc.upload") {
        return render_documents(
            &state,
            &headers,
            lang,
            &pid,
            Some(tr(lang, "Chọn một tệp.", "Choose a file.").to_owned()),
        )
        .await;
    }
    Redirect::to("/my/documents").into_response()
}

pub(super) async fn my_document(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    match crate::one_stop::own_file(&state, &pid, &id).await {
        Ok(Some(file)) => file,
        _ => not_found(&state, &headers, lang, "Không tìm thấy giấy tờ.", "No such document."),
    }
}

// ----- public status -----

#[derive(Debug, Deserialize, Default)]
pub struct StatusQ {
    lang: Option<String>,
    code: Option<String>,
    last4: Option<String>,
}

pub(super) async fn status_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    Query(q): Query<StatusQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let code = q.code.clone().unwrap_or_default();
    let last4 = q.last4.clone().unwrap_or_default();
    let mut error = None;
    let mut found = None;
    if q.code.is_some() {
        if code.trim().parse::<civitas_core::dossier::DossierCode>().is_err()
            || last4.len() != 4
            || !last4.bytes().all(|b| b.is_ascii_digit())
        {
            error = Some(tr(
                lang,
                "Nhập mã hồ sơ đúng dạng và 4 chữ số cuối của số định danh.",
                "Enter a dossier code and the last 4 digits of the ID number.",
            ));
        } else {
            let ip = crate::auth::client_ip(&state, &headers, &ext);
            match crate::dossiers::lookup_status(&state, &ip, code.trim(), &last4).await {
                Ok(crate::dossiers::Lookup::Found(d)) => found = Some(*d),
                Ok(crate::dossiers::Lookup::Blocked(wait)) => {
                    return crate::pages::too_many(&state, &headers, wait);
                }
                Err(p) => return problem_page(&state, &headers, lang, p),
                Ok(crate::dossiers::Lookup::NoMatch) => {
                    error = Some(tr(
                        lang,
                        "Không có hồ sơ khớp với mã và các chữ số này.",
                        "No dossier matches this code and these digits.",
                    ))
                }
            }
        }
    }
    let errors: Vec<(&str, &str)> = error.map(|e| vec![("code", e)]).unwrap_or_default();
    let title = tr(lang, "Tra cứu hồ sơ", "Dossier status");
    let body = html! {
        h1 { (title) }
        (error_summary(lang, &errors))
        form method="get" action="/status" {
            (crate::ui::TextInput::new("code", tr(lang, "Mã hồ sơ", "Dossier code"), &code).hint(Some(tr(lang, "In trên giấy tiếp nhận, ví dụ H01.1-261130-0001", "Printed on the receipt, e.g. H01.1-261130-0001"))).error(errors.iter().find(|(f, _)| *f == "code").map(|(_, m)| *m)).width("w20").render())
            (crate::ui::TextInput::new("last4", tr(lang, "4 chữ số cuối của số định danh", "Last 4 digits of the ID number"), &last4).numeric().width("w4").error(errors.iter().find(|(f, _)| *f == "last4").map(|(_, m)| *m)).render())
            button type="submit" { (tr(lang, "Tra cứu", "Look up")) }
        }
        @if let Some(d) = &found {
            (crate::ui::summary_list(None, &[
                (tr(lang, "Trạng thái", "Status"), html! { span id="public-state" { (state_tag(lang, d.state)) } }),
                (tr(lang, "Ngày hẹn trả", "Due"), html! { (lang.day(d.apology_on.as_deref().unwrap_or(&d.appointment_on))) }),
            ]))
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    html_page(&state, &headers, lang, status, title, "/status", None, body)
}
