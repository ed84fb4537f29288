//! Server-rendered SVG charts, drawn here (no chart library, no script): horizontal bars, a
//! line over months, and the tile-grid cartogram of the 34 provinces. Every chart is an image
//! with a title (`role="img"`, `aria-labelledby`) and the page puts a table of the same figures
//! beside it; colours come as presentation attributes (the CSP forbids inline styles).

use maud::{Markup, html};

/// The colour of a score out of 100 (or a percentage): the higher, the greener.
pub(crate) fn score_colour(v: Option<f64>) -> &'static str {
    match v {
        None => "#d9d9d9",
        Some(v) if v >= 90.0 => "#1a7f37",
        Some(v) if v >= 80.0 => "#4d9f3a",
        Some(v) if v >= 70.0 => "#b7a30f",
        Some(v) if v >= 50.0 => "#d9822b",
        Some(_) => "#b42318",
    }
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 { format!("{}", v as i64) } else { format!("{v:.2}") }
}

/// Horizontal bars: each item (label, value, maximum of its bar).
pub(crate) fn bars(id: &str, title: &str, items: &[(String, f64, f64)]) -> Markup {
    let (row, label_w, bar_w) = (28.0, 220.0, 320.0);
    let height = row * items.len() as f64 + 8.0;
    let width = label_w + bar_w + 80.0;
    let title_id = format!("{id}-title");
    html! {
        svg id=(id) class="chart" role="img" aria-labelledby=(title_id) viewBox=(format!("0 0 {width} {height}"))
            width=(width) height=(height) xmlns="http://www.w3.org/2000/svg" {
            title id=(title_id) { (title) }
            @for (i, (label, value, max)) in items.iter().enumerate() {
                @let y = 4.0 + row * i as f64;
                @let share = if *max > 0.0 { (value / max).clamp(0.0, 1.0) } else { 0.0 };
                text x=(label_w - 8.0) y=(y + row * 0.62) text-anchor="end" font-size="13" fill="#1b1b1b" { (label) }
                rect x=(label_w) y=(y + 4.0) width=(bar_w) height=(row - 10.0) fill="#eef0f2" {}
                rect x=(label_w) y=(y + 4.0) width=(format!("{:.1}", bar_w * share)) height=(row - 10.0)
                    fill=(score_colour(Some(share * 100.0))) {}
                text x=(label_w + bar_w + 6.0) y=(y + row * 0.62) font-size="13" fill="#1b1b1b" { (fmt(*value)) " / " (fmt(*max)) }
            }
        }
    }
}

/// A line over labelled points (None: no data that month), on a 0..`max` scale.
pub(crate) fn line(id: &str, title: &str, points: &[(String, Option<f64>)], max: f64) -> Markup {
    let (w, h, left, bottom) = (640.0, 220.0, 40.0, 30.0);
    let step = if points.len() > 1 { (w - left - 10.0) / (points.len() - 1) as f64 } else { 0.0 };
    let y_of = |v: f64| 10.0 + (h - bottom - 10.0) * (1.0 - (v / max).clamp(0.0, 1.0));
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| v.map(|v| format!("{:.1},{:.1}", left + step * i as f64, y_of(v))))
        .collect();
    let title_id = format!("{id}-title");
    html! {
        svg id=(id) class="chart" role="img" aria-labelledby=(title_id) viewBox=(format!("0 0 {w} {h}"))
            width=(w) height=(h) xmlns="http://www.w3.org/2000/svg" {
            title id=(title_id) { (title) }
            @for tick in [0.0, 0.5, 1.0] {
                @let y = y_of(max * tick);
                line x1=(left) x2=(w - 10.0) y1=(y) y2=(y) stroke="#d9d9d9" stroke-width="1" {}
                text x=(left - 6.0) y=(y + 4.0) text-anchor="end" font-size="11" fill="#1b1b1b" { (fmt(max * tick)) }
            }
            @if path.len() > 1 {
                polyline points=(path.join(" ")) fill="none" stroke="#9b1c1c" stroke-width="2" {}
            }
            @for (i, (label, v)) in points.iter().enumerate() {
                @let x = left + step * i as f64;
                @if let Some(v) = v { circle cx=(format!("{x:.1}")) cy=(format!("{:.1}", y_of(*v))) r="3" fill="#9b1c1c" {} }
                text x=(format!("{x:.1}")) y=(h - 10.0) text-anchor="middle" font-size="10" fill="#1b1b1b" { (label) }
            }
        }
    }
}

