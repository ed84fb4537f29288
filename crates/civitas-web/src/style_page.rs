//! `/dev/style` (development mode: `serve --demo` or `dev_outbox = true`): every component of
//! the design system ([`crate::ui`]) with sample content, in both languages, so that a change
//! to `style.css` or a component is seen in one place and checked by axe in the browser test.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;

use crate::AppState;
use crate::i18n::tr;
use crate::ui::{self, ButtonKind, Column, Event, Row, TextInput, Tone};

pub fn routes() -> Router<AppState> {
    crate::policy::PolicyRouter::new().route("/dev/style", get(style_page)).into_router()
}

async fn style_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(all): Query<HashMap<String, String>>,
) -> Response {
    if !state.dev_outbox {
        return crate::problem::Problem::not_found("the style page exists in development mode only").into_response();
    }
    let lang = crate::pages::lang(&headers, all.get("lang").map(String::as_str));
    let t = |vi: &'static str, en: &'static str| tr(lang, vi, en);
    let colours = [
        ("--text", "#0b0c0c"),
        ("--muted", "#484949"),
        ("--brand", "#9b1c1c"),
        ("--link", "#1a4fa0"),
        ("--focus", "#ffdd00"),
        ("--ok", "#00703c"),
        ("--warn", "#8a4b00"),
        ("--danger", "#b10e1e"),
    ];
    let rows: Vec<Row> = (1..=23)
        .map(|i| Row {
            keys: vec![format!("{i:03}"), format!("{:02}", (i * 7) % 30 + 1), format!("{}", i % 3)],
            cells: vec![
                html! { "H01.1-2611" (format!("{i:02}")) },
                html! { (format!("{:02}/12/2026", (i * 7) % 30 + 1)) },
                match i % 3 {
                    0 => ui::tag(Tone::Success, t("Đã trả kết quả", "Returned")),
                    1 => ui::tag(Tone::Info, t("Đang xử lý", "In processing")),
                    _ => ui::tag(Tone::Warning, t("Yêu cầu bổ sung", "Supplement requested")),
                },
            ],
        })
        .collect();
    let errors =
        [("sample-name", t("Nhập họ và tên như trên thẻ căn cước.", "Enter the full name as on the ID card."))];
    let body = html! {
        h1 { (t("Hệ thống thiết kế", "Design system")) }
        p class="lead" { (t("Các thành phần dùng chung cho mọi trang (src/ui.rs, style.css).", "The components every page is built from (src/ui.rs, style.css).")) }
        h2 { (t("Màu sắc", "Colours")) }
        div class="swatches" {
            @for (name, hex) in colours {
                div class={ "swatch sw-" (name.trim_start_matches('-')) } { (name) br; code { (hex) } }
            }
        }
        h2 { (t("Điều hướng", "Navigation")) }
        (ui::sub_nav(t("Ví dụ", "Example"), &[("/services", t("Dịch vụ công", "Public services")), ("/my/dossiers", t("Hồ sơ của tôi", "My dossiers"))]))
        (ui::step(lang, 2, 3, t("Kiểm tra và nộp", "Check and submit")))
        h2 { (t("Nút", "Buttons")) }
        div class="actions" {
            (ui::button(ButtonKind::Primary, t("Tiếp tục", "Continue"), None))
            (ui::button(ButtonKind::Secondary, t("Lưu nháp", "Save as draft"), None))
            (ui::button(ButtonKind::Warning, t("Từ chối", "Refuse"), None))
        }
        (ui::button_link("/services", t("Bắt đầu", "Start now")))
        h2 { (t("Biểu mẫu", "Forms")) }
        (ui::error_summary(lang, &errors))
        form action="/dev/style" method="get" novalidate {
            (TextInput::new("sample-name", t("Họ và tên", "Full name"), "").hint(Some(t("Như trên thẻ căn cước", "As on the ID card"))).error(Some(errors[0].1)).autocomplete("name").render())
            (TextInput::new("sample-phone", t("Số điện thoại", "Phone number"), "0912345678").kind("tel").width("w10").autocomplete("tel").render())
            (TextInput::new("sample-commune", t("Xã/phường", "Commune or ward"), "").hint(Some(t("Gõ tên, có thể không dấu, ví dụ: ba dinh", "Type its name, e.g. ba dinh"))).commune_picker(None).autocomplete("off").render())
            div class="checkbox" { input type="checkbox" id="sample-check" name="check"; label for="sample-check" { (t("Tôi cam đoan thông tin trên là đúng", "I confirm the above is true")) } }
        }
        h2 { (t("Thông báo", "Banners")) }
        (ui::banner(Tone::Success, None, Some(t("Đã nộp hồ sơ", "Dossier submitted")), html! { p { (t("Mã hồ sơ của bạn: ", "Your dossier code: ")) strong { "H01.1-261130-0001" } } }))
        (ui::banner(Tone::Info, None, None, html! { p { (t("Đây là bản nháp bạn đã lưu lúc 30/11/2026 21:40.", "This is the draft you saved at 30/11/2026 21:40.")) } }))
        (ui::banner(Tone::Warning, None, None, html! { p { (t("Hồ sơ sắp đến hạn.", "The dossier is due soon.")) } }))
        (ui::banner(Tone::Danger, None, None, html! { p { (t("Giấy tờ đã bị thu hồi.", "The certificate was revoked.")) } }))
        h2 { (t("Nhãn trạng thái", "Tags")) }
        p { @for (tone, text) in [(Tone::Neutral, t("Đã rút", "Withdrawn")), (Tone::Info, t("Đang xử lý", "In processing")), (Tone::Success, t("Hợp lệ", "Valid")), (Tone::Warning, t("Chờ bổ sung", "Waiting")), (Tone::Danger, t("Quá hạn", "Overdue"))] { (ui::tag(tone, text)) " " } }
        h2 { (t("Danh sách tóm tắt", "Summary list")) }
        (ui::summary_list(None, &[(t("Họ và tên", "Full name"), html! { "Nguyễn Thị Thu Hà" }), (t("Ngày sinh", "Date of birth"), html! { "15/03/1990" }), (t("Nơi thường trú", "Permanent residence"), html! { "Phường Ba Đình, Thành phố Hà Nội" })]))
        h2 { (t("Bảng có sắp xếp và phân trang", "Table with sorting and pages")) }
        (ui::Table {
            id: "sample-table",
            caption: Some(t("Hồ sơ mẫu", "Sample dossiers")),
            columns: vec![Column::sortable(t("Mã hồ sơ", "Code")), Column::sortable(t("Ngày hẹn", "Due")), Column::sortable(t("Trạng thái", "Status"))],
            rows,
            path: "/dev/style",
            keep: Vec::new(),
            prefix: "",
            page_size: 8,
        }.render_for(lang, &all))
        h2 { (t("Dòng thời gian", "Timeline")) }
        (ui::timeline("sample-timeline", &[
            Event { when: "30/11/2026 08:15".into(), what: t("Tiếp nhận", "Received").into(), who: Some("079190000001".into()), note: None },
            Event { when: "30/11/2026 10:02".into(), what: t("Yêu cầu bổ sung", "Supplement requested").into(), who: None, note: Some(t("Thiếu bản sao giấy chứng nhận kết hôn.", "The marriage certificate copy is missing.").into()) },
            Event { when: "01/12/2026 09:30".into(), what: t("Đã bổ sung", "Supplemented").into(), who: None, note: None },
        ]))
        h2 { (t("In", "Print")) }
        p { (t("Khi in, đầu trang, điều hướng, biểu mẫu và nút được ẩn; phiếu và giấy tờ in gọn trên khổ A4.", "When printed, the header, navigation, forms and buttons are hidden; slips print cleanly on A4.")) }
    };
    let ctx = crate::pages::PageContext {
        lang,
        title: t("Hệ thống thiết kế", "Design system"),
        caller: None,
        csrf: None,
        path: "/dev/style",
    };
    crate::pages::page(StatusCode::OK, crate::pages::layout(&ctx, body), None, None)
}
