//! The procedure catalogue: the 25 essential public services as data (shipped
//! `data/procedures.toml`, or an operator's file of the same layout), with the e-form of each
//! procedure, its required components and what replaces them, and its processing steps.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

const SHIPPED: &str = include_str!("../data/procedures.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Commune,
    Province,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Online {
    Full,
    Partial,
}

/// Who acts at a processing step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepRole {
    Specialist,
    Leader,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub key: String,
    pub role: StepRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Date,
    Commune,
    Pid,
    Number,
    Select,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub label_vi: String,
    pub label_en: String,
    pub kind: FieldKind,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// What replaces a component the citizen would otherwise hand in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replacement {
    /// The population register holds it.
    Register,
    /// The e-form is the declaration.
    Form,
    /// A result of that procedure in the citizen's document store.
    Result(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

impl Component {
    pub fn replacement(&self) -> Option<Replacement> {
        match self.replaced_by.as_deref()? {
            "register" => Some(Replacement::Register),
            "form" => Some(Replacement::Form),
            other => other.strip_prefix("result:").map(|p| Replacement::Result(p.to_owned())),
        }
    }

    /// Whether the citizen has to hand in a file (or pick one from their store).
    pub fn needs_file(&self) -> bool {
        matches!(self.replacement(), None | Some(Replacement::Result(_)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Procedure {
    pub code: String,
    pub number: u32,
    #[serde(default)]
    pub national_code: String,
    /// The code of the procedure's result document (the `{result}` part of result codes);
    /// empty: `KQ-` and the procedure's code.
    #[serde(default)]
    pub result_code: String,
    /// How long its closed dossiers are kept in the archive: `permanent` or `<N>y`; empty:
    /// permanent for civil status, else 10 years (`archive::Retention::of`).
    #[serde(default)]
    pub retention: String,
    pub name_vi: String,
    pub name_en: String,
    pub agency: String,
    pub level: Level,
    /// Statutory time limit in working days.
    pub days: u32,
    /// Fee in VND.
    pub fee: u64,
    pub online: Online,
    pub steps: Vec<Step>,
    pub fields: Vec<Field>,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalogue {
    pub version: String,
    #[serde(rename = "procedure")]
    pub procedures: Vec<Procedure>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("the catalogue is not valid TOML of the expected layout: {0}")]
    Syntax(String),
    #[error("procedure {code}: {problem}")]
    Procedure { code: String, problem: String },
    #[error("{0}")]
    Catalogue(String),
}

/// Why a field of a submitted e-form was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldProblem {
    Missing,
    TooLong,
    NotADate,
    UnknownCommune,
    NotAPid,
    NotANumber,
    NotAnOption,
    /// The form has no such field (or it is data the register provides).
    Unknown,
}

impl FieldProblem {
    pub fn text_en(self) -> &'static str {
        match self {
            FieldProblem::Missing => "is required",
            FieldProblem::TooLong => "is longer than 500 characters",
            FieldProblem::NotADate => "must be a date YYYY-MM-DD",
            FieldProblem::UnknownCommune => "is not a commune code in force",
            FieldProblem::NotAPid => "is not a valid 12-digit personal identification number",
            FieldProblem::NotANumber => "must be a whole number",
            FieldProblem::NotAnOption => "is not one of the offered choices",
            FieldProblem::Unknown => "is not a field of this form",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub problem: FieldProblem,
}

impl Catalogue {
    /// The catalogue shipped with the program.
    pub fn shipped() -> Self {
        // The shipped file is checked by a unit test; a broken build would not pass it.
        Self::parse(SHIPPED).unwrap_or_else(|_| Catalogue { version: "empty".into(), procedures: Vec::new() })
    }

    pub fn parse(text: &str) -> Result<Self, CatalogueError> {
        let cat: Catalogue = toml::from_str(text).map_err(|e| CatalogueError::Syntax(e.to_string()))?;
        if cat.version.trim().is_empty() {
            return Err(CatalogueError::Catalogue("the catalogue needs a version".into()));
        }
        let mut codes = HashSet::new();
        for p in &cat.procedures {
            let bad = |problem: String| CatalogueError::Procedure { code: p.code.clone(), problem };
            if !codes.insert(p.code.as_str()) {
                return Err(bad("appears twice".into()));
            }
            if p.code.is_empty()
                || p.code.len() > 40
                || !p.code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(bad("the code must be 1–40 letters, digits, '-' or '.'".into()));
            }
            if p.days == 0 {
                return Err(bad("the time limit must be at least one working day".into()));
            }
            if p.steps.is_empty() {
                return Err(bad("needs at least one processing step".into()));
            }
            if !p.retention.trim().is_empty() {
                let r = crate::archive::Retention::parse(&p.retention).map_err(bad)?;
                if crate::civil::kind_of(&p.code).is_some() && r != crate::archive::Retention::Permanent {
                    return Err(bad("civil-status records are kept permanently (Law on Civil Status, Art. 58)".into()));
                }
            }
            let mut names = HashSet::new();
            for f in &p.fields {
                if !names.insert(f.name.as_str()) {
                    return Err(bad(format!("field {} appears twice", f.name)));
                }
                if (f.kind == FieldKind::Select) == f.options.is_empty() {
                    return Err(bad(format!(
                        "field {}: options are for select fields, and select fields need them",
                        f.name
                    )));
                }
            }
            let mut comps = HashSet::new();
            for c in &p.components {
                if !comps.insert(c.code.as_str()) {
                    return Err(bad(format!("component {} appears twice", c.code)));
                }
                if c.replaced_by.is_some() && c.replacement().is_none() {
                    return Err(bad(format!(
                        "component {}: replaced_by is register, form or result:<procedure>",
                        c.code
                    )));
                }
            }
        }
        for p in &cat.procedures {
            for c in &p.components {
                if let Some(Replacement::Result(of)) = c.replacement()
                    && !codes.contains(of.as_str())
                {
                    return Err(CatalogueError::Procedure {
                        code: p.code.clone(),
                        problem: format!("component {} is replaced by a result of unknown procedure {of}", c.code),
                    });
                }
            }
        }
        Ok(cat)
    }

    pub fn get(&self, code: &str) -> Option<&Procedure> {
        self.procedures.iter().find(|p| p.code == code)
    }

    /// Procedures whose name (either language, diacritics folded) or code has, for every word of
    /// `query`, a word starting with it; all of them for an empty query.
    pub fn search(&self, query: &str) -> Vec<&Procedure> {
        let words: Vec<String> = civitas_core::text::fold(query).split_whitespace().map(str::to_owned).collect();
        let mut found: Vec<(usize, &Procedure)> = self
            .procedures
            .iter()
            .filter_map(|p| {
                let hay = civitas_core::text::fold(&format!("{} {} {}", p.code, p.name_vi, p.name_en));
                let hay: Vec<&str> = hay.split(|c: char| !c.is_alphanumeric() && c != '-').collect();
                let all = words.iter().all(|w| hay.iter().any(|h| h.starts_with(w.as_str())));
                // Whole-word matches rank first ("khai tu" is death registration before "tuoi").
                let whole = words.iter().filter(|w| hay.iter().any(|h| h == &w.as_str())).count();
                all.then_some((whole, p))
            })
            .collect();
        found.sort_by_key(|(whole, _)| std::cmp::Reverse(*whole));
        found.into_iter().map(|(_, p)| p).collect()
    }
}

impl Procedure {
    /// The role acting at processing step `index`.
    pub fn step(&self, index: usize) -> Option<&Step> {
        self.steps.get(index)
    }

    /// Checks a submitted e-form: every required field present, each value of its kind, no
    /// unknown field. Returns the values NFC-normalized and trimmed, empty optional ones left out.
    pub fn check_fields(&self, input: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut out = BTreeMap::new();
        for name in input.keys() {
            if !self.fields.iter().any(|f| &f.name == name) {
                errors.push(FieldError { field: name.clone(), problem: FieldProblem::Unknown });
            }
        }
        for f in &self.fields {
            let value = input.get(&f.name).map(|v| civitas_core::text::nfc(v.trim())).unwrap_or_default();
            let problem = if value.is_empty() {
                f.required.then_some(FieldProblem::Missing)
            } else if value.chars().count() > 500 {
                Some(FieldProblem::TooLong)
            } else {
                match f.kind {
                    FieldKind::Text => None,
                    FieldKind::Date => {
                        time::Date::parse(&value, time::macros::format_description!("[year]-[month]-[day]"))
                            .is_err()
                            .then_some(FieldProblem::NotADate)
                    }
                    FieldKind::Commune => civitas_core::AdminUnits::get()
                        .commune(&value)
                        .is_none()
                        .then_some(FieldProblem::UnknownCommune),
                    FieldKind::Pid => value.parse::<civitas_core::Pid>().is_err().then_some(FieldProblem::NotAPid),
                    FieldKind::Number => value.parse::<i64>().is_err().then_some(FieldProblem::NotANumber),
                    FieldKind::Select => (!f.options.contains(&value)).then_some(FieldProblem::NotAnOption),
                }
            };
            match problem {
                Some(problem) => errors.push(FieldError { field: f.name.clone(), problem }),
                None if !value.is_empty() => {
                    out.insert(f.name.clone(), value);
                }
                None => {}
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(errors) }
    }

    /// The commune the form names (its `commune` field), if any.
    pub fn commune_of<'a>(&self, fields: &'a BTreeMap<String, String>) -> Option<&'a str> {
        self.fields.iter().find(|f| f.kind == FieldKind::Commune).and_then(|f| fields.get(&f.name)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_has_the_25_services() {
        let cat = Catalogue::parse(SHIPPED).unwrap();
        assert_eq!(cat.procedures.len(), 25);
        let numbers: HashSet<u32> = cat.procedures.iter().map(|p| p.number).collect();
        assert_eq!(numbers, (1..=25).collect());
        let residence = cat.get("DVC-03").unwrap();
        assert_eq!(residence.days, 7);
        assert_eq!(cat.get("DVC-04").unwrap().days, 3);
        // No household book: the register replaces it.
        let book = residence.components.iter().find(|c| c.code == "HOKHAU").unwrap();
        assert_eq!(book.replacement(), Some(Replacement::Register));
        assert!(!book.needs_file());
    }

    #[test]
    fn search_folds_diacritics() {
        let cat = Catalogue::shipped();
        let found: Vec<&str> = cat.search("dang ky thuong tru").iter().map(|p| p.code.as_str()).collect();
        assert!(found.contains(&"DVC-03"), "{found:?}");
        let death: Vec<&str> = cat.search("Khai Tử").iter().map(|p| p.code.as_str()).collect();
        assert_eq!(death[..2], ["DVC-10", "DVC-16"]);
        assert_eq!(cat.search("").len(), 25);
    }

    #[test]
    fn forms_are_checked_field_by_field() {
        let cat = Catalogue::shipped();
        let p = cat.get("DVC-03").unwrap();
        let mut input = BTreeMap::new();
        input.insert("address".to_owned(), "  12 Hàng Bạc ".to_owned());
        input.insert("basis".to_owned(), "castle".to_owned());
        input.insert("host_pid".to_owned(), "12345".to_owned());
        input.insert("full_name".to_owned(), "X".to_owned());
        let errors = p.check_fields(&input).unwrap_err();
        let got: Vec<(&str, FieldProblem)> = errors.iter().map(|e| (e.field.as_str(), e.problem)).collect();
        assert!(got.contains(&("full_name", FieldProblem::Unknown)));
        assert!(got.contains(&("commune", FieldProblem::Missing)));
        assert!(got.contains(&("basis", FieldProblem::NotAnOption)));
        assert!(got.contains(&("host_pid", FieldProblem::NotAPid)));
        let commune = civitas_core::AdminUnits::get().communes()[0].code.clone();
        let ok: BTreeMap<String, String> =
            [("address", "12 Hàng Bạc"), ("basis", "rented"), ("commune", commune.as_str())]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let checked = p.check_fields(&ok).unwrap();
        assert_eq!(p.commune_of(&checked), Some(commune.as_str()));
    }

    #[test]
    fn a_broken_operator_file_is_refused_with_the_reason() {
        let bad = SHIPPED.replacen("replaced_by = \"register\" }", "replaced_by = \"household-book\" }", 1);
        assert!(matches!(Catalogue::parse(&bad), Err(CatalogueError::Procedure { .. })));
        assert!(matches!(Catalogue::parse("version = 1"), Err(CatalogueError::Syntax(_))));
    }
}
