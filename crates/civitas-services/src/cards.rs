//! Chip ID cards in the register (issue #16, part 1): every card a person has had, with its
//! lifecycle — data collected at the counter (a DVC-02 approval), produced, delivered to the
//! commune, returned to the citizen; lost, revoked, expired, replaced — each transition an
//! event with its actor, and the Project 06 counters per commune (data collected, cards
//! produced, cards returned) counted from those events. A card's expiry follows the renewal
//! ages ([`civitas_core::card::card_expiry`]). A death revokes the valid card in the death's
//! own transaction; a reported loss revokes it at once.

use serde::Serialize;

use civitas_store::unit::{Value, Write};
use civitas_store::{Db, StoreError, dispatch};

/// A card's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CardState {
    /// The data (photo, fingerprints, iris) collected at the counter; the dossier approved.
    Collected,
    Produced,
    /// Delivered to the commune's police, waiting for the citizen.
    AtCommune,
    /// In the citizen's hands: the valid card.
    Returned,
    Lost,
    Revoked,
    Expired,
    /// Superseded by the holder's next card.
    Replaced,
}

impl CardState {
    pub const ALL: [CardState; 8] = [
        CardState::Collected,
        CardState::Produced,
        CardState::AtCommune,
        CardState::Returned,
        CardState::Lost,
        CardState::Revoked,
        CardState::Expired,
        CardState::Replaced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Collected => "collected",
            CardState::Produced => "produced",
            CardState::AtCommune => "at-commune",
            CardState::Returned => "returned",
            CardState::Lost => "lost",
            CardState::Revoked => "revoked",
            CardState::Expired => "expired",
            CardState::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<CardState> {
        CardState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the card is still on its way or in use (a death or a loss ends it).
    pub fn live(self) -> bool {
        matches!(self, CardState::Collected | CardState::Produced | CardState::AtCommune | CardState::Returned)
    }

    /// The states an officer may move a card in this state to.
    pub fn next(self) -> &'static [CardState] {
        use CardState::*;
        match self {
            Collected => &[Produced, Revoked],
            Produced => &[AtCommune, Revoked],
            AtCommune => &[Returned, Revoked],
            Returned => &[Lost, Revoked, Expired],
            Lost | Revoked | Expired | Replaced => &[],
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Card {
    pub id: String,
    /// The card number: the holder's personal ID number.
    pub pid: String,
    pub generation: String,
    pub issued_on: Option<String>,
    /// None once produced: the card never expires (issued from 58 on).
    pub expires_on: Option<String>,
    pub old_id: Option<String>,
    pub state: String,
    pub commune: String,
    pub dossier_code: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("no card {0}")]
    NotFound(String),
    #[error("a card that is {from} cannot become {to}; it can become: {allowed}")]
    Transition { from: String, to: String, allowed: String },
    #[error("{0} holds no valid card")]
    NoValidCard(String),
    #[error("the card changed meanwhile; read it again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const COLUMNS: &str =
    "id, pid, generation, issued_on, expires_on, old_id, state, commune, dossier_code, created_at, updated_at";

/// The generation of a card issued on `day`: thẻ căn cước from 2024-07-01 (Law 26/2023).
pub fn generation_on(day: time::Date) -> &'static str {
    if day >= time::macros::date!(2024 - 07 - 01) { "can-cuoc-2024" } else { "cccd-2021" }
}

fn event(card: &str, pid: &str, commune: &str, state: CardState, actor: &str, reason: Option<&str>, at: &str) -> Write {
    Write::new(
        "INSERT INTO card_events (card_id, pid, commune, state, actor, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            card.into(),
            pid.into(),
            commune.into(),
            state.as_str().into(),
            actor.into(),
            Value::Text(reason.map(str::to_owned)),
            at.into(),
        ],
    )
}

/// The writes that record a new card whose data was collected (a DVC-02 dossier approved, or
/// the first card at a counter), for the holder living in `commune`.
pub fn collected(
    pid: &str,
    commune: &str,
    generation: &str,
    old_id: Option<&str>,
    dossier: Option<&str>,
    actor: &str,
    at: &str,
) -> Vec<Write> {
    let id = format!("C-{}", crate::documents::new_id());
    vec![
        Write::new(
            "INSERT INTO cards (id, pid, generation, old_id, state, commune, dossier_code, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'collected', $5, $6, $7, $7)",
            vec![
                id.clone().into(),
                pid.into(),
                generation.into(),
                Value::Text(old_id.map(str::to_owned)),
                commune.into(),
                Value::Text(dossier.map(str::to_owned)),
                at.into(),
            ],
        ),
        event(&id, pid, commune, CardState::Collected, actor, dossier, at),
    ]
}

/// The writes that revoke the holder's live cards (a death registered): in the death's
/// transaction, with an event per card.
pub fn revoke_all(pid: &str, reason: &str, actor: &str, at: &str) -> Vec<Write> {
    vec![
        Write::new(
            "INSERT INTO card_events (card_id, pid, commune, state, actor, reason, at) \
             SELECT id, pid, commune, 'revoked', $2, $3, $4 FROM cards \
             WHERE pid = $1 AND state IN ('collected', 'produced', 'at-commune', 'returned')",
            vec![pid.into(), actor.into(), reason.into(), at.into()],
        ),
        Write::new(
            "UPDATE cards SET state = 'revoked', updated_at = $2 WHERE pid = $1 AND state IN ('collected', 'produced', 'at-commune', 'returned')",
            vec![pid.into(), at.into()],
        ),
    ]
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Card>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM cards WHERE id = $1");
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Card>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)?)
}

