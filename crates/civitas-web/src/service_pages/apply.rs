//! The citizen's service pages: the catalogue, a procedure, and applying (the e-form, documents,
//! check your answers, submission).

use super::*;

// ----- catalogue -----

pub(super) async fn catalogue_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let query = q.q.unwrap_or_default();
    let found = state.catalogue.search(&query);
    let title = tr(lang, "Dịch vụ công thiết yếu", "Essential public services");
    let body = html! {
        (citizen_nav(lang))
        h1 { (title) }
        form method="get" action="/services" role="search" {
            (crate::ui::TextInput::new("q", tr(lang, "Tìm thủ tục", "Find a procedure"), &query).kind("search").hint(Some(tr(lang, "Có thể gõ không dấu, ví dụ: thuong tru", "Diacritics optional, e.g. residence"))).render())
            button type="submit" { (tr(lang, "Tìm", "Search")) }
        }
        @if found.is_empty() { p { (tr(lang, "Không có thủ tục phù hợp. Thử từ khác, không cần dấu (ví dụ “khai sinh”), hoặc ", "No matching procedure. Try another word (e.g. “birth”), or ")) a href="/services" { (tr(lang, "xem tất cả thủ tục", "see every procedure")) } "." } }
        ul class="procedures" {
            @for p in &found {
                li { a href=(format!("/services/{}", p.code)) { (name(lang, p)) } " (" (p.code) ", " (p.days) " " (tr(lang, "ngày làm việc", "working days")) ")" }
            }
        }
    };
    html_page(&state, &headers, lang, StatusCode::OK, title, "/services", None, body)
}

pub(super) async fn procedure_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let body = html! {
        (citizen_nav(lang))
        h1 { (name(lang, p)) }
        (crate::ui::summary_list(None, &[
            (tr(lang, "Mã thủ tục", "Code"), html! { (p.code) }),
            (tr(lang, "Thời hạn giải quyết", "Time limit"), html! { (p.days) " " (tr(lang, "ngày làm việc", "working days")) }),
            (tr(lang, "Lệ phí", "Fee"), html! { (p.fee) " đồng" }),
            (tr(lang, "Cấp giải quyết", "Decided by"), html! { (if p.level == civitas_services::catalogue::Level::Commune { tr(lang, "Cấp xã", "Commune") } else { tr(lang, "Cấp tỉnh", "Province") }) }),
        ]))
        h2 { (tr(lang, "Thành phần hồ sơ", "What the dossier contains")) }
        ul {
            @for c in &p.components {
                li {
                    (if lang == Lang::En { &c.name_en } else { &c.name_vi }) " — "
                    (match c.replaced_by.as_deref() {
                        Some("register") => tr(lang, "không cần nộp: lấy từ Cơ sở dữ liệu quốc gia về dân cư", "not needed: taken from the population register"),
                        Some("form") => tr(lang, "tờ khai điện tử", "the online form"),
                        Some(_) => tr(lang, "dùng lại kết quả trong kho dữ liệu của bạn", "reused from your document store"),
                        None => tr(lang, "tải lên bản điện tử", "upload a file"),
                    })
                }
            }
        }
        p { (crate::ui::button_link(&format!("/services/{}/apply", p.code), tr(lang, "Nộp hồ sơ trực tuyến", "Apply online"))) }
    };
    html_page(&state, &headers, lang, StatusCode::OK, name(lang, p), &format!("/services/{code}"), None, body)
}

// ----- apply -----

pub(super) struct ApplyForm {
    fields: BTreeMap<String, String>,
    components: BTreeMap<String, String>,
    /// The province chosen for a commune field whose name was not understood (shown again).
    provinces: BTreeMap<String, String>,
}

