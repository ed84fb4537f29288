//! The text of a QR code in a photo or a scan (PNG or JPEG): what `/verify` reads when a
//! person photographs a paper certificate with a phone's camera.

/// The largest image accepted, in pixels (a 48-megapixel photo); anything larger is refused
/// before it is decoded.
const MAX_SIDE: usize = 8_000;

/// Images are searched at most this wide/high; a larger photo is sampled down first.
const SEARCH_SIDE: usize = 4_096;

/// The text of the first QR code found in `bytes` (PNG or JPEG), or `None`.
pub fn read_qr(bytes: &[u8]) -> Option<String> {
    let (width, height, luma) = if bytes.starts_with(b"\x89PNG") {
        png_luma(bytes)?
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_luma(bytes)?
    } else {
        return None;
    };
    if width == 0 || height == 0 || luma.len() < width * height {
        return None;
    }
    // The decoder's finder-pattern search misses some sharp, large codes and some soft camera
    // frames at one scale and finds them at another: try the image as it is (at most 4,096 px),
    // then sampled at half and a third.
    let first = width.max(height).div_ceil(SEARCH_SIDE).max(1);
    [first, first * 2, first * 3].into_iter().find_map(|step| {
        let (w, h) = (width / step, height / step);
        if w < 21 || h < 21 {
            return None;
        }
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * step * width + x * step]);
        image.detect_grids().into_iter().find_map(|grid| grid.decode().ok().map(|(_, text)| text))
    })
}

fn png_luma(bytes: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let limits = png::Limits { bytes: MAX_SIDE * MAX_SIDE * 4 };
    let mut decoder = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let (width, height) = (info.width as usize, info.height as usize);
    if width > MAX_SIDE || height > MAX_SIDE {
        return None;
    }
    let channels = info.color_type.samples();
    let luma = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|px| match px {
            [r, g, b, ..] => ((u32::from(*r) * 299 + u32::from(*g) * 587 + u32::from(*b) * 114) / 1000) as u8,
            [v, ..] => *v,
            [] => 0,
        })
        .collect();
    Some((width, height, luma))
}

fn jpeg_luma(bytes: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let options = zune_core::options::DecoderOptions::default()
        .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::Luma)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options);
    let luma = decoder.decode().ok()?;
    let info = decoder.info()?;
    Some((usize::from(info.width), usize::from(info.height), luma))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate PDF printed and photographed close up: its top right quarter rendered by
    /// poppler at 600 dpi to PNG and JPEG, the QR code reads back as its payload — one as long
    /// and as dense as a real signed certificate's (version 19). A photo of the whole A4 page
    /// (about 300 dpi) is not reliably read by this decoder: the page tells people to photograph
    /// the code itself.
    #[test]
    fn reads_the_qr_of_a_rendered_certificate() {
        if std::process::Command::new("pdftoppm").arg("-v").output().is_err() {
            assert!(std::env::var("CI").is_err(), "CI needs poppler-utils (scripts/setup-test-env)");
            eprintln!("SKIPPED: pdftoppm not installed");
            return;
        }
        let claims = crate::certificate_issue::CertClaims {
            iss: "http://127.0.0.1:8080".into(),
            id: "c-test".into(),
            typ: "birth".into(),
            no: "12/2026".into(),
            reg: "00004".into(),
            iat: 1_796_000_000,
            f: [("n", "Nguyễn Thị Hoa"), ("b", "2026-11-26"), ("s", "female"), ("m", "Trần Thị Bình")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        // A payload as long as a real ES256 JWS of such claims.
        // Base64url text of a real certificate's length (584 characters): byte mode, version 19.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let body: String =
            (0..480u32).map(|i| alphabet[(i.wrapping_mul(2_654_435_761) >> 7) as usize % 64] as char).collect();
        let payload = format!("eyJhbGciOiJFUzI1NiIsInR5cCI6ImNpdmlsK2p3dCJ9.{body}.{}", "s".repeat(58));
        let pdf = crate::papers::certificate(&claims, &payload).expect("pdf");
        let dir = std::env::temp_dir().join(format!("civitas-qr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("c.pdf"), &pdf).expect("write");
        for (flag, ext) in [("-png", "png"), ("-jpeg", "jpg")] {
            let ok = std::process::Command::new("pdftoppm")
                // A close-up of the QR code (600 dpi of the page's top right quarter), as a
                // phone held over the code photographs it.
                .args([
                    "-r",
                    "600",
                    "-x",
                    "2480",
                    "-y",
                    "0",
                    "-W",
                    "2480",
                    "-H",
                    "1754",
                    flag,
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                ])
                .arg(dir.join("c.pdf"))
                .arg(dir.join("page"))
                .status()
                .expect("pdftoppm");
            assert!(ok.success());
            let image = std::fs::read(dir.join(format!("page.{ext}"))).expect("image");
            assert_eq!(read_qr(&image).as_deref(), Some(payload.as_str()), "{ext}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(read_qr(b"GIF89a"), None);
        assert_eq!(read_qr(b"\x89PNG\r\n\x1a\n broken"), None);
    }
}