/// Every card of a person, newest first.
pub async fn of_person(db: &Db, pid: &str) -> Result<Vec<Card>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM cards WHERE pid = $1 ORDER BY created_at DESC, id");
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Card>(sqlx::AssertSqlSafe(sql)).bind(pid).fetch_all(pool).await)?)
}

/// One transition of a card, with its event. Producing a card sets its issue date (Vietnam's
/// `today`) and expiry (from the holder's `birth`); returning one replaces the holder's previous
/// card. Guarded by the card's state: a concurrent change is a [`CardError::Conflict`].
pub async fn advance(
    db: &Db,
    id: &str,
    to: CardState,
    birth: Option<time::Date>,
    actor: &str,
    reason: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<Card, CardError> {
    let card = get(db, id).await?.ok_or_else(|| CardError::NotFound(id.to_owned()))?;
    let from = CardState::parse(&card.state).ok_or_else(|| CardError::NotFound(id.to_owned()))?;
    if !from.next().contains(&to) {
        let allowed: Vec<&str> = from.next().iter().map(|s| s.as_str()).collect();
        return Err(CardError::Transition {
            from: card.state.clone(),
            to: to.as_str().to_owned(),
            allowed: if allowed.is_empty() { "nothing (final)".into() } else { allowed.join(", ") },
        });
    }
    let at = civitas_store::timestamp(now);
    let today = (now + time::Duration::hours(7)).date();
    let mut writes = vec![
        Write::new(
            "UPDATE cards SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
            vec![to.as_str().into(), at.clone().into(), id.into(), card.state.clone().into()],
        )
        .expecting(1, "the card changed meanwhile"),
        event(id, &card.pid, &card.commune, to, actor, reason, &at),
    ];
    if to == CardState::Produced {
        let expiry = birth.and_then(|b| civitas_core::card::card_expiry(b, today));
        writes.push(Write::new(
            "UPDATE cards SET issued_on = $1, expires_on = $2, generation = $3 WHERE id = $4",
            vec![
                today.to_string().into(),
                Value::Text(expiry.map(|d| d.to_string())),
                generation_on(today).into(),
                id.into(),
            ],
        ));
    }
    if to == CardState::Returned {
        writes.push(Write::new(
            "INSERT INTO card_events (card_id, pid, commune, state, actor, reason, at) \
             SELECT id, pid, commune, 'replaced', $2, $3, $4 FROM cards WHERE pid = $1 AND state = 'returned' AND id <> $5",
            vec![card.pid.clone().into(), actor.into(), Value::Text(Some(format!("replaced by {id}"))), at.clone().into(), id.into()],
        ));
        writes.push(Write::new(
            "UPDATE cards SET state = 'replaced', updated_at = $2 WHERE pid = $1 AND state = 'returned' AND id <> $3",
            vec![card.pid.clone().into(), at.clone().into(), id.into()],
        ));
    }
    match civitas_store::unit::commit(db, &writes).await? {
        Ok(()) => get(db, id).await?.ok_or_else(|| CardError::NotFound(id.to_owned())),
        Err(_) => Err(CardError::Conflict),
    }
}

/// A lost card reported: the holder's valid card is revoked at once (state `lost`).
pub async fn report_lost(db: &Db, pid: &str, actor: &str, now: time::OffsetDateTime) -> Result<Card, CardError> {
    let cards = of_person(db, pid).await?;
    let valid = cards.iter().find(|c| c.state == "returned").ok_or_else(|| CardError::NoValidCard(pid.to_owned()))?;
    advance(db, &valid.id, CardState::Lost, None, actor, Some("reported lost"), now).await
}

/// The Project 06 counters of a set of communes: card data collected, cards produced, cards
/// returned to citizens (transitions counted, so a card counts once per stage).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counters {
    pub data_collected: i64,
    pub produced: i64,
    pub returned: i64,
}

