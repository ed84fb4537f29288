//! The indicator catalogue: what leaders see, as data (shipped `data/indicators.toml`, or an
//! operator's file of the same layout named by `indicators_file`). An indicator is a count of
//! measures, or a ratio / average of two sums of measures (DHIS2: numerator and denominator are
//! summed over periods and units separately, then divided). A term is a measure the fold keeps
//! ([`crate::fold::m`]), optionally negated (`- dossiers.overdue`); stocks (`dossiers.open`,
//! `dossiers.overdue`) are taken at the period's end. Decision 766 sub-indicators carry their
//! group, points and threshold.

use serde::{Deserialize, Serialize};

use crate::fold::m;

const SHIPPED: &str = include_str!("../data/indicators.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A sum of measures.
    Count,
    /// numerator / denominator × 100 (a percentage).
    Ratio,
    /// numerator / denominator (e.g. days per dossier).
    Average,
}

/// A signed sum of measures, written `a + b - c`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expr(pub Vec<(i64, String)>);

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, String> {
        let mut terms = Vec::new();
        let mut sign = 1;
        for token in text.split_whitespace() {
            match token {
                "+" => sign = 1,
                "-" => sign = -1,
                measure => {
                    if !m::ALL.contains(&measure) && !m::ESTIMATED.contains(&measure) {
                        return Err(format!("{measure:?} is not a measure the reports keep"));
                    }
                    terms.push((sign, measure.to_owned()));
                    sign = 1;
                }
            }
        }
        if terms.is_empty() {
            return Err("an empty sum".into());
        }
        Ok(Expr(terms))
    }

    pub fn measures(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, m)| m.as_str())
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Expr::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Where an indicator belongs in the Decision 766 index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index766 {
    /// 1–5.
    pub group: u8,
    /// The sub-indicator's number as published (`2.1`).
    pub number: String,
    pub points: f64,
    /// Full points at or above this rate (percent); linear below. None: points × rate / 100.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Where the weight comes from (the Decision's text, a provincial system, or assumed).
    pub weight_source: String,
}

/// How an indicator's estimated events are computed (OpenCRVS's completeness method): crude
/// rate per 1,000 people a year × the register's population (latest count at or before the
/// last day counted) / 1,000 × days / 365, rounded; a commune takes its province's rate, the
/// nation sums its provinces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    /// The measure it defines: `estimated.births` or `estimated.deaths`.
    pub measure: String,
    /// The national crude rate per 1,000 people a year.
    pub per_1000: f64,
    /// Province codes (2 digits) with a rate of their own.
    #[serde(default)]
    pub provinces: std::collections::BTreeMap<String, f64>,
    /// Where the rates come from.
    pub source: String,
}

