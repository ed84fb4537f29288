//! Administrative units: the 2025 catalogue (34 provinces, 3,321 communes, two tiers), the
//! pre-2025 catalogue (63 provinces, districts, 10,051 communes) and the old-to-new mapping.
//!
//! The data is embedded in the binary (`data/*.csv`, Decision 19/2025/QĐ-TTg codes) and parsed
//! once on first use.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::{fold, nfc};

const UNITS_2025: &str = include_str!("../data/units-2025.csv");
const UNITS_2024: &str = include_str!("../data/units-2024.csv");
const MAPPING: &str = include_str!("../data/mapping-2024-to-2025.csv");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("a province code has 2 digits, got {0:?}")]
    ProvinceFormat(String),
    #[error("no province has code {0}")]
    UnknownProvince(String),
    #[error("a commune code has 5 digits, got {0:?}")]
    CommuneFormat(String),
    #[error("no commune in force since 2025-07-01 has code {0}")]
    UnknownCommune(String),
    #[error("no pre-2025 commune has code {0}")]
    UnknownOldCommune(String),
    #[error("an administrative unit is a 2-digit province or a 5-digit commune code, got {0:?}")]
    UnitFormat(String),
}

#[derive(Debug, Clone)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub folded: String,
}

#[derive(Debug, Clone)]
pub struct Commune {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub province_code: String,
    pub folded: String,
}

/// One suggestion of [`AdminUnits::suggest_communes`].
#[derive(Debug, Clone)]
pub enum Suggestion<'a> {
    /// A commune as it is named today.
    Current(&'a Commune),
    /// A commune as it was named before the 2025 reorganisation, and the commune(s) it became:
    /// several when it was split (the address decides which).
    Old { old: &'a OldCommune, now: Vec<&'a Commune> },
}

#[derive(Debug, Clone)]
pub struct OldCommune {
    pub code: String,
    pub name: String,
    pub district_code: String,
    pub district_name: String,
    pub province_code: String,
    pub province_name: String,
}

/// The whole catalogue. Get it with [`AdminUnits::get`].
pub struct AdminUnits {
    provinces: Vec<Province>,
    communes: Vec<Commune>,
    commune_index: HashMap<String, usize>,
    old_provinces: HashMap<String, String>,
    old_communes: HashMap<String, OldCommune>,
    old_to_new: HashMap<String, Vec<String>>,
}

static CATALOGUE: LazyLock<AdminUnits> = LazyLock::new(AdminUnits::load);

fn rows(csv: &str) -> impl Iterator<Item = Vec<&str>> {
    csv.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split(',').map(str::trim).collect())
}