pub async fn counters(db: &Db, communes: &[String]) -> Result<Counters, StoreError> {
    let mut out = Counters::default();
    for chunk in communes.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!(
            "SELECT state, COUNT(*) FROM card_events WHERE state IN ('collected', 'produced', 'returned') \
             AND commune IN ({}) GROUP BY state",
            placeholders.join(", ")
        );
        let rows: Vec<(String, i64)> = dispatch!(db, pool => {
            let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql.clone()));
            for c in chunk {
                q = q.bind(c);
            }
            q.fetch_all(pool).await
        })?;
        for (state, n) in rows {
            match state.as_str() {
                "collected" => out.data_collected += n,
                "produced" => out.produced += n,
                "returned" => out.returned += n,
                _ => {}
            }
        }
    }
    Ok(out)
}

/// [`counters`] of each of the given communes that has any, by commune code.
pub async fn counters_by_commune(db: &Db, communes: &[String]) -> Result<Vec<(String, Counters)>, StoreError> {
    let mut out: std::collections::BTreeMap<String, Counters> = std::collections::BTreeMap::new();
    for chunk in communes.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!(
            "SELECT commune, state, COUNT(*) FROM card_events WHERE state IN ('collected', 'produced', 'returned') \
             AND commune IN ({}) GROUP BY commune, state",
            placeholders.join(", ")
        );
        let rows: Vec<(String, String, i64)> = dispatch!(db, pool => {
            let mut q = sqlx::query_as::<_, (String, String, i64)>(sqlx::AssertSqlSafe(sql.clone()));
            for c in chunk {
                q = q.bind(c);
            }
            q.fetch_all(pool).await
        })?;
        for (commune, state, n) in rows {
            let c = out.entry(commune).or_default();
            match state.as_str() {
                "collected" => c.data_collected += n,
                "produced" => c.produced += n,
                "returned" => c.returned += n,
                _ => {}
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The cards on their way in the given communes (data collected, produced, at the commune),
/// the longest waiting first, at most `limit` (the counter's card desk).
pub async fn waiting(db: &Db, communes: &[String], limit: usize) -> Result<Vec<Card>, StoreError> {
    let mut out = Vec::new();
    for chunk in communes.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM cards WHERE state IN ('collected', 'produced', 'at-commune') \
             AND commune IN ({}) ORDER BY updated_at, id LIMIT {limit}",
            placeholders.join(", ")
        );
        let rows: Vec<Card> = dispatch!(db, pool => {
            let mut q = sqlx::query_as::<_, Card>(sqlx::AssertSqlSafe(sql.clone()));
            for c in chunk {
                q = q.bind(c);
            }
            q.fetch_all(pool).await
        })?;
        out.extend(rows);
    }
    out.sort_by(|a, b| (&a.updated_at, &a.id).cmp(&(&b.updated_at, &b.id)));
    out.truncate(limit);
    Ok(out)
}

/// A card of the demo: its id, holder, state, issue date and expiry.
type Seeded<'a> = (String, &'a Holder, CardState, Option<time::Date>, Option<time::Date>);