impl Estimate {
    /// The rate of a province (its own, or the national one).
    pub fn rate(&self, province: &str) -> f64 {
        self.provinces.get(province).copied().unwrap_or(self.per_1000)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub kind: Kind,
    /// The count's sum, or the ratio's numerator. None: not measured yet (shown as such).
    #[serde(default)]
    pub numerator: Option<Expr>,
    #[serde(default)]
    pub denominator: Option<Expr>,
    /// What the value counts: `dossiers`, `%`, `days`, `accounts`, `cards`, `registrations`.
    pub unit: String,
    /// The period types it is reported for (`day`, `week`, `month`, `quarter`, `six_months`,
    /// `nine_months`, `year`).
    pub periods: Vec<String>,
    #[serde(default)]
    pub target: Option<f64>,
    #[serde(default)]
    pub deadline: Option<String>,
    /// Where the formula comes from.
    pub source: String,
    /// Why it is not measured, when it is not.
    #[serde(default)]
    pub not_measured: Option<String>,
    #[serde(default)]
    pub index: Option<Index766>,
    /// The rate behind an `estimated.*` measure its formula uses.
    #[serde(default)]
    pub estimate: Option<Estimate>,
}

impl Indicator {
    pub fn name(&self, lang: &str) -> &str {
        if lang == "en" { &self.name_en } else { &self.name_vi }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub version: String,
    #[serde(rename = "indicator")]
    pub indicators: Vec<Indicator>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogueError {
    #[error("the indicator catalogue is not valid TOML: {0}")]
    Syntax(String),
    #[error("indicator {code}: {problem}")]
    Indicator { code: String, problem: String },
}

const PERIOD_TYPES: &[&str] = &["day", "week", "month", "quarter", "six_months", "nine_months", "year"];

impl Catalogue {
    pub fn shipped() -> Catalogue {
        // The shipped file is checked by a test; an error here is a build defect.
        Catalogue::parse(SHIPPED).unwrap_or_else(|e| panic!("shipped indicators.toml: {e}"))
    }

    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let cat: Catalogue = toml::from_str(text).map_err(|e| CatalogueError::Syntax(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for i in &cat.indicators {
            let bad =
                |problem: &str| Err(CatalogueError::Indicator { code: i.code.clone(), problem: problem.to_owned() });
            if !seen.insert(i.code.as_str()) {
                return bad("defined twice");
            }
            if i.code.is_empty() || !i.code.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
                return bad("a code is letters, digits, '.', '_' or '-'");
            }
            match (i.kind, &i.numerator, &i.denominator, &i.not_measured) {
                (_, None, _, None) => return bad("needs a numerator, or not_measured saying why"),
                (Kind::Count, Some(_), Some(_), _) => return bad("a count has no denominator"),
                (Kind::Ratio | Kind::Average, Some(_), None, _) => return bad("a ratio needs a denominator"),
                _ => {}
            }
            if let Some(p) = i.periods.iter().find(|p| !PERIOD_TYPES.contains(&p.as_str())) {
                return bad(&format!("unknown period type {p:?} (one of {})", PERIOD_TYPES.join(", ")));
            }
            if let Some(d) = &i.deadline
                && crate::parse_day(d).is_none()
            {
                return bad("the deadline is a date YYYY-MM-DD");
            }
            let estimated: Vec<&str> = i
                .numerator
                .iter()
                .chain(i.denominator.iter())
                .flat_map(|e| e.measures())
                .filter(|m| m::ESTIMATED.contains(m))
                .collect();
            match &i.estimate {
                Some(e) if !m::ESTIMATED.contains(&e.measure.as_str()) => {
                    return bad(&format!("an estimate defines one of {}", m::ESTIMATED.join(", ")));
                }
                Some(e) if estimated.iter().any(|m| *m != e.measure) => {
                    return bad("its formula uses an estimated measure its estimate does not define");
                }
                Some(e)
                    if !(e.per_1000 > 0.0 && e.per_1000 < 1000.0)
                        || e.provinces.iter().any(|(p, r)| {
                            civitas_core::units::AdminUnits::get().province(p).is_none() || !(*r > 0.0 && *r < 1000.0)
                        }) =>
                {
                    return bad(
                        "an estimate's rates are per 1,000 (above 0, below 1,000), for provinces of the catalogue",
                    );
                }
                None if !estimated.is_empty() => return bad("an estimated measure needs an [indicator.estimate]"),
                _ => {}
            }
            if let Some(x) = &i.index
                && (!(1..=5).contains(&x.group) || x.points < 0.0 || x.threshold.is_some_and(|t| t <= 0.0 || t > 100.0))
            {
                return bad("a Decision 766 entry has a group 1-5, points >= 0 and a threshold in (0, 100]");
            }
        }
        Ok(cat)
    }

    pub fn get(&self, code: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.code == code)
    }

    /// The Decision 766 sub-indicators, in their published order.
    pub fn index(&self) -> Vec<&Indicator> {
        let mut out: Vec<&Indicator> = self.indicators.iter().filter(|i| i.index.is_some()).collect();
        out.sort_by_key(|i| i.index.as_ref().map(|x| x.number.clone()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_is_whole() {
        let cat = Catalogue::shipped();
        let points: f64 = cat.index().iter().filter_map(|i| i.index.as_ref()).map(|x| x.points).sum();
        assert!((points - 100.0).abs() < 1e-9, "the index is out of 100, got {points}");
        for (group, total) in [(1, 18.0), (2, 20.0), (3, 22.0), (4, 22.0), (5, 18.0)] {
            let sum: f64 = cat
                .index()
                .iter()
                .filter_map(|i| i.index.as_ref())
                .filter(|x| x.group == group)
                .map(|x| x.points)
                .sum();
            assert!((sum - total).abs() < 1e-9, "group {group} has {sum} points, not {total}");
        }
        assert!(cat.get("form06a.received").is_some() || cat.get("dossiers.received").is_some());
    }

    #[test]
    fn mistakes_are_named() {
        let one = |body: &str| {
            format!(
                "version = \"t\"\n[[indicator]]\ncode = \"x\"\nname_vi = \"x\"\nname_en = \"x\"\nunit = \"%\"\nperiods = [\"month\"]\nsource = \"s\"\n{body}"
            )
        };
        let e = Catalogue::parse(&one("kind = \"ratio\"\nnumerator = \"dossiers.received\"")).unwrap_err();
        assert_eq!(e, CatalogueError::Indicator { code: "x".into(), problem: "a ratio needs a denominator".into() });
        let e = Catalogue::parse(&one("kind = \"count\"\nnumerator = \"dossiers.nope\"")).unwrap_err();
        assert!(matches!(e, CatalogueError::Syntax(ref s) if s.contains("dossiers.nope")), "{e}");
        let e =
            Catalogue::parse(&one("kind = \"count\"\nnumerator = \"dossiers.received\"\nperiods = [\"fortnight\"]"))
                .unwrap_err();
        assert!(matches!(e, CatalogueError::Syntax(_)), "periods given twice is a TOML error: {e}");
        assert!(Catalogue::parse(&one("kind = \"count\"\nnot_measured = \"later\"")).is_ok());
        assert_eq!(
            Expr::parse("dossiers.open - dossiers.overdue").unwrap().0,
            vec![(1, "dossiers.open".to_owned()), (-1, "dossiers.overdue".to_owned())]
        );
    }
}