impl AdminUnits {
    pub fn get() -> &'static AdminUnits {
        &CATALOGUE
    }

    fn load() -> Self {
        let mut provinces: Vec<Province> = Vec::new();
        let mut communes = Vec::new();
        for r in rows(UNITS_2025).filter(|r| r.len() == 6) {
            if provinces.last().is_none_or(|p| p.code != r[0]) && !provinces.iter().any(|p| p.code == r[0]) {
                provinces.push(Province { code: r[0].into(), name: nfc(r[1]), kind: nfc(r[2]), folded: fold(r[1]) });
            }
            communes.push(Commune {
                code: r[3].into(),
                name: nfc(r[4]),
                kind: nfc(r[5]),
                province_code: r[0].into(),
                folded: fold(r[4]),
            });
        }
        provinces.sort_by(|a, b| a.code.cmp(&b.code));
        let commune_index = communes.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect();
        let mut old_provinces = HashMap::new();
        let mut old_communes = HashMap::new();
        for r in rows(UNITS_2024).filter(|r| r.len() == 6) {
            old_provinces.entry(r[0].to_owned()).or_insert_with(|| nfc(r[1]));
            old_communes.insert(
                r[4].to_owned(),
                OldCommune {
                    code: r[4].into(),
                    name: nfc(r[5]),
                    district_code: r[2].into(),
                    district_name: nfc(r[3]),
                    province_code: r[0].into(),
                    province_name: nfc(r[1]),
                },
            );
        }
        let mut old_to_new: HashMap<String, Vec<String>> = HashMap::new();
        for r in rows(MAPPING).filter(|r| r.len() == 10 && !r[2].is_empty() && !r[7].is_empty()) {
            let entry = old_to_new.entry(r[2].to_owned()).or_default();
            if !entry.iter().any(|c| c == r[7]) {
                entry.push(r[7].to_owned());
            }
        }
        AdminUnits { provinces, communes, commune_index, old_provinces, old_communes, old_to_new }
    }

    pub fn provinces(&self) -> &[Province] {
        &self.provinces
    }
    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.code == code)
    }
    pub fn commune(&self, code: &str) -> Option<&Commune> {
        self.commune_index.get(code).map(|&i| &self.communes[i])
    }
    pub fn communes_of<'a>(&'a self, province: &'a str) -> impl Iterator<Item = &'a Commune> + 'a {
        self.communes.iter().filter(move |c| c.province_code == province)
    }
    pub fn communes(&self) -> &[Commune] {
        &self.communes
    }
    /// Name of a pre-2025 province (63 of them), by 2-digit code.
    pub fn old_province_name(&self, code: &str) -> Option<&str> {
        self.old_provinces.get(code).map(String::as_str)
    }
    pub fn old_commune(&self, code: &str) -> Option<&OldCommune> {
        self.old_communes.get(code)
    }

    /// 2025 communes whose folded name contains every folded word of `query`, optionally within
    /// one province; exact name matches first.
    pub fn find_communes(&self, query: &str, province: Option<&str>) -> Vec<&Commune> {
        let q = fold(query);
        let words: Vec<&str> = q.split(' ').filter(|w| !w.is_empty()).collect();
        let mut hits: Vec<&Commune> = self
            .communes
            .iter()
            .filter(|c| province.is_none_or(|p| c.province_code == p))
            .filter(|c| words.iter().all(|w| c.folded.split(' ').any(|cw| cw == *w)))
            .collect();
        hits.sort_by_key(|c| (!c.folded.ends_with(&q), c.folded.len()));
        hits
    }

    /// The one 2025 commune `text` names — a 5-digit code, or a name typed by a person (with or
    /// without diacritics, with or without "xã"/"phường"), optionally within one province.
    /// `Err` holds the candidates: none (not found) or several (choose the province, or be
    /// more precise).
    pub fn resolve_commune(&self, text: &str, province: Option<&str>) -> Result<&Commune, Vec<&Commune>> {
        let text = text.trim();
        if text.len() == 5 && text.bytes().all(|b| b.is_ascii_digit()) {
            return self.commune(text).filter(|c| province.is_none_or(|p| c.province_code == p)).ok_or_else(Vec::new);
        }
        let q = fold(text);
        if q.is_empty() {
            return Err(Vec::new());
        }
        let hits = self.find_communes(text, province);
        let named: Vec<&Commune> =
            hits.iter().copied().filter(|c| c.folded == q || c.folded.ends_with(&format!(" {q}"))).collect();
        match (named.as_slice(), hits.as_slice()) {
            ([one], _) | ([], [one]) => Ok(one),
            ([], _) => Err(hits),
            _ => Err(named),
        }
    }

    /// The 2025 commune(s) a pre-2025 commune became: one when it moved whole, several when it
    /// was split (the caller must choose with the street address).
    pub fn convert_old_commune(&self, old_code: &str) -> Result<Vec<&Commune>, UnitError> {
        if !self.old_communes.contains_key(old_code) {
            return Err(UnitError::UnknownOldCommune(old_code.to_owned()));
        }
        Ok(self
            .old_to_new
            .get(old_code)
            .map(|codes| codes.iter().filter_map(|c| self.commune(c)).collect())
            .unwrap_or_default())
    }

    /// The 2025 communes that pre-2025 communes of the name `text` became (the name as people
    /// write it, with or without "xã"/"phường"), within the 2025 province `province` when
    /// given: one when the old commune moved whole, several when it was split or the name is
    /// shared.
    pub fn communes_from_old_name(&self, text: &str, province: Option<&str>) -> Vec<&Commune> {
        let strip = |s: &str| -> String {
            let s = fold(s);
            ["phuong ", "xa ", "thi tran "].iter().find_map(|p| s.strip_prefix(p).map(str::to_owned)).unwrap_or(s)
        };
        let wanted = strip(text);
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<&Commune> = self
            .old_communes
            .values()
            .filter(|o| strip(&o.name) == wanted)
            .flat_map(|o| self.convert_old_commune(&o.code).unwrap_or_default())
            .filter(|c| province.is_none_or(|p| c.province_code == p))
            .collect();
        out.sort_by(|a, b| a.code.cmp(&b.code));
        out.dedup_by(|a, b| a.code == b.code);
        out
    }

    /// Suggestions for a commune name being typed (a type-ahead): today's communes whose
    /// folded name holds every typed word, the last one as a prefix ("ba d" → Ba Đình), and
    /// pre-2025 communes of that name with what they became — one commune when it moved whole,
    /// several when it was split. At most `limit`, today's names first.
    pub fn suggest_communes(&self, query: &str, province: Option<&str>, limit: usize) -> Vec<Suggestion<'_>> {
        let strip = |s: &str| -> String {
            ["phuong ", "xa ", "thi tran ", "dac khu "]
                .iter()
                .find_map(|p| s.strip_prefix(p).map(str::to_owned))
                .unwrap_or_else(|| s.to_owned())
        };
        let q = fold(query);
        let words: Vec<&str> = q.split(' ').filter(|w| !w.is_empty()).collect();
        let Some((last, first)) = words.split_last() else { return Vec::new() };
        let matches = |folded: &str| {
            let name: Vec<&str> = folded.split(' ').collect();
            first.iter().all(|w| name.contains(w)) && name.iter().any(|n| n.starts_with(last))
        };
        let mut now: Vec<&Commune> = self
            .communes
            .iter()
            .filter(|c| province.is_none_or(|p| c.province_code == p))
            .filter(|c| matches(&c.folded))
            .collect();
        let bare = strip(&q);
        now.sort_by_key(|c| {
            (strip(&c.folded) != bare, !strip(&c.folded).starts_with(&bare), c.folded.len(), c.code.clone())
        });
        let mut out: Vec<Suggestion> = now.into_iter().take(limit).map(Suggestion::Current).collect();
        if out.len() < limit && bare.len() >= 3 {
            let mut old: Vec<(&OldCommune, Vec<&Commune>)> = self
                .old_communes
                .values()
                .filter(|o| strip(&fold(&o.name)).starts_with(&bare))
                .map(|o| {
                    let mut became: Vec<&Commune> = self
                        .convert_old_commune(&o.code)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|c| province.is_none_or(|p| c.province_code == p))
                        .collect();
                    became.sort_by(|a, b| a.folded.cmp(&b.folded));
                    (o, became)
                })
                .filter(|(o, became)| {
                    !became.is_empty() && !became.iter().any(|c| strip(&c.folded) == strip(&fold(&o.name)))
                })
                .collect();
            old.sort_by(|a, b| {
                (strip(&fold(&a.0.name)) != bare, &a.0.code).cmp(&(strip(&fold(&b.0.name)) != bare, &b.0.code))
            });
            out.extend(old.into_iter().take(limit - out.len()).map(|(old, now)| Suggestion::Old { old, now }));
        }
        out
    }

    /// Finds a pre-2025 commune by folded names (province, district, commune), as written on an
    /// old address; several when the names are ambiguous.
    pub fn find_old_commune(&self, province: &str, district: &str, commune: &str) -> Vec<&OldCommune> {
        let (p, d, c) = (fold(province), fold(district), fold(commune));
        let strip = |s: &str| -> String {
            let s = fold(s);
            for prefix in ["thanh pho ", "tinh ", "quan ", "huyen ", "thi xa ", "phuong ", "xa ", "thi tran "] {
                if let Some(rest) = s.strip_prefix(prefix) {
                    return rest.to_owned();
                }
            }
            s
        };
        let (p, d, c) = (strip(&p), strip(&d), strip(&c));
        let mut hits: Vec<&OldCommune> = self
            .old_communes
            .values()
            .filter(|o| strip(&o.name) == c && strip(&o.district_name) == d && strip(&o.province_name) == p)
            .collect();
        hits.sort_by(|a, b| a.code.cmp(&b.code));
        hits
    }
}

