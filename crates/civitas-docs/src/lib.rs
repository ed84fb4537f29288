//! Printable documents: A4 PDFs with a title, labelled fields, paragraphs and a QR code, in
//! DejaVu Sans (embedded as a subset, so Vietnamese text is drawn with the right glyphs and is
//! extractable: every glyph maps back to its character).

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use qrcode::{Color, EcLevel, QrCode};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("the embedded font cannot be read")]
    Font,
    #[error("the QR payload is too long for a QR code")]
    QrTooLong,
}

/// One block of a document, laid out top to bottom.
#[derive(Debug, Clone)]
pub enum Block {
    /// Centered, bold, large.
    Title(String),
    /// Centered, regular (e.g. the national motto or the issuing body).
    Centered(String),
    /// A bold label and its value on the same line, wrapped.
    Field(String, String),
    /// A paragraph, wrapped.
    Text(String),
    /// Vertical space in points.
    Gap(f32),
}

/// A document: blocks, an optional QR payload drawn at the top right of the first page, and
/// a small footer line on every page.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
    pub qr: Option<String>,
    pub footer: String,
    /// Written as the document's `Subject` (e.g. the signed payload the QR carries, so a tool
    /// can read it without decoding the image).
    pub subject: Option<String>,
}

struct FontUse {
    face_data: &'static [u8],
    /// Original glyph id → (subset glyph id, character, advance in 1/1000 em).
    glyphs: BTreeMap<u16, (u16, char, f32)>,
    remapper: subsetter::GlyphRemapper,
}

impl FontUse {
    fn new(face_data: &'static [u8]) -> Self {
        FontUse { face_data, glyphs: BTreeMap::new(), remapper: subsetter::GlyphRemapper::new() }
    }
}

struct Fonts {
    faces: [ttf_parser::Face<'static>; 2],
    uses: [FontUse; 2],
}

impl Fonts {
    fn new() -> Result<Self, DocError> {
        let regular = ttf_parser::Face::parse(REGULAR, 0).map_err(|_| DocError::Font)?;
        let bold = ttf_parser::Face::parse(BOLD, 0).map_err(|_| DocError::Font)?;
        let mut uses = [FontUse::new(REGULAR), FontUse::new(BOLD)];
        // Glyph 0 (.notdef) must stay glyph 0 in the subset.
        for u in &mut uses {
            u.remapper.remap(0);
        }
        Ok(Fonts { faces: [regular, bold], uses })
    }

    fn advance(&self, font: usize, c: char) -> f32 {
        let face = &self.faces[font];
        let units = f32::from(face.units_per_em());
        let gid = face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
        f32::from(face.glyph_hor_advance(gid).unwrap_or(0)) * 1000.0 / units
    }

    fn width(&self, font: usize, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(font, c)).sum::<f32>() * size / 1000.0
    }

    /// The string of 2-byte subset glyph ids that draws `text`.
    fn encode(&mut self, font: usize, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let advance = self.advance(font, c);
            let gid = self.faces[font].glyph_index(c).map(|g| g.0).unwrap_or(0);
            let u = &mut self.uses[font];
            let new = u.remapper.remap(gid);
            u.glyphs.entry(gid).or_insert((new, c, advance));
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }
}

/// Splits `text` into lines no wider than `max` points.
fn wrap(fonts: &Fonts, font: usize, text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if fonts.width(font, &candidate, size) <= max || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_owned();
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

struct Writer {
    fonts: Fonts,
    pages: Vec<Content>,
    y: f32,
}

impl Writer {
    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn need(&mut self, height: f32) {
        if self.y - height < MARGIN + 20.0 {
            self.pages.push(Content::new());
            self.y = PAGE_H - MARGIN;
        }
    }

    fn text_at(&mut self, font: usize, size: f32, x: f32, y: f32, text: &str) {
        let glyphs = self.fonts.encode(font, text);
        let name = if font == 0 { Name(b"F0") } else { Name(b"F1") };
        let page = self.page();
        page.begin_text();
        page.set_font(name, size);
        page.next_line(x, y);
        page.show(Str(&glyphs));
        page.end_text();
    }

    fn line(&mut self, font: usize, size: f32, x: f32, text: &str) {
        let leading = size * 1.45;
        self.need(leading);
        self.y -= leading;
        let y = self.y;
        self.text_at(font, size, x, y, text);
    }
}

/// Renders the QR code of `payload` as filled squares with its top-left corner at (x, top).
fn draw_qr(content: &mut Content, payload: &str, x: f32, top: f32, size: f32) -> Result<(), DocError> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).map_err(|_| DocError::QrTooLong)?;
    let width = code.width();
    let quiet = 4usize;
    let module = size / (width + 2 * quiet) as f32;
    content.set_fill_rgb(1.0, 1.0, 1.0);
    content.rect(x, top - size, size, size);
    content.fill_nonzero();
    content.set_fill_rgb(0.0, 0.0, 0.0);
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (col, row) = (i % width, i / width);
            let left = x + (col + quiet) as f32 * module;
            let y = top - (row + quiet + 1) as f32 * module;
            content.rect(left, y, module, module);
        }
    }
    content.fill_nonzero();
    Ok(())
}