pub(super) fn field_input(
    lang: Lang,
    f: &civitas_services::catalogue::Field,
    value: &str,
    province: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let id = format!("f-{}", f.name);
    let label = if lang == Lang::En { &f.label_en } else { &f.label_vi };
    let label_for = match f.kind {
        FieldKind::Date => format!("{id}-day"),
        FieldKind::Commune => format!("{id}-name"),
        _ => id.clone(),
    };
    let hint = match f.kind {
        FieldKind::Date => Some(tr(
            lang,
            "Ví dụ: 15 3 1990, hoặc gõ cả ngày 15/03/1990",
            "For example 15 3 1990, or type 15/03/1990 whole",
        )),
        FieldKind::Commune => Some(tr(
            lang,
            "Chọn tỉnh/thành phố rồi gõ tên xã/phường (có thể không dấu, cả tên trước 07/2025)",
            "Choose the province, then type the commune's name (diacritics optional; pre-July-2025 names work too)",
        )),
        _ => None,
    };
    let described = crate::ui::described_by(&id, hint.is_some(), error.is_some());
    let control = html! {
        @match f.kind {
            FieldKind::Select => {
                select id=(id) name=(format!("field.{}", f.name)) aria-describedby=[described] {
                    option value="" { "—" }
                    @for o in &f.options { option value=(o) selected[o == value] { (option_text(lang, o)) } }
                }
            }
            FieldKind::Date => { (date_inputs(lang, &id, &f.name, value)) }
            FieldKind::Commune => { (commune_inputs(lang, &id, &f.name, value, province)) }
            _ => { input type="text" id=(id) name=(format!("field.{}", f.name)) value=(value) aria-describedby=[described] aria-invalid=[error.map(|_| "true")]; }
        }
    };
    crate::ui::field(
        &id,
        &label_for,
        html! { (label) @if !f.required { " " (tr(lang, "(không bắt buộc)", "(optional)")) } },
        hint,
        error,
        control,
    )
}

/// Where the citizen is in applying: "Bước 2/3 · Kiểm tra và nộp".
pub(super) fn step(lang: Lang, n: u8, what: &str) -> Markup {
    crate::ui::step(lang, n, 3, what)
}

/// A date as three fields, day / month / year (the order of Vietnamese forms); a whole date
/// typed into the day field (`15/03/1990`) is understood too. `value` is what the citizen sent
/// (ISO once understood).
fn date_inputs(lang: Lang, id: &str, name: &str, value: &str) -> Markup {
    let (d, m, y) = match civitas_core::PartialDate::parse_vn(value).ok().and_then(|p| p.to_date()) {
        Some(date) => (date.day().to_string(), (date.month() as u8).to_string(), date.year().to_string()),
        None => (value.to_owned(), String::new(), String::new()),
    };
    let part = |suffix: &str, label_vi: &'static str, label_en: &'static str, v: String, width: &str| {
        html! {
            div class="date-part" {
                label for=(format!("{id}-{suffix}")) { (tr(lang, label_vi, label_en)) }
                input type="text" inputmode="numeric" class=(width) id=(format!("{id}-{suffix}"))
                    name=(format!("field.{name}.{suffix}")) value=(v);
            }
        }
    };
    html! {
        div class="date-input" id=(id) role="group" {
            (part("day", "Ngày", "Day", d, "w2"))
            (part("month", "Tháng", "Month", m, "w2"))
            (part("year", "Năm", "Year", y, "w4"))
        }
    }
}

/// A commune asked by name, never by code: the province (a select, for the suggestions and
/// to tell apart communes of one name) and the commune's name typed as people write it (with
/// or without diacritics); the province's communes are offered as suggestions once it is
/// known. `value` is the commune's code once understood, else what was typed.
fn commune_inputs(lang: Lang, id: &str, name: &str, value: &str, chosen: Option<&str>) -> Markup {
    let units = civitas_core::AdminUnits::get();
    let known = units.commune(value.trim());
    let province = known.map(|c| c.province_code.as_str()).or(chosen.filter(|p| units.province(p).is_some()));
    let shown = known.map(|c| c.name.as_str()).unwrap_or(value);
    html! {
        div class="commune-input" id=(id) role="group" {
            div class="date-part" {
                label for=(format!("{id}-province")) { (tr(lang, "Tỉnh/thành phố", "Province or city")) }
                select id=(format!("{id}-province")) name=(format!("field.{name}.province")) {
                    option value="" { (tr(lang, "— Tất cả —", "— Any —")) }
                    @for p in units.provinces() { option value=(p.code) selected[Some(p.code.as_str()) == province] { (p.name) } }
                }
            }
            div class="date-part" {
                label for=(format!("{id}-name")) { (tr(lang, "Xã/phường", "Commune or ward")) }
                // Without JavaScript: the province's communes as suggestions once it is known; with
                // it, the type-ahead over today's and pre-2025 names (civitas.js).
                @if let Some(p) = province {
                    input type="text" id=(format!("{id}-name")) name=(format!("field.{name}")) value=(shown)
                        list=(format!("{id}-list")) autocomplete="off" data-commune="1" data-province=(format!("{id}-province"));
                    datalist id=(format!("{id}-list")) { @for c in units.communes_of(p) { option value=(c.name) {} } }
                } @else {
                    input type="text" id=(format!("{id}-name")) name=(format!("field.{name}")) value=(shown) autocomplete="off"
                        data-commune="1" data-province=(format!("{id}-province"));
                }
            }
        }
    }
}

