//! Vietnamese text: NFC normalization for storage and diacritic folding for search.
//!
//! Folding maps every spelling a person may type to one key: NFC or NFD input, with or without
//! diacritics, old-style (`hoà`) or new-style (`hòa`) tone placement, `đ`/`Đ` as `d`, any case,
//! any run of whitespace.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// NFC-normalizes and trims `s`, collapsing inner whitespace runs to one space.
pub fn nfc(s: &str) -> String {
    // Most text already is NFC with single spaces: checked quickly, copied once.
    let single_spaced = !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.contains("  ")
        && !s.contains(|c: char| c.is_whitespace() && c != ' ');
    if single_spaced && unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.nfc());
    }
    out
}

/// Folds `s` for search: lowercase ASCII letters and digits, words separated by one space.
/// Characters refused in free text: controls other than tab and line breaks (NUL breaks
/// PostgreSQL text), and the bidirectional formatting characters that make text read
/// differently from how it is stored.
pub fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

/// Free text as stored: NFC, trimmed; `None` when it holds an [`is_unsafe_char`].
pub fn clean_free_text(s: &str) -> Option<String> {
    let text = nfc(s.trim());
    (!text.chars().any(is_unsafe_char)).then_some(text)
}

pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_whitespace() || c == '-' || c == ',' || c == '.' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The folded words of `s`.
pub fn tokens(s: &str) -> Vec<String> {
    fold(s).split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// Whether `a` and `b` are at most one edit apart (insert, delete, substitute, or swap of two
/// adjacent characters). Used for typo-tolerant matching of folded name parts.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if la == lb {
        let rest_equal = |skip: usize| a[prefix + skip..] == b[prefix + skip..];
        // substitution
        if rest_equal(1) {
            return true;
        }
        // transposition
        return prefix + 1 < la && a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix] && rest_equal(2);
    }
    let (long, short) = if la > lb { (&a, &b) } else { (&b, &a) };
    long[prefix + 1..] == short[prefix..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds_diacritics_and_d() {
        assert_eq!(fold("Nguyễn Văn Đức"), "nguyen van duc");
        assert_eq!(fold("  ĐẶNG   thị  Hoà "), "dang thi hoa");
    }

    #[test]
    fn old_and_new_tone_placement_fold_equal() {
        assert_eq!(fold("hoà"), fold("hòa"));
        assert_eq!(fold("Thuỷ"), fold("Thủy"));
    }

    #[test]
    fn nfd_and_nfc_fold_and_normalize_equal() {
        let nfd: String = "Nguyễn Thị Ánh".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị Ánh");
        assert_eq!(nfc(&nfd), "Nguyễn Thị Ánh");
        assert_eq!(fold(&nfd), fold("Nguyễn Thị Ánh"));
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit("nguyen", "nguyen"));
        assert!(within_one_edit("nguyen", "nguyne"));
        assert!(within_one_edit("nguyen", "ngyen"));
        assert!(within_one_edit("nguyen", "nguyenn"));
        assert!(within_one_edit("nguyen", "nguyan"));
        assert!(!within_one_edit("nguyen", "ngyan"));
        assert!(!within_one_edit("an", "anhh"));
    }

    proptest! {
        #[test]
        fn fold_is_idempotent(s in "\\PC{0,40}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
        }

        #[test]
        fn nfc_is_idempotent(s in "\\PC{0,40}") {
            let once = nfc(&s);
            prop_assert_eq!(nfc(&once), once.clone());
        }

        #[test]
        fn every_single_deletion_is_one_edit(s in "[a-z]{1,12}", i in 0usize..12) {
            let i = i % s.len();
            let mut t = s.clone();
            t.remove(i);
            prop_assert!(within_one_edit(&s, &t));
            prop_assert!(within_one_edit(&t, &s));
        }
    }
}

/// Whether every letter of `s` is of the Latin script Vietnamese is written in (basic Latin,
/// Latin-1, Latin Extended A/B, Latin Extended Additional, combining marks): a Cyrillic "А"
/// among Latin letters looks the same and escapes search and duplicate checks.
pub fn is_latin_text(s: &str) -> bool {
    s.chars().filter(|c| c.is_alphabetic()).all(|c| {
        matches!(c as u32, 0x0041..=0x024F | 0x1E00..=0x1EFF | 0x0300..=0x036F) && !matches!(c as u32, 0x00D7 | 0x00F7)
    })
}

#[cfg(test)]
mod script_tests {
    use super::*;

    #[test]
    fn mixed_scripts_and_unsafe_characters() {
        assert!(is_latin_text("Nguyễn Văn An"));
        assert!(is_latin_text("Đặng Thị Ánh Tuyết"));
        assert!(!is_latin_text("Nguyễn Văn \u{0410}n"), "Cyrillic A");
        assert!(!is_latin_text("Νguyễn"), "Greek Nu");
        assert!(is_unsafe_char('\0') && is_unsafe_char('\u{202E}') && is_unsafe_char('\u{2066}'));
        assert!(!is_unsafe_char('\n') && !is_unsafe_char('ễ'));
        assert_eq!(clean_free_text(" a\u{202E}b "), None);
        assert_eq!(clean_free_text(" Số 5 phố Đội Cấn ").as_deref(), Some("Số 5 phố Đội Cấn"));
    }
}
