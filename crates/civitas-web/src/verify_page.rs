//! `/verify`: anyone checks a civil-status certificate — by the text its QR code reads, its
//! code, by uploading the certificate PDF (the payload it carries in its document
//! information), or a photo or scan of the paper certificate (its QR code read from the image;
//! on a phone the file field opens the camera) — and is told plainly: valid (with the
//! certificate's facts), superseded, revoked, or not valid.

use axum::Json;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use civitas_services::certificate_issue::{field_label, title};
use civitas_services::verification::Verdict;

use crate::AppState;
use crate::i18n::Lang;
use crate::problem::Problem;

/// The largest file accepted: a certificate PDF is a few tens of KB, a phone's photo a few MB.
pub const MAX_PDF_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Deserialize, Default)]
pub struct VerifyQuery {
    lang: Option<String>,
    payload: Option<String>,
    format: Option<String>,
}

/// What the page says about an upload that could not be checked.
enum Refused {
    NoFile,
    NotACertificate,
    TooLarge,
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<VerifyQuery>) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    let input = q.payload.clone().unwrap_or_default();
    let v = if input.trim().is_empty() { None } else { Some(crate::certificates::verdict(&state, &input).await) };
    if q.format.as_deref() == Some("json") {
        return match v {
            Some(v) => Json(v).into_response(),
            None => Problem::bad_request("missing-payload", "send payload=<the QR text or the certificate code>")
                .into_response(),
        };
    }
    render(&state, &headers, lang, &input, v.as_ref(), None)
}

/// A certificate PDF, or a photo or scan of the paper certificate (PNG, JPEG), uploaded
/// (multipart field `certificate`): its payload or QR code is checked like the QR text.
/// Nothing is stored.
///
/// With `?format=json` (the page's camera scanner sends frames so): `{payload, status}` when a
/// QR code or payload was found, else a 422 problem `no-qr-code` (or 413).
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<VerifyQuery>,
    mp: Multipart,
) -> Response {
    let lang = crate::pages::lang(&headers, q.lang.as_deref());
    // A body declared too large is refused before a byte of it is read.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let read = if declared.is_some_and(|n| n > MAX_PDF_BYTES + 64 * 1024) {
        Err(Refused::TooLarge)
    } else {
        read_pdf(mp).await
    };
    if q.format.as_deref() == Some("json") {
        return match read {
            Ok(bytes) => match civitas_services::verification::payload_of_pdf(&bytes)
                .or_else(|| civitas_services::qr_image::read_qr(&bytes))
            {
                Some(payload) => {
                    let v = crate::certificates::verdict(&state, &payload).await;
                    Json(serde_json::json!({ "payload": payload, "status": v.status })).into_response()
                }
                None => Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no-qr-code",
                    "No QR code found",
                    "no certificate payload or QR code was found in the file",
                )
                .into_response(),
            },
            Err(Refused::TooLarge) => {
                let mut response = Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "File too large",
                    "the file is larger than 8 MB",
                )
                .into_response();
                too_large_closes(&mut response);
                response
            }
            Err(_) => {
                Problem::bad_request("missing-file", "send the image or PDF as the multipart field `certificate`")
                    .into_response()
            }
        };
    }
    match read {
        Ok(bytes) => match civitas_services::verification::payload_of_pdf(&bytes)
            .or_else(|| civitas_services::qr_image::read_qr(&bytes))
        {
            Some(payload) => {
                let v = crate::certificates::verdict(&state, &payload).await;
                render(&state, &headers, lang, &payload, Some(&v), None)
            }
            None => render(&state, &headers, lang, "", None, Some(Refused::NotACertificate)),
        },
        Err(refused) => render(&state, &headers, lang, "", None, Some(refused)),
    }
}