/// A commune's name and province for people (`Phường Ba Đình, Thành phố Hà Nội`).
pub(super) fn commune_text(code: &str) -> String {
    let units = civitas_core::AdminUnits::get();
    match units.commune(code) {
        Some(c) => match units.province(&c.province_code) {
            Some(p) => format!("{}, {}", c.name, p.name),
            None => c.name.clone(),
        },
        None => code.to_owned(),
    }
}

/// Replaces each commune field's typed name (and chosen province, `{prefix}{name}.province`)
/// with the commune's code when exactly one commune answers to it — by its 2025 name, or by
/// its pre-2025 name when that commune went whole into one of today's; otherwise the text
/// stays and the procedure's validation says the commune is unknown.
///
/// Returns the province chosen for each commune left as typed, so the form shows it again.
pub(super) fn compose_communes(
    p: &Procedure,
    fields: &mut BTreeMap<String, String>,
    prefix: &str,
) -> BTreeMap<String, String> {
    let units = civitas_core::AdminUnits::get();
    let mut unresolved = BTreeMap::new();
    for f in p.fields.iter().filter(|f| f.kind == FieldKind::Commune) {
        let province = fields.remove(&format!("{prefix}{}.province", f.name)).filter(|p| !p.trim().is_empty());
        let key = format!("{prefix}{}", f.name);
        let Some(typed) = fields.get(&key).filter(|v| !v.trim().is_empty()) else {
            if let Some(province) = province {
                unresolved.insert(f.name.clone(), province);
            }
            continue;
        };
        let code = match units.resolve_commune(typed, province.as_deref()) {
            Ok(commune) => Some(commune.code.clone()),
            // Not a 2025 name: a commune as it was named before the 2025 merger, when it went
            // whole into one of today's (a split one must be named as it is now).
            Err(none) if none.is_empty() => match units.communes_from_old_name(typed, province.as_deref()).as_slice() {
                [one] => Some(one.code.clone()),
                _ => None,
            },
            Err(_) => None,
        };
        match (code, province) {
            (Some(code), _) => {
                fields.insert(key, code);
            }
            (None, Some(province)) => {
                unresolved.insert(f.name.clone(), province);
            }
            (None, None) => {}
        }
    }
    unresolved
}

/// The date of a day / month / year trio as stored (`YYYY-MM-DD`), or what was typed when it
/// is not a date (the procedure's validation then names the field).
fn compose_date(day: &str, month: &str, year: &str) -> String {
    let typed = match (day.trim(), month.trim(), year.trim()) {
        ("", "", "") => return String::new(),
        (whole, "", "") => whole.to_owned(),
        (d, m, y) => format!("{d}/{m}/{y}"),
    };
    match civitas_core::PartialDate::parse_vn(&typed) {
        Ok(date) if date.to_date().is_some() => date.to_string(),
        _ => typed,
    }
}