/// The tile grid of the 34 provinces in force since 2025-07-01: (code, short name, row,
/// column), laid out by the project north to south. Hoàng Sa (Đà Nẵng) and Trường Sa (Khánh
/// Hòa) are drawn beside their provinces.
pub(crate) const TILES: &[(&str, &str, u8, u8)] = &[
    ("12", "Lai Châu", 0, 1),
    ("15", "Lào Cai", 0, 2),
    ("08", "Tuyên Quang", 0, 3),
    ("04", "Cao Bằng", 0, 4),
    ("11", "Điện Biên", 1, 0),
    ("14", "Sơn La", 1, 1),
    ("25", "Phú Thọ", 1, 2),
    ("19", "Thái Nguyên", 1, 3),
    ("20", "Lạng Sơn", 1, 4),
    ("01", "Hà Nội", 2, 2),
    ("24", "Bắc Ninh", 2, 3),
    ("22", "Quảng Ninh", 2, 4),
    ("37", "Ninh Bình", 3, 2),
    ("33", "Hưng Yên", 3, 3),
    ("31", "Hải Phòng", 3, 4),
    ("38", "Thanh Hóa", 4, 2),
    ("40", "Nghệ An", 5, 2),
    ("42", "Hà Tĩnh", 6, 3),
    ("44", "Quảng Trị", 7, 3),
    ("46", "Huế", 8, 3),
    ("48", "Đà Nẵng", 9, 4),
    ("51", "Quảng Ngãi", 10, 4),
    ("52", "Gia Lai", 11, 4),
    ("66", "Đắk Lắk", 12, 4),
    ("68", "Lâm Đồng", 13, 3),
    ("56", "Khánh Hòa", 13, 4),
    ("80", "Tây Ninh", 14, 1),
    ("79", "TP. Hồ Chí Minh", 14, 2),
    ("75", "Đồng Nai", 14, 3),
    ("91", "An Giang", 15, 0),
    ("82", "Đồng Tháp", 15, 1),
    ("86", "Vĩnh Long", 15, 2),
    ("96", "Cà Mau", 16, 0),
    ("92", "Cần Thơ", 16, 1),
];

/// The cartogram: each province a tile coloured by its value, linking to `link(code)`.
pub(crate) fn tile_map(
    id: &str,
    title: &str,
    archipelagos: (&str, &str),
    value: impl Fn(&str) -> Option<f64>,
    link: impl Fn(&str) -> String,
) -> Markup {
    let (cell, gap) = (52.0, 4.0);
    let (w, h) = (7.0 * (cell + gap), 17.0 * (cell + gap));
    let title_id = format!("{id}-title");
    html! {
        // A group, not an image: each tile is a link (named by its title) to the province.
        svg id=(id) class="chart tile-map" role="group" aria-labelledby=(title_id) viewBox=(format!("0 0 {w} {h}"))
            width=(w) height=(h) xmlns="http://www.w3.org/2000/svg" {
            title id=(title_id) { (title) }
            @for (code, name, row, col) in TILES {
                @let (x, y) = (f64::from(*col) * (cell + gap), f64::from(*row) * (cell + gap));
                @let v = value(code);
                a href=(link(code)) {
                    rect x=(x) y=(y) width=(cell) height=(cell) rx="4" fill=(score_colour(v)) {}
                    text x=(x + cell / 2.0) y=(y + 20.0) text-anchor="middle" font-size="10" fill="#ffffff" font-weight="bold" { (code) }
                    text x=(x + cell / 2.0) y=(y + 38.0) text-anchor="middle" font-size="12" fill="#ffffff" {
                        (v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into()))
                    }
                    title { (name) ": " (v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into())) }
                }
            }
            // The archipelagos, with the province they belong to.
            @for (label, row) in [(archipelagos.0, 9.0), (archipelagos.1, 13.0)] {
                @let (x, y) = (5.0 * (cell + gap) + 8.0, row * (cell + gap));
                @let (name, owner) = label.split_once(" (").unwrap_or((label, ""));
                rect x=(x) y=(y) width=(2.0 * cell - 8.0) height=(cell) rx="4" fill="none" stroke="#6b6b6b" stroke-dasharray="4 3" {}
                text x=(x + cell - 4.0) y=(y + 22.0) text-anchor="middle" font-size="10" fill="#1b1b1b" { (name) }
                text x=(x + cell - 4.0) y=(y + 38.0) text-anchor="middle" font-size="10" fill="#1b1b1b" { "(" (owner) }
            }
        }
    }
}
