//! Folded-name search: plans index lookups on the family and given name (with one-typo
//! variants from the name vocabulary) and ranks candidates by how well every query word matches.

use std::collections::BTreeSet;

use sqlx::{Database, QueryBuilder};

use civitas_core::text::within_one_edit;

/// At most this many candidate rows are read per lookup step.
pub const CANDIDATE_LIMIT: i64 = 3000;

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub text: String,
    pub birth_year: Option<i64>,
    pub commune: Option<String>,
    pub limit: i64,
}

/// Folded name parts known to the register, by position.
#[derive(Debug, Default)]
pub struct Vocab {
    family: BTreeSet<String>,
    given: BTreeSet<String>,
}

impl Vocab {
    pub fn from_rows(rows: Vec<(String, String)>) -> Self {
        let mut v = Vocab::default();
        for (part, token) in rows {
            match part.as_str() {
                "family" => v.family.insert(token),
                "given" => v.given.insert(token),
                _ => false,
            };
        }
        v
    }

    fn variants(set: &BTreeSet<String>, token: &str) -> Vec<String> {
        let mut out: Vec<String> = set.iter().filter(|t| *t == token || typo_of(t, token)).cloned().collect();
        if !out.iter().any(|t| t == token) {
            out.push(token.to_owned());
        }
        // Exact spelling first.
        out.sort_by_key(|t| t != token);
        out
    }
}

/// One index lookup: people whose family name is one of `family` and/or given name one of `given`.
#[derive(Debug, Clone)]
pub struct Step {
    pub exact_name: Option<String>,
    pub family: Vec<String>,
    pub given: Vec<String>,
}

/// Lookups in the order they are tried: the exact folded full name, then family + given name
/// with one-typo variants; a one-word query is taken as a given name (a family name alone
/// matches too many people to be useful: Nguyễn is 38 % of the population).
pub fn plan(tokens: &[String], vocab: &Vocab) -> Vec<Step> {
    let mut steps = Vec::new();
    match tokens {
        [] => {}
        [only] => {
            steps.push(Step { exact_name: None, family: vec![], given: Vocab::variants(&vocab.given, only) });
        }
        [first, .., last] => {
            steps.push(Step {
                exact_name: Some(tokens.join(" ")),
                family: vec![first.clone()],
                given: vec![last.clone()],
            });
            steps.push(Step {
                exact_name: None,
                family: Vocab::variants(&vocab.family, first),
                given: Vocab::variants(&vocab.given, last),
            });
        }
    }
    steps
}

/// Appends the WHERE conditions of `step` and the filters of `q` to `qb`.
pub fn push_conditions<DB>(
    qb: &mut QueryBuilder<DB>,
    step: &Step,
    q: &SearchQuery,
    communes: Option<&[String]>,
    filters: bool,
) where
    DB: Database,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    fn in_list<DB>(qb: &mut QueryBuilder<DB>, column: &str, values: &[String])
    where
        DB: Database,
        for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    {
        qb.push(column);
        qb.push(" IN (");
        let mut sep = qb.separated(", ");
        for v in values {
            sep.push_bind(v.clone());
        }
        qb.push(")");
    }
    if let Some(name) = &step.exact_name {
        in_list(qb, "given_folded", &step.given);
        qb.push(" AND ");
        in_list(qb, "family_folded", &step.family);
        qb.push(" AND name_folded = ");
        qb.push_bind(name.clone());
    } else if !step.family.is_empty() && !step.given.is_empty() {
        in_list(qb, "given_folded", &step.given);
        qb.push(" AND ");
        in_list(qb, "family_folded", &step.family);
    } else if !step.given.is_empty() {
        in_list(qb, "given_folded", &step.given);
    } else {
        in_list(qb, "family_folded", &step.family);
    }
    if !filters {
        return;
    }
    if let Some(year) = q.birth_year {
        qb.push(" AND birth_year = ");
        qb.push_bind(year);
    }
    if let Some(c) = &q.commune {
        qb.push(" AND permanent_commune = ");
        qb.push_bind(c.clone());
    }
    if let Some(communes) = communes {
        qb.push(" AND ");
        in_list(qb, "permanent_commune", communes);
    }
}

/// Whether `a` is `b` with one typo. Words of one or two letters get no tolerance: one edit
/// turns them into other names (an / anh).
pub fn typo_of(a: &str, b: &str) -> bool {
    a.len() >= 3 && b.len() >= 3 && within_one_edit(a, b)
}

/// How well a folded name matches the query words, or `None` when some word matches nothing.
/// Exact word: 3, one typo away: 1; a bonus when the words are in the same order and count.
pub fn score(query: &[String], name_folded: &str) -> Option<i64> {
    let words: Vec<&str> = name_folded.split(' ').collect();
    let mut used = vec![false; words.len()];
    let mut total = 0;
    for q in query {
        let best = words
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, w)| {
                (
                    if *w == q {
                        3
                    } else if typo_of(w, q) {
                        1
                    } else {
                        0
                    },
                    i,
                )
            })
            .max()
            .filter(|(s, _)| *s > 0)?;
        used[best.1] = true;
        total += best.0;
    }
    if words.len() == query.len() && words.iter().zip(query).all(|(w, q)| *w == q) {
        total += 5;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<String> {
        civitas_core::tokens(s)
    }

    #[test]
    fn exact_beats_typo_and_middle_words_must_match() {
        let q = t("Nguyễn Văn An");
        let exact = score(&q, "nguyen van an").unwrap();
        let typo = score(&q, "nguyne van an").unwrap();
        assert!(exact > typo);
        assert_eq!(score(&q, "nguyen thi an"), None);
        assert_eq!(score(&q, "nguyen van anh"), None);
        assert_eq!(score(&t("an an"), "nguyen van an"), None);
    }

    #[test]
    fn plan_expands_typos_from_vocabulary() {
        let vocab = Vocab::from_rows(vec![
            ("family".into(), "nguyen".into()),
            ("given".into(), "an".into()),
            ("given".into(), "hung".into()),
        ]);
        let steps = plan(&t("nguyne van hugn"), &vocab);
        assert_eq!(steps[1].family, vec!["nguyne".to_string(), "nguyen".to_string()]);
        assert!(steps[1].given.contains(&"hung".to_string()));
    }
}