/// Whether `code` (2 digits) was a province code at any time since the ID numbers began, so that
/// it may appear as the prefix of a personal ID number.
pub fn is_birth_registration_province(code: &str) -> bool {
    let units = AdminUnits::get();
    units.old_provinces.contains_key(code) || units.province(code).is_some()
}

/// A 2-digit province code, in force now or before 2025.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProvinceCode(String);

impl ProvinceCode {
    pub fn parse(s: &str) -> Result<Self, UnitError> {
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UnitError::ProvinceFormat(s.to_owned()));
        }
        if !is_birth_registration_province(s) {
            return Err(UnitError::UnknownProvince(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
    /// A province code in force since 2025-07-01.
    pub fn parse_current(s: &str) -> Result<Self, UnitError> {
        let code = Self::parse(s)?;
        if AdminUnits::get().province(s).is_none() {
            return Err(UnitError::UnknownProvince(s.to_owned()));
        }
        Ok(code)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 5-digit commune code in force since 2025-07-01.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommuneCode(String);

impl CommuneCode {
    pub fn parse(s: &str) -> Result<Self, UnitError> {
        if s.len() != 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UnitError::CommuneFormat(s.to_owned()));
        }
        if AdminUnits::get().commune(s).is_none() {
            return Err(UnitError::UnknownCommune(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn province(&self) -> &str {
        AdminUnits::get().commune(&self.0).map(|c| c.province_code.as_str()).unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        AdminUnits::get().commune(&self.0).map(|c| c.name.as_str()).unwrap_or_default()
    }
}

impl fmt::Display for CommuneCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CommuneCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for CommuneCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CommuneCode::parse(&s).map_err(serde::de::Error::custom)
    }
}
impl utoipa::PartialSchema for CommuneCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d{5}$"))
            .description(Some("Commune code in force since 2025-07-01 (Decision 19/2025/QĐ-TTg)"))
            .examples([serde_json::json!("00004")])
            .into()
    }
}
impl utoipa::ToSchema for CommuneCode {}

/// The administrative scope of an officer or system: a whole province or one commune.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnitCode {
    Province(ProvinceCode),
    Commune(CommuneCode),
}

impl UnitCode {
    pub fn parse(s: &str) -> Result<Self, UnitError> {
        match s.len() {
            2 => ProvinceCode::parse_current(s).map(UnitCode::Province),
            5 => CommuneCode::parse(s).map(UnitCode::Commune),
            _ => Err(UnitError::UnitFormat(s.to_owned())),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            UnitCode::Province(p) => p.as_str(),
            UnitCode::Commune(c) => c.as_str(),
        }
    }
    /// Whether this scope includes the 2025 commune `commune`.
    pub fn covers(&self, commune: &str) -> bool {
        match self {
            UnitCode::Commune(c) => c.as_str() == commune,
            UnitCode::Province(p) => AdminUnits::get().commune(commune).is_some_and(|c| c.province_code == p.as_str()),
        }
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communes_are_found_by_what_people_type() {
        let u = AdminUnits::get();
        let code = |text: &str, province: Option<&str>| u.resolve_commune(text, province).map(|c| c.code.as_str()).ok();
        assert_eq!(code("00004", None), Some("00004"));
        assert_eq!(code("Phường Ba Đình", None), Some("00004"));
        assert_eq!(code("ba dinh", Some("01")), Some("00004"), "without diacritics or the kind");
        assert_eq!(code("  PHUONG BA DINH ", None), Some("00004"));
        // Several communes of that name: the province decides.
        let several = u.resolve_commune("Tân Lập", None).unwrap_err();
        assert!(several.len() >= 3, "{several:?}");
        assert_eq!(code("tan lap", Some("44")), Some("19462"));
        assert!(u.resolve_commune("Nowhere at all", None).unwrap_err().is_empty());
        assert!(u.resolve_commune("00004", Some("79")).is_err(), "a code outside the chosen province");
        assert!(u.resolve_commune("", None).is_err());
        // A pre-2025 name: Phường Điện Biên (Quận Ba Đình) is part of today's Phường Ba Đình.
        let became: Vec<&str> =
            u.communes_from_old_name("phuong dien bien", Some("01")).iter().map(|c| c.code.as_str()).collect();
        assert_eq!(became, ["00004"]);
    }

    #[test]
    fn catalogue_sizes_match_the_decision() {
        let u = AdminUnits::get();
        assert_eq!(u.provinces().len(), 34);
        assert_eq!(u.communes().len(), 3321);
        assert_eq!(u.old_provinces.len(), 63);
        assert_eq!(u.old_communes.len(), 10051);
    }

    #[test]
    fn lookup_by_code_and_folded_name() {
        let u = AdminUnits::get();
        assert_eq!(u.commune("00004").map(|c| c.name.as_str()), Some("Phường Ba Đình"));
        let hits = u.find_communes("ba dinh", Some("01"));
        assert_eq!(hits.first().map(|c| c.code.as_str()), Some("00004"));
        assert_eq!(u.province("79").map(|p| p.name.as_str()), Some("Thành phố Hồ Chí Minh"));
    }

    #[test]
    fn converts_old_communes_whole_and_split() {
        let u = AdminUnits::get();
        // Phường Điện Biên (Ba Đình) went whole into Phường Ba Đình.
        let whole: Vec<&str> = u.convert_old_commune("00019").unwrap().iter().map(|c| c.code.as_str()).collect();
        assert_eq!(whole, ["00004"]);
        // Phường Đội Cấn was split between Ba Đình and Ngọc Hà.
        let mut split: Vec<&str> = u.convert_old_commune("00022").unwrap().iter().map(|c| c.code.as_str()).collect();
        split.sort();
        assert_eq!(split, ["00004", "00008"]);
        assert!(matches!(u.convert_old_commune("99999"), Err(UnitError::UnknownOldCommune(_))));
        let found = u.find_old_commune("Thành phố Hà Nội", "Quận Ba Đình", "Phường Đội Cấn");
        assert_eq!(found.first().map(|o| o.code.as_str()), Some("00022"));
    }

    #[test]
    fn scopes_cover_their_communes() {
        let hanoi = UnitCode::parse("01").unwrap();
        assert!(hanoi.covers("00004"));
        assert!(!hanoi.covers("26734"));
        let ba_dinh = UnitCode::parse("00004").unwrap();
        assert!(ba_dinh.covers("00004"));
        assert!(!ba_dinh.covers("00008"));
        // 02 (Hà Giang) no longer exists as a unit one can be scoped to.
        assert!(UnitCode::parse("02").is_err());
        assert!(UnitCode::parse("123").is_err());
    }

    #[test]
    fn suggestions_while_typing_include_old_names_and_splits() {
        let units = AdminUnits::get();
        let names = |q: &str, p: Option<&str>| -> Vec<String> {
            units
                .suggest_communes(q, p, 8)
                .iter()
                .map(|s| match s {
                    Suggestion::Current(c) => c.name.clone(),
                    Suggestion::Old { old, now } => {
                        format!("{} -> {}", old.name, now.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join("|"))
                    }
                })
                .collect()
        };
        // The last word is a prefix; diacritics optional.
        assert_eq!(names("ba d", Some("01")).first().map(String::as_str), Some("Phường Ba Đình"));
        assert_eq!(names("phuong ba dinh", Some("01")), vec!["Phường Ba Đình".to_owned()]);
        // A pre-2025 ward that went whole into one of today's.
        assert!(names("Điện Biên", Some("01")).contains(&"Phường Điện Biên -> Phường Ba Đình".to_owned()));
        // A split one: every ward it became.
        let kim_ma = names("kim ma", Some("01"));
        assert_eq!(
            kim_ma,
            vec!["Phường Kim Mã -> Phường Ba Đình|Phường Giảng Võ|Phường Ngọc Hà".to_owned()],
            "{kim_ma:?}"
        );
        assert!(names("", None).is_empty() && names("   ", None).is_empty());
        assert!(names("zzzz", None).is_empty());
        assert!(units.suggest_communes("xa", None, 5).len() <= 5);
    }
}