/// Lays the document out and writes the PDF bytes.
pub fn render(doc: &Document) -> Result<Vec<u8>, DocError> {
    let mut w = Writer { fonts: Fonts::new()?, pages: vec![Content::new()], y: PAGE_H - MARGIN };
    let text_width = PAGE_W - 2.0 * MARGIN;
    let qr_size = 120.0;
    if let Some(payload) = &doc.qr {
        draw_qr(w.page(), payload, PAGE_W - MARGIN - qr_size, PAGE_H - MARGIN + 20.0, qr_size)?;
    }
    // Text beside the QR code must not run under it.
    let qr_bottom = if doc.qr.is_some() { PAGE_H - MARGIN + 20.0 - qr_size } else { PAGE_H };
    for block in &doc.blocks {
        let avail = |y: f32| if y > qr_bottom { text_width - qr_size - 10.0 } else { text_width };
        match block {
            Block::Title(t) | Block::Centered(t) => {
                let (font, size) = if matches!(block, Block::Title(_)) { (1, 15.0) } else { (0, 11.0) };
                for l in wrap(&w.fonts, font, t, size, avail(w.y)) {
                    let width = w.fonts.width(font, &l, size);
                    let space = avail(w.y);
                    w.line(font, size, MARGIN + (space - width).max(0.0) / 2.0, &l);
                }
            }
            Block::Field(label, value) => {
                let size = 11.0;
                let label = format!("{label}: ");
                let label_w = w.fonts.width(1, &label, size);
                let lines = wrap(&w.fonts, 0, value, size, (avail(w.y) - label_w).max(80.0));
                for (i, l) in lines.iter().enumerate() {
                    if i == 0 {
                        w.line(1, size, MARGIN, &label);
                        let y = w.y;
                        w.text_at(0, size, MARGIN + label_w, y, l);
                    } else {
                        w.line(0, size, MARGIN + label_w, l);
                    }
                }
            }
            Block::Text(t) => {
                for l in wrap(&w.fonts, 0, t, 11.0, avail(w.y)) {
                    w.line(0, 11.0, MARGIN, &l);
                }
            }
            Block::Gap(h) => {
                w.need(*h);
                w.y -= h;
            }
        }
    }
    let count = w.pages.len();
    for i in 0..count {
        let footer = format!("{} · {}/{}", doc.footer, i + 1, count);
        let glyphs = w.fonts.encode(0, &footer);
        let c = &mut w.pages[i];
        c.begin_text();
        c.set_font(Name(b"F0"), 8.0);
        c.next_line(MARGIN, MARGIN - 20.0);
        c.show(Str(&glyphs));
        c.end_text();
    }
    write_pdf(doc, w)
}