async fn read_pdf(mut mp: Multipart) -> Result<Vec<u8>, Refused> {
    while let Ok(Some(mut field)) = mp.next_field().await {
        if field.name() != Some("certificate") {
            continue;
        }
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() <= MAX_PDF_BYTES => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                // Over the size, or cut off by the request's body limit.
                Ok(Some(_)) | Err(_) => return Err(Refused::TooLarge),
            }
        }
        return if bytes.is_empty() { Err(Refused::NoFile) } else { Ok(bytes) };
    }
    Err(Refused::NoFile)
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    input: &str,
    v: Option<&Verdict>,
    refused: Option<Refused>,
) -> Response {
    let tr = |vi: &'static str, en: &'static str| if lang == Lang::En { en } else { vi };
    let title_text = tr("Kiểm tra giấy tờ hộ tịch", "Verify a civil-status certificate");
    let refusal = refused.as_ref().map(|r| match r {
        Refused::NoFile => tr("Chọn tệp PDF hoặc ảnh chụp của giấy tờ.", "Choose the certificate's PDF or a photo of it."),
        Refused::NotACertificate => tr(
            "Tệp này không phải bản điện tử của giấy tờ hộ tịch do hệ thống cấp, và không đọc được mã QR trong đó. Nếu là ảnh chụp, hãy chụp lại rõ mã QR.",
            "This file is not an electronic certificate issued by this system, and no QR code could be read in it. For a photo, take it again with the QR code sharp.",
        ),
        Refused::TooLarge => tr("Tệp quá lớn (tối đa 8 MB).", "The file is too large (at most 8 MB)."),
    });
    let body = html! {
        h1 { (title_text) }
        @if let Some(why) = refusal {
            div class="error-summary" role="alert" tabindex="-1" {
                h2 { (tr("Chưa kiểm tra được", "Not checked")) }
                ul { li { a href="#certificate" { (why) } } }
            }
        }
        section id="camera" class="camera" hidden
            data-opening=(tr("Đang mở camera…", "Opening the camera…"))
            data-looking=(tr("Đưa mã QR trên giấy tờ vào khung hình.", "Hold the certificate's QR code in the frame."))
            data-hint=(tr("Chưa đọc được mã: đưa camera lại gần, giữ yên và đủ sáng.", "No code read yet: move closer, hold still, with enough light."))
            data-found=(tr("Đã đọc mã QR, đang kiểm tra…", "QR code read, checking…"))
            data-denied=(tr("Không mở được camera. Hãy cho phép dùng camera, hoặc tải ảnh hay tệp PDF lên bên dưới.", "The camera could not be opened. Allow the camera, or upload a photo or the PDF below.")) {
            h2 { (tr("Quét mã QR bằng camera", "Scan the QR code with the camera")) }
            button type="button" id="camera-start" class="button" { (tr("Mở camera", "Open the camera")) }
            video id="camera-video" hidden muted playsinline aria-label=(tr("Hình từ camera", "Camera picture")) {}
            p id="camera-status" role="status" aria-live="polite" {}
        }
        form method="get" action="/verify" {
            (crate::ui::field("payload", "payload", html! { (tr("Nội dung mã QR, mã chứng nhận hoặc mã kết quả giải quyết", "The QR text, the certificate code or a result's document code")) }, None, None, html! {
                textarea id="payload" name="payload" rows="4" { (input) }
            }))
            (crate::ui::button(crate::ui::ButtonKind::Primary, tr("Kiểm tra", "Verify"), None))
        }
        form method="post" action="/verify" enctype="multipart/form-data" {
            (crate::ui::field(
                "certificate",
                "certificate",
                html! { (tr("Hoặc tải lên bản PDF của giấy tờ, hay ảnh chụp mã QR trên giấy tờ", "Or upload the certificate's PDF, or a photo of the QR code on the paper")) },
                Some(tr(
                    "Trên điện thoại, chọn máy ảnh và chụp gần, rõ mã QR (mã chiếm phần lớn khung hình).",
                    "On a phone, choose the camera and photograph the QR code close up and sharp (the code filling most of the picture).",
                )),
                refusal,
                html! {
                    input type="file" id="certificate" name="certificate" accept="application/pdf,image/png,image/jpeg"
                        aria-describedby=(crate::ui::described_by("certificate", true, refusal.is_some()).unwrap_or_default());
                },
            ))
            (crate::ui::button(crate::ui::ButtonKind::Secondary, tr("Kiểm tra tệp", "Check the file"), None))
        }
        @if let Some(v) = v { (verdict_box(lang, v)) }
    };
    let (csrf, fresh) = crate::pages::csrf_of(state, headers);
    let ctx = crate::pages::PageContext { lang, title: title_text, caller: None, csrf: None, path: "/verify" };
    let status = match (v, &refused) {
        (_, Some(Refused::TooLarge)) => StatusCode::PAYLOAD_TOO_LARGE,
        (_, Some(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        (Some(v), _) if v.status == "invalid" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let mut response =
        crate::pages::page(status, crate::pages::layout(&ctx, body), None, fresh.then_some((csrf.as_str(), state)));
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        too_large_closes(&mut response);
    }
    response
}

/// The rest of a too large upload is not read: the connection is closed after the answer, so
/// that a client does not send its next request on a connection the server will drop.
fn too_large_closes(response: &mut Response) {
    response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
}

fn verdict_box(lang: Lang, v: &Verdict) -> Markup {
    let tr = |vi: &'static str, en: &'static str| if lang == Lang::En { en } else { vi };
    html! {
            (crate::ui::banner(
                match v.status.as_str() { "valid" => crate::ui::Tone::Success, "superseded" | "unknown" => crate::ui::Tone::Warning, _ => crate::ui::Tone::Danger },
                Some("verdict"),
                None,
                html! {
                    h2 { (match v.status.as_str() {
                        "valid" => tr("Hợp lệ", "Valid"),
                        "superseded" => tr("Đã được thay thế bằng bản cải chính", "Superseded by a correction"),
                        "revoked" => tr("Đã bị thu hồi", "Revoked"),
                        "unknown" => tr("Chữ ký đúng nhưng không có trong danh sách", "Signature good, but not listed"),
                        _ => tr("Không hợp lệ", "Not valid"),
                    }) }
                    p { (v.reason) }
                },
            ))
            @if let Some(c) = &v.claims {
                (crate::ui::summary_list(
    None,                 &[(tr("Loại", "Kind"), html! { (title(&c.typ)) }), (tr("Số đăng ký", "Registration number"), html! { (c.no) })]
                        .into_iter()
                        .chain(c.f.iter().map(|(k, val)| (field_label(k), html! { (lang.day(val)) })))
                        .collect::<Vec<_>>(),
                ))
            }
        }
}
