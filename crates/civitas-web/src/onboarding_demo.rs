//! The remote-onboarding demo (development and `--demo` only, like `/dev/outbox`): a simulated
//! phone reads a simulated chip card (`card-sim`, seed `demo`) of a person of the register and
//! walks through the phone API's steps; each step shows the server's answer. Attack variants show
//! the refusals. The phone's state can then be asked for, as the app would, to collect level 2
//! after an officer's review at `/officer/onboarding`.

use axum::extract::{Form, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use civitas_onboarding::sim::{PhoneOutcome, PhoneRun, Step, run_phone};

use crate::AppState;
use crate::i18n::{Lang, tr};
use crate::pages::{PageContext, csrf_of, csrf_ok, layout, page};
use crate::ui::{ButtonKind, TextInput, Tone, button, summary_list, tag};

pub fn routes() -> axum::Router<AppState> {
    crate::policy::PolicyRouter::new()
        .route("/onboarding/demo", get(demo_page).post(run))
        .route("/onboarding/demo/status", post(status))
        .into_router()
}

const VARIANTS: [&str; 7] = ["genuine", "tampered-dg13", "foreign-csca", "expired-ds", "no-dg15", "clone", "replay"];

fn variant_text(lang: Lang, v: &str) -> &'static str {
    match v {
        "genuine" => tr(lang, "Thẻ thật", "A genuine card"),
        "tampered-dg13" => tr(lang, "Dữ liệu DG13 bị sửa", "DG13 edited"),
        "foreign-csca" => tr(lang, "Ký bởi CSCA giả", "Signed under a fake CSCA"),
        "expired-ds" => tr(lang, "Chứng thư ký (DS) hết hạn", "An expired Document Signer"),
        "no-dg15" => tr(lang, "Giấu DG15 (né xác thực chủ động)", "DG15 withheld (dodging active authentication)"),
        "clone" => tr(lang, "Chip sao chép (không có khoá AA)", "A cloned chip (no AA key)"),
        _ => tr(lang, "Phát lại câu trả lời cũ", "A replayed answer"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DemoForm {
    csrf: Option<String>,
    pid: Option<String>,
    phone: Option<String>,
    level: Option<String>,
    password: Option<String>,
    variant: Option<String>,
}

fn not_here(state: &AppState, headers: &HeaderMap, lang: Lang) -> Option<Response> {
    (!state.dev_outbox).then(|| {
        crate::pages::message_page(state, headers, lang, StatusCode::NOT_FOUND, "not-found", lang.t("not_found"))
    })
}

async fn demo_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if let Some(r) = not_here(&state, &headers, lang) {
        return r;
    }
    render(&state, &headers, lang, &DemoForm::default(), None).await
}

fn steps_list(lang: Lang, steps: &[Step]) -> Markup {
    html! {
        ol id="steps" {
            @for s in steps {
                li {
                    strong { (s.what) } " "
                    (if s.ok { tag(Tone::Success, tr(lang, "được chấp nhận", "accepted")) } else { tag(Tone::Warning, tr(lang, "bị từ chối", "refused")) })
                    " " code { (s.detail) }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    form: &DemoForm,
    outcome: Option<PhoneOutcome>,
) -> Response {
    let (csrf, fresh) = csrf_of(state, headers);
    let title = tr(lang, "Thử định danh từ xa bằng điện thoại mô phỏng", "Remote onboarding with a simulated phone");
    let val = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        h1 { (title) }
        p { (tr(lang, "Trang thử nghiệm: một điện thoại mô phỏng đọc chip thẻ căn cước mô phỏng (CSCA thử nghiệm, được tin cậy trong bản demo) của một người trong cơ sở dữ liệu và gọi đúng các API mà ứng dụng điện thoại gọi.",
                "A test page: a simulated phone reads a simulated chip card (the test CSCA, trusted in the demo) of a person in the register and calls the same API a phone app calls.")) }
        @if let Some((steps, session)) = &outcome {
            h2 { (tr(lang, "Các bước", "Steps")) }
            (steps_list(lang, steps))
            @if let Some((id, token)) = session {
                form method="post" action="/onboarding/demo/status" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="session" value=(id);
                    input type="hidden" name="token" value=(token);
                    (button(ButtonKind::Secondary, tr(lang, "Hỏi trạng thái (như ứng dụng)", "Ask for the state (as the app does)"), None))
                }
                p { (tr(lang, "Yêu cầu mức 2 chờ cán bộ đăng ký của xã/phường duyệt tại", "A level-2 request waits for a registry officer of the commune at")) " " a href="/officer/onboarding" { "/officer/onboarding" } "." }
            }
        }
        h2 { (tr(lang, "Bắt đầu", "Start")) }
        form method="post" action="/onboarding/demo" {
            input type="hidden" name="csrf" value=(csrf);
            (TextInput::new("pid", tr(lang, "Số định danh cá nhân", "Personal ID number"), &val(&form.pid)).numeric().width("w10").render())
            (TextInput::new("phone", tr(lang, "Số điện thoại", "Phone number"), &val(&form.phone)).kind("tel").width("w10").render())
            (crate::ui::select("level", tr(lang, "Mức định danh", "Level"),
                &[("1".to_owned(), tr(lang, "Mức 1 (ngay)", "Level 1 (at once)").to_owned()), ("2".to_owned(), tr(lang, "Mức 2 (cán bộ duyệt)", "Level 2 (an officer reviews)").to_owned())],
                form.level.as_deref()))
            (TextInput::new("password", tr(lang, "Mật khẩu cho tài khoản mới", "Password of the new account"), "").kind("password").render())
            (crate::ui::select("variant", tr(lang, "Thẻ", "Card"),
                &VARIANTS.iter().map(|v| ((*v).to_owned(), variant_text(lang, v).to_owned())).collect::<Vec<_>>(),
                form.variant.as_deref()))
            (button(ButtonKind::Primary, tr(lang, "Chạy điện thoại mô phỏng", "Run the simulated phone"), None))
        }
    };
    let ctx = PageContext { lang, title, caller: None, csrf: Some(&csrf), path: "/onboarding/demo" };
    page(StatusCode::OK, layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)))
}

async fn run(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<DemoForm>,
) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if let Some(r) = not_here(&state, &headers, lang) {
        return r;
    }
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    let ip = crate::auth::client_ip(&state, &headers, &ext);
    let variant = form.variant.as_deref().filter(|v| VARIANTS.contains(v)).unwrap_or("genuine");
    let run = PhoneRun {
        pid: form.pid.as_deref().unwrap_or_default(),
        phone: form.phone.as_deref().unwrap_or_default(),
        level: if form.level.as_deref() == Some("2") { 2 } else { 1 },
        password: form.password.as_deref().unwrap_or_default(),
        variant,
        client: &ip,
    };
    let outcome = run_phone(&crate::onboarding::context(&state), &run, crate::now()).await;
    render(&state, &headers, lang, &form, Some(outcome)).await
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    csrf: Option<String>,
    session: Option<String>,
    token: Option<String>,
}

async fn status(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<StatusForm>) -> Response {
    let lang = crate::pages::lang(&headers, None);
    if let Some(r) = not_here(&state, &headers, lang) {
        return r;
    }
    if !csrf_ok(&state, &headers, form.csrf.as_deref().unwrap_or_default()) {
        return (StatusCode::FORBIDDEN, lang.t("csrf")).into_response();
    }
    let (id, token) = (form.session.unwrap_or_default(), form.token.unwrap_or_default());
    let answer = civitas_onboarding::status(&crate::onboarding::context(&state), &id, &token, crate::now()).await;
    let title = tr(lang, "Trạng thái định danh từ xa", "Remote onboarding state");
    let body = html! {
        h1 { (title) }
        @match &answer {
            Ok(s) => {
                (summary_list(Some("state"), &[
                    (tr(lang, "Trạng thái", "State"), html! { code { (s.state) } }),
                    (tr(lang, "Mức", "Level"), html! { (s.level) }),
                    (tr(lang, "Lý do", "Reason"), html! { (s.failure.clone().or(s.decision_reason.clone()).unwrap_or_default()) }),
                ]))
                @if let Some(f) = &s.second_factor {
                    p { (tr(lang, "Yếu tố xác thực thứ hai (chỉ hiện một lần):", "The second factor (shown once):")) }
                    (summary_list(Some("second-factor"), &[
                        (tr(lang, "Khoá TOTP", "TOTP key"), html! { code { (f.totp_secret) } }),
                        (tr(lang, "Mã khôi phục", "Recovery codes"), html! { code { (f.recovery_codes.join(" ")) } }),
                    ]))
                }
            }
            Err(e) => { p { (e.to_string()) } }
        }
        p { a href="/onboarding/demo" { (tr(lang, "Thử lại", "Try again")) } }
    };
    let ctx = PageContext { lang, title, caller: None, csrf: None, path: "/onboarding/demo" };
    page(StatusCode::OK, layout(&ctx, body), None, None)
}