/// Someone the synthetic data gives a card: ID number, birth date, commune of residence.
pub struct Holder {
    pub pid: String,
    pub birth: time::Date,
    pub commune: String,
}

/// Plausible cards for synthetic people (the demo): from 14, most hold a returned card issued
/// between 2021 and `today`; some cards are still on their way (collected, produced, at the
/// commune); a few have none. Chosen from the ID number, so the same people get the same cards.
/// Returns the number of cards written.
pub async fn seed_plausible(db: &Db, holders: &[Holder], today: time::Date, at: &str) -> Result<usize, StoreError> {
    let mut cards: Vec<Seeded> = Vec::new();
    for h in holders {
        let age = today.year() - h.birth.year();
        if age < 14 {
            continue;
        }
        let n: u64 = h.pid.bytes().fold(7u64, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(b)));
        let state = match n % 100 {
            0..=84 => CardState::Returned,
            85..=89 => CardState::AtCommune,
            90..=93 => CardState::Produced,
            94..=96 => CardState::Collected,
            _ => continue,
        };
        let (issued, expiry) = if state == CardState::Collected {
            (None, None)
        } else {
            let first = time::macros::date!(2021 - 01 - 01);
            let span = (today - first).whole_days().max(1) as u64;
            let issued = first + time::Duration::days(((n / 100) % span) as i64);
            let issued = issued.max(civitas_core::card::birthday_at(h.birth, 14).unwrap_or(issued)).min(today);
            (Some(issued), civitas_core::card::card_expiry(h.birth, issued))
        };
        cards.push((format!("C-{}", crate::documents::new_id()), h, state, issued, expiry));
    }
    let stages = [CardState::Collected, CardState::Produced, CardState::AtCommune, CardState::Returned];
    for chunk in cards.chunks(1000) {
        dispatch!(db, pool => {
            let mut tx = civitas_store::BeginWrite::begin_write(pool).await?;
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO cards (id, pid, generation, issued_on, expires_on, state, commune, created_at, updated_at) ",
            );
            qb.push_values(chunk, |mut b, (id, h, state, issued, expiry)| {
                b.push_bind(id.as_str())
                    .push_bind(h.pid.as_str())
                    .push_bind(generation_on(issued.unwrap_or(today)))
                    .push_bind(issued.map(|d| d.to_string()))
                    .push_bind(expiry.map(|d| d.to_string()))
                    .push_bind(state.as_str())
                    .push_bind(h.commune.as_str())
                    .push_bind(at)
                    .push_bind(at);
            });
            qb.build().execute(&mut *tx).await?;
            // Each stage on its day (so the steering trend shows when cards were made): data
            // collected a week before the card was produced (its issue date), at the commune
            // five days after, handed over three days later; never after today.
            let events: Vec<(&str, &Holder, CardState, String)> = chunk
                .iter()
                .flat_map(|(id, h, state, issued, _)| {
                    let reached = stages.iter().position(|s| s == state).unwrap_or(0);
                    let base = issued.unwrap_or(today - time::Duration::days(3));
                    stages[..=reached].iter().enumerate().map(move |(k, s)| {
                        let day = (base + time::Duration::days([-7, 0, 5, 8][k])).min(today);
                        (id.as_str(), *h, *s, stage_time(day, at))
                    })
                })
                .collect();
            for events in events.chunks(1000) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO card_events (card_id, pid, commune, state, actor, at) ");
                qb.push_values(events, |mut b, (id, h, s, when)| {
                    b.push_bind(*id)
                        .push_bind(h.pid.as_str())
                        .push_bind(h.commune.as_str())
                        .push_bind(s.as_str())
                        .push_bind("civitas-demo")
                        .push_bind(when.as_str());
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
    }
    Ok(cards.len())
}

/// 09:00 in Vietnam on `day`, as stored; `at` itself when the day is today or later.
fn stage_time(day: time::Date, at: &str) -> String {
    let stamp = civitas_store::timestamp(day.with_time(time::macros::time!(02:00)).assume_utc());
    if stamp.as_str() > at { at.to_owned() } else { stamp }
}

/// How a chip's data agrees with the register (remote onboarding's match, and
/// `POST /api/v1/cards/verify`): the person found by DG13's ID number, the name (folded), birth
/// date and sex; the holder living; the register's newest card of that person neither lost,
/// revoked, expired nor replaced — and, when both are known, issued on the chip's issue date.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegisterMatch {
    pub found: bool,
    pub name: bool,
    pub birth_date: bool,
    pub sex: bool,
    pub living: bool,
    /// The state of the register's newest card of the person (None: no card known, or the
    /// cards not read).
    pub card_state: Option<String>,
    /// None: the register's cards were not read (an agency system: its grant names attributes).
    pub card_valid: Option<bool>,
    /// The register's card was issued on the chip's issue date (None: a date unknown).
    pub same_issue_date: Option<bool>,
    /// Everything above agrees.
    pub matches: bool,
}

/// [`RegisterMatch`] of a chip's DG13 against the person the register holds (None: no such
/// person) and that person's cards (newest first; None: not read).
pub fn register_match(
    person: Option<&civitas_registry::model::Person>,
    cards: Option<&[Card]>,
    dg13: &civitas_core::chip::Dg13,
) -> RegisterMatch {
    let Some(person) = person else {
        return RegisterMatch {
            found: false,
            name: false,
            birth_date: false,
            sex: false,
            living: false,
            card_state: None,
            card_valid: None,
            same_issue_date: None,
            matches: false,
        };
    };
    let name = dg13.full_name().is_some_and(|n| civitas_core::fold(n) == civitas_core::fold(&person.full_name));
    let birth_date = dg13.birth_date().is_some_and(|b| b == person.birth_date);
    let sex = dg13.sex() == Some(person.sex);
    let living = person.status == civitas_core::LifeStatus::Living;
    let newest = cards.and_then(<[Card]>::first);
    let card_valid =
        cards.map(|_| newest.is_some_and(|c| !matches!(c.state.as_str(), "lost" | "revoked" | "expired" | "replaced")));
    let chip_issued = dg13.text(11).and_then(|t| civitas_core::PartialDate::parse_vn(t).ok());
    let same_issue_date = match (newest.and_then(|c| c.issued_on.as_deref()), chip_issued) {
        (Some(on), Some(chip)) => Some(chip.to_string() == on),
        _ => None,
    };
    RegisterMatch {
        found: true,
        name,
        birth_date,
        sex,
        living,
        card_state: newest.map(|c| c.state.clone()),
        card_valid,
        same_issue_date,
        matches: name && birth_date && sex && living && card_valid != Some(false) && same_issue_date != Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_goes_forward_and_ends() {
        use CardState::*;
        assert_eq!(Collected.next(), &[Produced, Revoked]);
        assert!(Returned.next().contains(&Lost));
        assert!(Lost.next().is_empty() && Replaced.next().is_empty());
        for s in CardState::ALL {
            assert_eq!(CardState::parse(s.as_str()), Some(s));
        }
        assert_eq!(generation_on(time::macros::date!(2024 - 06 - 30)), "cccd-2021");
        assert_eq!(generation_on(time::macros::date!(2024 - 07 - 01)), "can-cuoc-2024");
    }
}