fn write_pdf(doc: &Document, w: Writer) -> Result<Vec<u8>, DocError> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let font_refs: Vec<[Ref; 5]> = (0..2).map(|_| [alloc(), alloc(), alloc(), alloc(), alloc()]).collect();
    let page_refs: Vec<(Ref, Ref)> = w.pages.iter().map(|_| (alloc(), alloc())).collect();

    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_refs.iter().map(|(p, _)| *p)).count(page_refs.len() as i32);
    let mut document_info = pdf.document_info(info);
    document_info.title(pdf_writer::TextStr(&doc.title)).producer(pdf_writer::TextStr("civitas"));
    if let Some(subject) = &doc.subject {
        document_info.subject(pdf_writer::TextStr(subject));
    }
    document_info.finish();

    for ((page_id, content_id), content) in page_refs.iter().zip(w.pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(*content_id);
        page.resources().fonts().pair(Name(b"F0"), font_refs[0][0]).pair(Name(b"F1"), font_refs[1][0]);
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }

    for (index, (u, face)) in w.fonts.uses.iter().zip(w.fonts.faces.iter()).enumerate() {
        let [type0, cid, descriptor, cmap, file] = font_refs[index];
        let base = if index == 0 { Name(b"CVTAAA+DejaVuSans") } else { Name(b"CVTAAB+DejaVuSans-Bold") };
        pdf.type0_font(type0)
            .base_font(base)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let system = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
        let mut cid_font = pdf.cid_font(cid);
        cid_font.subtype(CidFontType::Type2).base_font(base).system_info(system).font_descriptor(descriptor);
        cid_font.default_width(0.0).cid_to_gid_map_predefined(Name(b"Identity"));
        let mut widths = cid_font.widths();
        for (new, _, advance) in u.glyphs.values() {
            widths.consecutive(*new, [*advance]);
        }
        widths.finish();
        cid_font.finish();

        let units = f32::from(face.units_per_em());
        let scale = |v: i16| f32::from(v) * 1000.0 / units;
        let bbox = face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(base)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)))
            .italic_angle(0.0)
            .ascent(scale(face.ascender()))
            .descent(scale(face.descender()))
            .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
            .stem_v(if index == 0 { 80.0 } else { 140.0 })
            .font_file2(file);

        let mut unicode = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), system);
        for (new, c, _) in u.glyphs.values() {
            unicode.pair(*new, *c);
        }
        pdf.cmap(cmap, &unicode.finish());

        let subset = subsetter::subset(u.face_data, 0, &u.remapper).map_err(|_| DocError::Font)?;
        let compressed = compress(&subset);
        let mut stream = pdf.stream(file, &compressed);
        stream.filter(Filter::FlateDecode);
        stream.pair(Name(b"Length1"), subset.len() as i32);
        stream.finish();
    }
    Ok(pdf.finish())
}

/// Stored (uncompressed) zlib blocks: valid FlateDecode without a compressor dependency; the
/// font subsets are small.
fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65_535).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        Document {
            title: "Giấy tiếp nhận hồ sơ".into(),
            blocks: vec![
                Block::Centered("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM".into()),
                Block::Title("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ".into()),
                Block::Field("Họ và tên".into(), "Nguyễn Thị Thuỷ Tiên".into()),
                Block::Text("Đăng ký thường trú — ngày hẹn trả kết quả: 08/12/2026. ".repeat(30)),
            ],
            qr: Some("H15.50.05.13-261127-0001|DVC-03|001090123456".into()),
            footer: "civitas".into(),
            subject: None,
        }
    }

    #[test]
    fn writes_a_pdf_with_a_font_subset() {
        let bytes = render(&sample()).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.len() < 120_000, "the fonts are subset: {} bytes", bytes.len());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/FontFile2") && text.contains("/ToUnicode"));
    }

    /// With poppler installed (the test set-up installs it), the Vietnamese text comes back out.
    #[test]
    fn text_is_extractable_when_poppler_is_installed() {
        let Ok(out) = std::process::Command::new("pdftotext").arg("-v").output() else {
            eprintln!("pdftotext not installed: extraction not checked here (the API tests check it)");
            return;
        };
        let _ = out;
        let dir = std::env::temp_dir().join(format!("civitas-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("slip.pdf");
        std::fs::write(&file, render(&sample()).unwrap()).unwrap();
        let out = std::process::Command::new("pdftotext").arg(&file).arg("-").output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Nguyễn Thị Thuỷ Tiên"), "{text}");
        assert!(text.contains("GIẤY TIẾP NHẬN HỒ SƠ"), "{text}");
    }

    #[test]
    fn stored_deflate_is_valid_zlib() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let z = compress(&data);
        assert_eq!(z.len(), data.len() + 2 + 4 + 5 * data.len().div_ceil(65_535));
    }
}
