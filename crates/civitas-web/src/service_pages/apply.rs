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
            div class="field" {
                label for="q" { (tr(lang, "Tìm thủ tục", "Find a procedure")) }
                p class="hint" id="q-hint" { (tr(lang, "Có thể gõ không dấu, ví dụ: thuong tru", "Diacritics optional, e.g. residence")) }
                input type="search" id="q" name="q" value=(query) aria-describedby="q-hint";
            }
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
        dl class="facts" {
            dt { (tr(lang, "Mã thủ tục", "Code")) } dd { (p.code) }
            dt { (tr(lang, "Thời hạn giải quyết", "Time limit")) } dd { (p.days) " " (tr(lang, "ngày làm việc", "working days")) }
            dt { (tr(lang, "Lệ phí", "Fee")) } dd { (p.fee) " đồng" }
            dt { (tr(lang, "Cấp giải quyết", "Decided by")) } dd { (if p.level == civitas_services::catalogue::Level::Commune { tr(lang, "Cấp xã", "Commune") } else { tr(lang, "Cấp tỉnh", "Province") }) }
        }
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
        p { a class="button" href=(format!("/services/{}/apply", p.code)) { (tr(lang, "Nộp hồ sơ trực tuyến", "Apply online")) } }
    };
    html_page(&state, &headers, lang, StatusCode::OK, name(lang, p), &format!("/services/{code}"), None, body)
}

// ----- apply -----

pub(super) struct ApplyForm {
    fields: BTreeMap<String, String>,
    components: BTreeMap<String, String>,
}

pub(super) fn field_input(
    lang: Lang,
    f: &civitas_services::catalogue::Field,
    value: &str,
    error: Option<&str>,
) -> Markup {
    let id = format!("f-{}", f.name);
    let label = if lang == Lang::En { &f.label_en } else { &f.label_vi };
    html! {
        div class=(if error.is_some() { "field error" } else { "field" }) {
            label for=(match f.kind {
                FieldKind::Date => format!("{id}-day"),
                FieldKind::Commune => format!("{id}-name"),
                _ => id.clone(),
            }) { (label) @if !f.required { " " (tr(lang, "(không bắt buộc)", "(optional)")) } }
            @if let Some(e) = error { p class="error-message" id=(format!("{id}-error")) { (e) } }
            @match f.kind {
                FieldKind::Select => {
                    select id=(id) name=(format!("field.{}", f.name)) {
                        option value="" { "—" }
                        @for o in &f.options { option value=(o) selected[o == value] { (option_text(lang, o)) } }
                    }
                }
                FieldKind::Date => { (date_inputs(lang, &id, &f.name, value)) }
                FieldKind::Commune => { (commune_inputs(lang, &id, &f.name, value)) }
                _ => { input type="text" id=(id) name=(format!("field.{}", f.name)) value=(value); }
            }
        }
    }
}