pub(super) fn option_text(lang: Lang, o: &str) -> String {
    let t = match o {
        "own_home" => tr(lang, "Chỗ ở hợp pháp thuộc sở hữu của mình", "My own home"),
        "with_relative" => tr(lang, "Về ở với người thân", "Living with a relative"),
        "rented" => tr(lang, "Thuê, mượn, ở nhờ", "Rented or lent"),
        "male" => tr(lang, "Nam", "Male"),
        "female" => tr(lang, "Nữ", "Female"),
        "expired" => tr(lang, "Hết hạn", "Expired"),
        "lost" => tr(lang, "Bị mất", "Lost"),
        "damaged" => tr(lang, "Bị hỏng", "Damaged"),
        "details_changed" => tr(lang, "Thay đổi thông tin", "Details changed"),
        "counter" => tr(lang, "Tại cơ quan", "At the office"),
        "post" => tr(lang, "Qua bưu chính", "By post"),
        other => return other.to_owned(),
    };
    t.to_owned()
}

/// Why a typed commune was not understood, in the citizen's terms: a pre-2025 name that was
/// split between several of today's communes is answered with their names; several communes
/// of one name with their provinces; else the general hint.
pub(super) fn commune_problem_text(lang: Lang, typed: &str) -> String {
    let units = civitas_core::AdminUnits::get();
    let named = |cs: &[&civitas_core::units::Commune]| {
        cs.iter()
            .map(|c| match units.province(&c.province_code) {
                Some(p) => format!("{} ({})", c.name, p.name),
                None => c.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let now = units.communes_from_old_name(typed, None);
    if now.len() > 1 && units.resolve_commune(typed, None).is_err_and(|c| c.is_empty()) {
        return match lang {
            Lang::Vi => format!(
                "“{}” là tên trước 07/2025; nay thuộc {} xã/phường: {}. Chọn xã/phường nơi có địa chỉ của bạn.",
                typed.trim(),
                now.len(),
                named(&now)
            ),
            Lang::En => format!(
                "“{}” is a name from before July 2025, now part of {} communes: {}. Choose the one your address is in.",
                typed.trim(),
                now.len(),
                named(&now)
            ),
        };
    }
    if let Err(several) = units.resolve_commune(typed, None)
        && (2..=6).contains(&several.len())
    {
        return match lang {
            Lang::Vi => format!("Có nhiều xã/phường tên này: {}. Chọn tỉnh/thành phố trước.", named(&several)),
            Lang::En => format!("Several communes have this name: {}. Choose the province first.", named(&several)),
        };
    }
    form_problem_text(lang, civitas_services::catalogue::FieldProblem::UnknownCommune).to_owned()
}

pub(super) fn form_problem_text(lang: Lang, problem: civitas_services::catalogue::FieldProblem) -> &'static str {
    use civitas_services::catalogue::FieldProblem as F;
    match problem {
        F::Missing => tr(lang, "Thông tin này là bắt buộc.", "This is required."),
        F::TooLong => tr(lang, "Tối đa 500 ký tự.", "At most 500 characters."),
        F::NotADate => {
            tr(lang, "Nhập ngày, tháng, năm, ví dụ 15/03/2026.", "Enter the day, month and year, e.g. 15/03/2026.")
        }
        F::UnknownCommune => tr(
            lang,
            "Không tìm thấy đúng một xã/phường với tên này: chọn tỉnh/thành phố và gõ tên xã/phường, ví dụ “Ba Đình”.",
            "No single commune has this name: choose the province and type the commune's name, e.g. “Ba Dinh”.",
        ),
        F::NotAPid => tr(lang, "Số định danh gồm 12 chữ số hợp lệ.", "An ID number has 12 valid digits."),
        F::NotANumber => tr(lang, "Nhập một số.", "Enter a number."),
        F::NotAnOption => tr(lang, "Chọn một trong các lựa chọn.", "Choose one of the options."),
        F::Unknown => tr(lang, "Trường không thuộc tờ khai.", "Not a field of this form."),
    }
}

pub(super) async fn applicant_box(
    state: &AppState,
    lang: Lang,
    pid: &str,
) -> Result<(civitas_registry::Person, Markup), Response> {
    let person = match pid.parse::<civitas_core::Pid>() {
        Ok(p) => state.register.get(&p).await.ok().flatten(),
        Err(_) => None,
    };
    let Some(person) = person else { return Err(Redirect::to("/account").into_response()) };
    let m = html! {
        section aria-labelledby="applicant" {
            h2 id="applicant" { (tr(lang, "Người nộp (từ Cơ sở dữ liệu quốc gia về dân cư, không cần nhập)", "Applicant (from the population register, nothing to type)")) }
            (crate::ui::summary_list(None, &[
                (tr(lang, "Họ và tên", "Full name"), html! { (person.full_name) }),
                (tr(lang, "Số định danh", "ID number"), html! { (person.pid.as_str()) }),
                (tr(lang, "Ngày sinh", "Date of birth"), html! { (lang.partial_date(&person.birth_date)) }),
                (tr(lang, "Nơi thường trú", "Permanent residence"), html! { (person.permanent_residence.as_ref().map(crate::pages::residence_text).unwrap_or_default()) }),
            ]))
        }
    };
    Ok((person, m))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn render_apply(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    p: &Procedure,
    applicant: Markup,
    form: &ApplyForm,
    errors: &[(String, String)],
    stored: &[documents::Document],
    notice: Option<Markup>,
) -> Response {
    let (csrf, _) = csrf_of(state, headers);
    let summary: Vec<(&str, &str)> = errors.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
    let body = html! {
        (citizen_nav(lang))
        (step(lang, 1, tr(lang, "Điền tờ khai và giấy tờ", "Fill in the form and documents")))
        h1 { (name(lang, p)) }
        (error_summary(lang, &summary))
        @if let Some(n) = notice { (n) }
        (applicant)
        form method="post" action=(format!("/services/{}/apply", p.code)) enctype="multipart/form-data" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            h2 { (tr(lang, "Tờ khai", "The form")) }
            @for f in &p.fields {
                @let error = errors.iter().find(|(n, _)| *n == format!("f-{}", f.name)).map(|(_, m)| m.as_str());
                (field_input(lang, f, form.fields.get(&f.name).map(String::as_str).unwrap_or_default(), form.provinces.get(&f.name).map(String::as_str), error))
            }
            @let files: Vec<_> = p.components.iter().filter(|c| c.needs_file()).collect();
            @if !files.is_empty() { h2 { (tr(lang, "Giấy tờ", "Documents")) } }
            @for c in files {
                @let id = format!("c-{}", c.code);
                @let error = errors.iter().find(|(n, _)| *n == id).map(|(_, m)| m.as_str());
                @let chosen = form.components.get(&c.code).cloned().unwrap_or_default();
                (crate::ui::field(
                    &id,
                    &id,
                    html! { (if lang == Lang::En { &c.name_en } else { &c.name_vi }) @if !c.required { " " (tr(lang, "(không bắt buộc)", "(optional)")) } },
                    Some(tr(lang, "PDF, JPEG hoặc PNG, tối đa 10 MB; hoặc chọn giấy tờ trong kho dữ liệu bên dưới.", "PDF, JPEG or PNG, at most 10 MB; or pick one from your store below.")),
                    error,
                    html! {
                        input type="file" id=(id) name=(format!("file.{}", c.code)) accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
                            aria-describedby=(crate::ui::described_by(&id, true, error.is_some()).unwrap_or_default());
                        @if !stored.is_empty() {
                            label for=(format!("{id}-store")) { (tr(lang, "Hoặc dùng giấy tờ đã có", "Or use a document you have")) }
                            select id=(format!("{id}-store")) name=(format!("doc.{}", c.code)) {
                                option value="" { "—" }
                                @for d in stored { option value=(d.id) selected[d.id == chosen] { (d.name) } }
                            }
                        }
                    },
                ))
            }
            div class="actions" {
                (crate::ui::button(crate::ui::ButtonKind::Primary, tr(lang, "Tiếp tục", "Continue"), None))
                (crate::ui::button(crate::ui::ButtonKind::Secondary, tr(lang, "Lưu nháp", "Save as draft"), Some(("draft", "1"))))
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_page(state, headers, lang, status, name(lang, p), &format!("/services/{}/apply", p.code), None, body)
}

pub(super) async fn apply_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<LangQ>,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let pid = page_try!(citizen(&state, &headers).await);
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let (_, applicant) = page_try!(applicant_box(&state, lang, &pid).await);
    let stored = documents::list(&state.db, &pid).await.unwrap_or_default();
    // A saved draft is taken up where it was left.
    let (form, notice) = match civitas_services::drafts::load(&state.db, &pid, &p.code).await {
        Ok(Some(saved)) => {
            let notice = crate::ui::banner(
                crate::ui::Tone::Info,
                Some("draft-notice"),
                None,
                html! { p { (tr(lang, "Đây là bản nháp bạn đã lưu lúc ", "This is the draft you saved at ")) (lang.time(&saved.saved_at)) "." } },
            );
            (
                ApplyForm {
                    fields: saved.draft.fields,
                    components: saved.draft.components,
                    provinces: BTreeMap::new(),
                },
                Some(notice),
            )
        }
        Ok(None) => {
            (ApplyForm { fields: BTreeMap::new(), components: BTreeMap::new(), provinces: BTreeMap::new() }, None)
        }
        Err(e) => {
            tracing::warn!(error = %e, "a draft could not be read; the form opens empty");
            (ApplyForm { fields: BTreeMap::new(), components: BTreeMap::new(), provinces: BTreeMap::new() }, None)
        }
    };
    render_apply(&state, &headers, lang, p, applicant, &form, &[], &stored, notice)
}

/// Why a multipart form was not read.
pub(super) enum MultipartRefusal {
    /// The body broke off.
    Interrupted,
    /// The CSRF token (which every form sends as its first field) is missing or wrong.
    Csrf,
}

/// Reads a multipart form: text parts, and files (stored in the citizen's document store at
/// once, so a re-shown form does not ask for them again). The form's CSRF token must come
/// first: nothing is stored before it is checked.
pub(super) async fn read_multipart(
    state: &AppState,
    headers: &HeaderMap,
    pid: &str,
    mut mp: Multipart,
) -> Result<(BTreeMap<String, String>, Vec<(String, String)>), MultipartRefusal> {
    let mut text = BTreeMap::new();
    let mut file_errors = Vec::new();
    let mut csrf_checked = false;
    while let Ok(Some(field)) = mp.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if !csrf_checked {
            if name != "csrf" {
                return Err(MultipartRefusal::Csrf);
            }
            let Ok(token) = field.text().await else { return Err(MultipartRefusal::Interrupted) };
            if !csrf_ok(state, headers, &token) {
                return Err(MultipartRefusal::Csrf);
            }
            csrf_checked = true;
            continue;
        }
        let file_name = field.file_name().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else { return Err(MultipartRefusal::Interrupted) };
        match (name.strip_prefix("file."), file_name) {
            (Some(component), Some(file_name)) if !bytes.is_empty() => {
                match documents::store(&state.db, pid, &file_name, &bytes, crate::now()).await {
                    Ok(doc) => {
                        text.insert(format!("doc.{component}"), doc.id);
                    }
                    Err(e) => file_errors.push((format!("c-{component}"), e.to_string())),
                }
            }
            (Some(_), _) => {}
            // "No document chosen from the store" never hides a file uploaded for the same
            // component (the file field comes first in the form).
            (None, _) if name.starts_with("doc.") && bytes.is_empty() => {
                text.entry(name).or_default();
            }
            (None, _) => {
                text.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    if !csrf_checked {
        return Err(MultipartRefusal::Csrf);
    }
    Ok((text, file_errors))
}

pub(super) fn split_form(p: &Procedure, text: &BTreeMap<String, String>) -> ApplyForm {
    let mut fields = BTreeMap::new();
    let mut components = BTreeMap::new();
    for (k, v) in text {
        if let Some(f) = k.strip_prefix("field.") {
            fields.insert(f.to_owned(), v.clone());
        } else if let Some(c) = k.strip_prefix("doc.")
            && !v.is_empty()
            && p.components.iter().any(|x| x.code == c)
        {
            components.insert(c.to_owned(), v.clone());
        }
    }
    compose_dates(p, &mut fields, "");
    let provinces = compose_communes(p, &mut fields, "");
    ApplyForm { fields, components, provinces }
}

/// Replaces the day / month / year parts of each date field of `p` in `fields` (keys
/// `{prefix}{name}.day` ...) with the date they make (`{prefix}{name}`).
pub(super) fn compose_dates(p: &Procedure, fields: &mut BTreeMap<String, String>, prefix: &str) {
    for f in p.fields.iter().filter(|f| f.kind == FieldKind::Date) {
        let parts = ["day", "month", "year"].map(|x| fields.remove(&format!("{prefix}{}.{x}", f.name)));
        if parts.iter().any(Option::is_some) {
            let [d, m, y] = parts.map(Option::unwrap_or_default);
            fields.insert(format!("{prefix}{}", f.name), compose_date(&d, &m, &y));
        }
    }
}

pub(super) async fn apply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    mp: Multipart,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let (text, mut errors) = match read_multipart(&state, &headers, &pid, mp).await {
        Ok(x) => x,
        Err(MultipartRefusal::Csrf) => return csrf_expired(&state, &headers, lang),
        Err(MultipartRefusal::Interrupted) => {
            let text = tr(lang, "Tệp tải lên bị gián đoạn: hãy gửi lại.", "The upload was interrupted: send it again.");
            return message(&state, &headers, lang, StatusCode::BAD_REQUEST, text);
        }
    };
    let form = split_form(p, &text);
    let (person, applicant) = page_try!(applicant_box(&state, lang, &pid).await);
    // Back from the check page: the form again, with every answer and chosen document kept.
    if text.contains_key("back") {
        let stored = documents::list(&state.db, &pid).await.unwrap_or_default();
        return render_apply(&state, &headers, lang, p, applicant, &form, &errors, &stored, None);
    }
    // Save as draft: kept as typed, valid or not, to be finished later (on any device).
    if text.contains_key("draft") {
        let stored = documents::list(&state.db, &pid).await.unwrap_or_default();
        let draft =
            civitas_services::drafts::Draft { fields: form.fields.clone(), components: form.components.clone() };
        let notice = match civitas_services::drafts::save(&state.db, &pid, &p.code, &draft, crate::now()).await {
            Ok(at) => crate::ui::banner(
                crate::ui::Tone::Success,
                Some("draft-notice"),
                None,
                html! {
                    p { (tr(lang, "Đã lưu nháp lúc ", "Draft saved at ")) (lang.time(&at)) ". "
                        (tr(lang, "Bạn có thể quay lại hoàn thành sau; bản nháp có trong ", "You can come back and finish it later; it is listed in "))
                        a href="/my/dossiers" { (tr(lang, "Hồ sơ của tôi", "My dossiers")) } "." }
                },
            ),
            Err(civitas_services::drafts::DraftError::TooLarge) => crate::ui::banner(
                crate::ui::Tone::Danger,
                Some("draft-notice"),
                None,
                html! {
                    p { (tr(lang, "Không lưu được nháp: nội dung quá dài (tối đa 64 KB).", "The draft was not saved: it is too long (at most 64 KB).")) }
                },
            ),
            Err(civitas_services::drafts::DraftError::Store(e)) => {
                return problem_page(&state, &headers, lang, crate::problem::internal(&e));
            }
        };
        return render_apply(&state, &headers, lang, p, applicant, &form, &errors, &stored, Some(notice));
    }
    if let Err(es) = p.check_fields(&form.fields) {
        for e in es {
            let text = match e.problem {
                civitas_services::catalogue::FieldProblem::UnknownCommune => {
                    commune_problem_text(lang, form.fields.get(&e.field).map(String::as_str).unwrap_or_default())
                }
                other => form_problem_text(lang, other).to_owned(),
            };
            errors.push((format!("f-{}", e.field), text));
        }
    }
    // The same checks as the API (documents owned, required ones present, the unit); the form's
    // own field errors were given above in the page's words.
    if let Err(problem) =
        crate::one_stop::prepare(&state, p, &person, &form.fields, &form.components, "online", serde_json::json!({}))
            .await
    {
        let before = errors.len();
        for e in problem.errors.clone() {
            let id = e.field.replacen("fields.", "f-", 1).replacen("components.", "c-", 1);
            if errors.iter().any(|(f, _)| *f == id) || (id.starts_with("f-") && e.field != "fields.commune") {
                continue;
            }
            let text = if id.starts_with("c-") {
                tr(lang, "Tải lên giấy tờ này.", "Upload this document.").to_owned()
            } else {
                e.detail
            };
            errors.push((id, text));
        }
        if errors.len() == before && errors.is_empty() {
            return problem_page(&state, &headers, lang, problem);
        }
    }
    let stored = documents::list(&state.db, &pid).await.unwrap_or_default();
    if !errors.is_empty() {
        return render_apply(&state, &headers, lang, p, applicant, &form, &errors, &stored, None);
    }
    // Check your answers.
    let (csrf, _) = csrf_of(&state, &headers);
    let key = documents::new_id();
    let doc_name = |id: &str| stored.iter().find(|d| d.id == id).map(|d| d.name.clone()).unwrap_or_default();
    let mut answers: Vec<(&str, Markup)> = Vec::new();
    for f in &p.fields {
        if let Some(v) = form.fields.get(&f.name).filter(|v| !v.trim().is_empty()) {
            let shown = match f.kind {
                FieldKind::Date => lang.day(v.trim()),
                FieldKind::Commune => commune_text(v.trim()),
                _ => option_text(lang, v.trim()),
            };
            answers.push((if lang == Lang::En { &f.label_en } else { &f.label_vi }, html! { (shown) }));
        }
    }
    for (c, id) in &form.components {
        if let Some(comp) = p.components.iter().find(|x| &x.code == c) {
            answers.push((if lang == Lang::En { &comp.name_en } else { &comp.name_vi }, html! { (doc_name(id)) }));
        }
    }
    let body = html! {
        (citizen_nav(lang))
        (step(lang, 2, tr(lang, "Kiểm tra và nộp", "Check and submit")))
        h1 { (tr(lang, "Kiểm tra thông tin trước khi nộp", "Check your answers before submitting")) }
        (applicant)
        h2 { (name(lang, p)) }
        (crate::ui::summary_list(Some("answers"), &answers))
        form method="post" action=(format!("/services/{}/apply", p.code)) enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="back" value="1";
            @for (k, v) in &form.fields { input type="hidden" name=(format!("field.{k}")) value=(v); }
            @for (k, v) in &form.components { input type="hidden" name=(format!("doc.{k}")) value=(v); }
            button type="submit" class="link" id="change-answers" { (tr(lang, "Sửa thông tin", "Change your answers")) }
        }
        form method="post" action=(format!("/services/{}/submit", p.code)) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="idempotency_key" value=(key);
            @for (k, v) in &form.fields { input type="hidden" name=(format!("field.{k}")) value=(v); }
            @for (k, v) in &form.components { input type="hidden" name=(format!("doc.{k}")) value=(v); }
            button type="submit" { (tr(lang, "Nộp hồ sơ", "Submit the dossier")) }
        }
    };
    html_page(
        &state,
        &headers,
        lang,
        StatusCode::OK,
        tr(lang, "Kiểm tra thông tin", "Check your answers"),
        &format!("/services/{}/apply", p.code),
        None,
        body,
    )
}

pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(text): Form<BTreeMap<String, String>>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    let pid = page_try!(citizen(&state, &headers).await);
    if !csrf_ok(&state, &headers, text.get("csrf").map(String::as_str).unwrap_or_default()) {
        return csrf_expired(&state, &headers, lang);
    }
    let Some(p) = state.catalogue.get(&code) else {
        return not_found(&state, &headers, lang, "Không có thủ tục này.", "No such procedure.");
    };
    let form = split_form(p, &text);
    let person = match applicant_box(&state, lang, &pid).await {
        Ok((p, _)) => p,
        Err(r) => return r,
    };
    let prepared = match crate::one_stop::prepare(
        &state,
        p,
        &person,
        &form.fields,
        &form.components,
        "online",
        serde_json::json!({}),
    )
    .await
    {
        Ok(x) => x,
        Err(problem) => return problem_page(&state, &headers, lang, problem),
    };
    match state.intake.submit(prepared.new, text.get("idempotency_key").map(String::as_str), &pid, crate::now()).await {
        Ok(d) => {
            // The draft has become a dossier.
            if let Err(e) = civitas_services::drafts::delete(&state.db, &pid, &p.code).await {
                tracing::warn!(error = %e, "a submitted dossier's draft could not be deleted");
            }
            Redirect::to(&format!("/my/dossiers/{}?submitted=1", d.code)).into_response()
        }
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}