/// Where the citizen is in applying: "Bước 2/3 · Kiểm tra và nộp".
pub(super) fn step(lang: Lang, n: u8, what: &str) -> Markup {
    html! { p class="step" id="step" { (tr(lang, "Bước", "Step")) " " (n) "/3 · " (what) } }
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
fn commune_inputs(lang: Lang, id: &str, name: &str, value: &str) -> Markup {
    let units = civitas_core::AdminUnits::get();
    let known = units.commune(value.trim());
    let province = known.map(|c| c.province_code.as_str());
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
                @if let Some(p) = province {
                    input type="text" id=(format!("{id}-name")) name=(format!("field.{name}")) value=(shown)
                        list=(format!("{id}-list")) autocomplete="off";
                    datalist id=(format!("{id}-list")) { @for c in units.communes_of(p) { option value=(c.name) {} } }
                } @else {
                    input type="text" id=(format!("{id}-name")) name=(format!("field.{name}")) value=(shown) autocomplete="off";
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
pub(super) fn compose_communes(p: &Procedure, fields: &mut BTreeMap<String, String>, prefix: &str) {
    let units = civitas_core::AdminUnits::get();
    for f in p.fields.iter().filter(|f| f.kind == FieldKind::Commune) {
        let province = fields.remove(&format!("{prefix}{}.province", f.name)).filter(|p| !p.trim().is_empty());
        let key = format!("{prefix}{}", f.name);
        let Some(typed) = fields.get(&key).filter(|v| !v.trim().is_empty()) else { continue };
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
        if let Some(code) = code {
            fields.insert(key, code);
        }
    }
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
            dl class="facts" {
                dt { (tr(lang, "Họ và tên", "Full name")) } dd { (person.full_name) }
                dt { (tr(lang, "Số định danh", "ID number")) } dd { (person.pid.as_str()) }
                dt { (tr(lang, "Ngày sinh", "Date of birth")) } dd { (lang.partial_date(&person.birth_date)) }
                dt { (tr(lang, "Nơi thường trú", "Permanent residence")) } dd { (person.permanent_residence.as_ref().map(crate::pages::residence_text).unwrap_or_default()) }
            }
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
) -> Response {
    let (csrf, _) = csrf_of(state, headers);
    let summary: Vec<(&str, &str)> = errors.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
    let body = html! {
        (citizen_nav(lang))
        (step(lang, 1, tr(lang, "Điền tờ khai và giấy tờ", "Fill in the form and documents")))
        h1 { (name(lang, p)) }
        (error_summary(lang, &summary))
        (applicant)
        form method="post" action=(format!("/services/{}/apply", p.code)) enctype="multipart/form-data" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            h2 { (tr(lang, "Tờ khai", "The form")) }
            @for f in &p.fields {
                @let error = errors.iter().find(|(n, _)| *n == format!("f-{}", f.name)).map(|(_, m)| m.as_str());
                (field_input(lang, f, form.fields.get(&f.name).map(String::as_str).unwrap_or_default(), error))
            }
            @let files: Vec<_> = p.components.iter().filter(|c| c.needs_file()).collect();
            @if !files.is_empty() { h2 { (tr(lang, "Giấy tờ", "Documents")) } }
            @for c in files {
                @let id = format!("c-{}", c.code);
                @let error = errors.iter().find(|(n, _)| *n == id).map(|(_, m)| m.as_str());
                @let chosen = form.components.get(&c.code).cloned().unwrap_or_default();
                div class=(if error.is_some() { "field error" } else { "field" }) {
                    label for=(id) { (if lang == Lang::En { &c.name_en } else { &c.name_vi }) @if !c.required { " " (tr(lang, "(không bắt buộc)", "(optional)")) } }
                    p class="hint" id=(format!("{id}-hint")) { (tr(lang, "PDF, JPEG hoặc PNG, tối đa 10 MB; hoặc chọn giấy tờ trong kho dữ liệu bên dưới.", "PDF, JPEG or PNG, at most 10 MB; or pick one from your store below.")) }
                    @if let Some(e) = error { p class="error-message" id=(format!("{id}-error")) { (e) } }
                    input type="file" id=(id) name=(format!("file.{}", c.code)) accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png" aria-describedby=(format!("{id}-hint"));
                    @if !stored.is_empty() {
                        label for=(format!("{id}-store")) { (tr(lang, "Hoặc dùng giấy tờ đã có", "Or use a document you have")) }
                        select id=(format!("{id}-store")) name=(format!("doc.{}", c.code)) {
                            option value="" { "—" }
                            @for d in stored { option value=(d.id) selected[d.id == chosen] { (d.name) } }
                        }
                    }
                }
            }
            button type="submit" { (tr(lang, "Tiếp tục", "Continue")) }
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
    render_apply(
        &state,
        &headers,
        lang,
        p,
        applicant,
        &ApplyForm { fields: BTreeMap::new(), components: BTreeMap::new() },
        &[],
        &stored,
    )
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
    compose_communes(p, &mut fields, "");
    ApplyForm { fields, components }
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
        return render_apply(&state, &headers, lang, p, applicant, &form, &errors, &stored);
    }
    if let Err(es) = p.check_fields(&form.fields) {
        for e in es {
            errors.push((format!("f-{}", e.field), form_problem_text(lang, e.problem).to_owned()));
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
        return render_apply(&state, &headers, lang, p, applicant, &form, &errors, &stored);
    }
    // Check your answers.
    let (csrf, _) = csrf_of(&state, &headers);
    let key = documents::new_id();
    let doc_name = |id: &str| stored.iter().find(|d| d.id == id).map(|d| d.name.clone()).unwrap_or_default();
    let body = html! {
        (citizen_nav(lang))
        (step(lang, 2, tr(lang, "Kiểm tra và nộp", "Check and submit")))
        h1 { (tr(lang, "Kiểm tra thông tin trước khi nộp", "Check your answers before submitting")) }
        (applicant)
        h2 { (name(lang, p)) }
        dl class="facts" id="answers" {
            @for f in &p.fields {
                @if let Some(v) = form.fields.get(&f.name).filter(|v| !v.trim().is_empty()) {
                    dt { (if lang == Lang::En { &f.label_en } else { &f.label_vi }) }
                    dd { @match f.kind {
                        FieldKind::Date => { (lang.day(v.trim())) }
                        FieldKind::Commune => { (commune_text(v.trim())) }
                        _ => { (option_text(lang, v.trim())) }
                    } }
                }
            }
            @for (c, id) in &form.components {
                @if let Some(comp) = p.components.iter().find(|x| &x.code == c) {
                    dt { (if lang == Lang::En { &comp.name_en } else { &comp.name_vi }) } dd { (doc_name(id)) }
                }
            }
        }
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
        Ok(d) => Redirect::to(&format!("/my/dossiers/{}?submitted=1", d.code)).into_response(),
        Err(e) => problem_page(&state, &headers, lang, e.into()),
    }
}
