//! How events become facts. A fact is a signed count on one day; every change is written for the
//! unit and its higher levels ([`crate::levels`]), for the total (`dim` '') and, for dossier
//! measures, per procedure (`p:<code>`); the processing outcome also per official (`o:<id>`)
//! — the breakdowns in the monthly rollup only.
//! Stocks are kept as flows: "open" is +1 on the day a dossier is received and -1 on the day its
//! processing ends; "overdue" is +1 on the day after its promised
//! date — booked ahead, and retracted when the dossier ends or its clock stops first. A stock at
//! a period's end is the sum of its flow over every day before the end.
//!
//! The fold reads the events and what it remembers of each dossier ([`DossierMemo`]), nothing
//! else — except the commune of an e-ID account's holder, which e-ID events do not carry
//! (looked up by ID number, see [`Fold::needs_communes`]). So the incremental consumer and
//! `reports rebuild` give the same facts.

use std::borrow::Cow;
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use time::{Date, Duration};

use civitas_store::events::StoredEvent;

use crate::facts::Row;
use crate::{levels, local_day, parse_day};

/// The measures the fold counts. Indicators of the catalogue are sums and ratios of these.
pub mod m {
    pub const RECEIVED: &str = "dossiers.received";
    pub const RECEIVED_ONLINE: &str = "dossiers.received.online";
    pub const RECEIVED_COUNTER: &str = "dossiers.received.counter";
    pub const RECEIVED_POSTAL: &str = "dossiers.received.postal";
    pub const RECEIVED_REUSED: &str = "dossiers.received.reused";
    pub const RECEIVED_DIGITISED: &str = "dossiers.received.digitised";
    /// Dossiers with a component taken from the applicant's store (a coded document or result).
    pub const RECEIVED_STORE: &str = "dossiers.received.store";
    pub const OPEN: &str = "dossiers.open";
    pub const OVERDUE: &str = "dossiers.overdue";
    pub const EARLY: &str = "dossiers.processed.early";
    pub const ON_TIME: &str = "dossiers.processed.on_time";
    pub const LATE: &str = "dossiers.processed.late";
    pub const PROCESSING_DAYS: &str = "dossiers.processing_days";
    pub const RESULT_ELECTRONIC: &str = "dossiers.result.electronic";
    /// Dossiers of the interconnected procedures ([`super::INTERCONNECTED`]) processed.
    pub const INTERCONNECTED_PROCESSED: &str = "dossiers.interconnected.processed";
    pub const WITHDRAWN: &str = "dossiers.closed.withdrawn";
    pub const LAPSED: &str = "dossiers.closed.lapsed";
    pub const REJECTED: &str = "dossiers.closed.rejected";
    pub const SUPPLEMENTS: &str = "dossiers.supplement_requests";
    pub const APOLOGIES: &str = "dossiers.apologies";
    pub const RATED_VERY: &str = "ratings.very_satisfied";
    pub const RATED_OK: &str = "ratings.satisfied";
    pub const RATED_NOT: &str = "ratings.not_satisfied";
    pub const BIRTHS: &str = "civil.births";
    pub const BIRTHS_LATE: &str = "civil.births.late";
    pub const DEATHS: &str = "civil.deaths";
    pub const DEATHS_LATE: &str = "civil.deaths.late";
    pub const MARRIAGES: &str = "civil.marriages";
    pub const EID_L1: &str = "eid.created.level1";
    pub const EID_L2: &str = "eid.created.level2";
    pub const EID_ACTIVATED: &str = "eid.activated";
    pub const EID_RAISED: &str = "eid.raised_to_level2";
    pub const CARDS_COLLECTED: &str = "cards.collected";
    pub const CARDS_PRODUCED: &str = "cards.produced";
    pub const CARDS_RETURNED: &str = "cards.returned";

    /// Estimated events (not folded: computed from the register's population and a crude rate,
    /// see [`crate::population`]); an indicator using one defines its rate.
    pub const ESTIMATED_BIRTHS: &str = "estimated.births";
    pub const ESTIMATED_DEATHS: &str = "estimated.deaths";
    pub const ESTIMATED: &[&str] = &[ESTIMATED_BIRTHS, ESTIMATED_DEATHS];

    /// Every measure, for the catalogue's check.
    pub const ALL: &[&str] = &[
        RECEIVED,
        RECEIVED_ONLINE,
        RECEIVED_COUNTER,
        RECEIVED_POSTAL,
        RECEIVED_REUSED,
        RECEIVED_DIGITISED,
        RECEIVED_STORE,
        OPEN,
        OVERDUE,
        EARLY,
        ON_TIME,
        LATE,
        PROCESSING_DAYS,
        RESULT_ELECTRONIC,
        INTERCONNECTED_PROCESSED,
        WITHDRAWN,
        LAPSED,
        REJECTED,
        SUPPLEMENTS,
        APOLOGIES,
        RATED_VERY,
        RATED_OK,
        RATED_NOT,
        BIRTHS,
        BIRTHS_LATE,
        DEATHS,
        DEATHS_LATE,
        MARRIAGES,
        EID_L1,
        EID_L2,
        EID_ACTIVATED,
        EID_RAISED,
        CARDS_COLLECTED,
        CARDS_PRODUCED,
        CARDS_RETURNED,
    ];

    /// Stocks: summed up to a period's end, not over it.
    pub const STOCKS: &[&str] = &[OPEN, OVERDUE];
}

/// (measure, unit, day) of a daily total, the unit as an id of [`Names`].
pub type DayKey = (&'static str, u32, Date);

/// (measure, unit, dim, month) of the monthly rollup: the unit and dimension as ids of
/// [`Names`], the month as `year * 12 + month - 1`.
pub type MonthKey = (&'static str, u32, u32, i32);

fn month_index(day: Date) -> i32 {
    day.year() * 12 + day.month() as i32 - 1
}

/// A unit and its higher levels as ids of [`Names`] (at most commune, province, nation).
#[derive(Debug, Clone, Copy)]
struct Levels {
    ids: [u32; 3],
    n: usize,
}

/// Interned unit and dimension names (a fold adds a fact for three units and two or three
/// dimensions per change: no string is built per fact), with each unit's levels cached.
#[derive(Debug, Default)]
pub struct Names {
    names: Vec<String>,
    ids: FxHashMap<String, u32>,
    /// Dimension id of a procedure (`p:`) or official (`o:`), by the raw code.
    procedures: FxHashMap<String, u32>,
    officials: FxHashMap<String, u32>,
    levels: FxHashMap<String, Levels>,
    /// The same by the unit's id (the first of its levels).
    by_id: FxHashMap<u32, Levels>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.ids.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), i);
        i
    }

    fn dim(&mut self, official: bool, code: &str) -> u32 {
        let found = if official { self.officials.get(code) } else { self.procedures.get(code) };
        if let Some(i) = found {
            return *i;
        }
        let i = self.id(&format!("{}:{code}", if official { "o" } else { "p" }));
        if official {
            self.officials.insert(code.to_owned(), i)
        } else {
            self.procedures.insert(code.to_owned(), i)
        };
        i
    }

    fn levels(&mut self, unit: &str) -> Levels {
        if let Some(l) = self.levels.get(unit) {
            return *l;
        }
        let mut l = Levels { ids: [0; 3], n: 0 };
        for (slot, name) in l.ids.iter_mut().zip(levels(unit)) {
            *slot = self.id(&name);
            l.n += 1;
        }
        self.levels.insert(unit.to_owned(), l);
        self.by_id.insert(l.ids[0], l);
        l
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map(String::as_str).unwrap_or_default()
    }
}

/// What the consumer remembers of a dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierMemo {
    pub unit: String,
    pub procedure: String,
    pub channel: String,
    pub received_on: Date,
    pub appointment_on: Date,
    /// The day its "overdue" +1 is booked on, while one is.
    pub overdue_on: Option<Date>,
    pub state: String,
    pub supplements: i64,
}

/// One card event (the card register keeps its own log).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CardEvent {
    pub id: i64,
    pub commune: String,
    pub state: String,
    pub at: String,
}

/// An event as the fold reads it: borrowed, so a rebuild folds rows where the database
/// driver left them.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub kind: &'a str,
    pub subject: &'a str,
    pub payload: &'a str,
    pub actor: &'a str,
    pub occurred_at: &'a str,
}

impl<'a> From<&'a StoredEvent> for EventRef<'a> {
    fn from(e: &'a StoredEvent) -> Self {
        EventRef {
            kind: &e.kind,
            subject: &e.subject,
            payload: &e.payload,
            actor: &e.actor,
            occurred_at: &e.occurred_at,
        }
    }
}

/// The payload fields the fold reads, borrowed from the JSON text where it has no escapes.
#[derive(Debug, Default, serde::Deserialize)]
struct Payload<'a> {
    #[serde(borrow, default)]
    unit: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    procedure: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    appointment: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    to: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timeliness: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    rating: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    dossier: Option<Cow<'a, str>>,
    #[serde(default)]
    reused: Option<bool>,
    #[serde(default)]
    digitised: Option<bool>,
    #[serde(default)]
    from_store: Option<bool>,
    #[serde(default)]
    result: Option<bool>,
    #[serde(default)]
    late: Option<bool>,
    #[serde(default)]
    level: Option<i64>,
}

impl<'a> Payload<'a> {
    /// The payload's fields. A payload whose fields do not have the expected types (or that is
    /// not JSON) is read field by field: a field of another type counts as absent.
    fn parse(text: &'a str) -> Payload<'a> {
        if let Ok(p) = serde_json::from_str::<Payload>(text) {
            return p;
        }
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(|x| Cow::Owned(x.to_owned()));
        let b = |k: &str| v.get(k).and_then(|x| x.as_bool());
        Payload {
            unit: s("unit"),
            procedure: s("procedure"),
            channel: s("channel"),
            appointment: s("appointment"),
            to: s("to"),
            timeliness: s("timeliness"),
            rating: s("rating"),
            dossier: s("dossier"),
            reused: b("reused"),
            digitised: b("digitised"),
            from_store: b("from_store"),
            result: b("result"),
            late: b("late"),
            level: v.get("level").and_then(|x| x.as_i64()),
        }
    }
}

fn text<'b>(v: &'b Option<Cow<'_, str>>) -> &'b str {
    v.as_deref().unwrap_or_default()
}

/// A dossier the fold knows: its memo (`None`: looked up and unknown) and whether it changed.
#[derive(Debug, Default)]
pub struct Known {
    pub memo: Option<DossierMemo>,
    pub dirty: bool,
}

/// The fact deltas of a fold (apart from the dossiers, so a handler can change a memo and add
/// facts at once): the daily totals, and the monthly rollup with its per-procedure and
/// per-official breakdowns (kept per month only).
#[derive(Debug, Default)]
pub struct Facts {
    pub daily: FxHashMap<DayKey, i64>,
    pub monthly: FxHashMap<MonthKey, i64>,
    pub names: Names,
}

impl Facts {
    /// Counts `v` for the unit (the first of `levels`); its higher levels are summed when the
    /// rows are taken ([`Fold::day_rows`]), once per fact instead of once per event.
    fn add(&mut self, measure: &'static str, levels: Levels, dim: Option<u32>, day: Date, v: i64) {
        let (unit, month) = (levels.ids[0], month_index(day));
        *self.daily.entry((measure, unit, day)).or_default() += v;
        *self.monthly.entry((measure, unit, TOTAL, month)).or_default() += v;
        if let Some(d) = dim {
            *self.monthly.entry((measure, unit, d, month)).or_default() += v;
        }
    }

    /// Each fact of `map` with its unit's higher levels added: a commune's facts as they are
    /// (no other fact has their key) and the sums for provinces and the nation (with a
    /// province's own facts, and the nation's).
    fn rolled_up<K: Copy + Eq + std::hash::Hash>(
        &self,
        map: &FxHashMap<K, i64>,
        unit_of: impl Fn(&K) -> u32,
        with_unit: impl Fn(&K, u32) -> K,
    ) -> Vec<(K, i64)> {
        let mut out = Vec::with_capacity(map.len() + map.len() / 4);
        let mut higher: FxHashMap<K, i64> = FxHashMap::with_capacity_and_hasher(map.len() / 2, Default::default());
        for (k, v) in map {
            let unit = unit_of(k);
            let levels = self.names.by_id.get(&unit).copied().unwrap_or(Levels { ids: [unit, 0, 0], n: 1 });
            let from = if levels.n == 3 {
                out.push((*k, *v));
                1
            } else {
                0
            };
            for level in levels.ids[from..levels.n].iter() {
                *higher.entry(with_unit(k, *level)).or_default() += v;
            }
        }
        out.extend(higher);
        out.retain(|(_, v)| *v != 0);
        out
    }

    /// The name ids in the order of their names (rows are written in key order).
    fn ranks(&self) -> Vec<u32> {
        let names = &self.names.names;
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_unstable_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
        let mut rank = vec![0; names.len()];
        for (r, id) in order.into_iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        rank
    }
}

/// A fact to sort into rows: (period, unit's rank, dim's rank, column, (unit, dim), change).
type Sortable<P> = (P, u32, u32, usize, (u32, u32), i64);

/// The id of the total dimension ('') in every [`Names`] (interned first).
const TOTAL: u32 = 0;

/// The running fold: fact deltas and the dossiers it touched.
#[derive(Debug)]
pub struct Fold {
    pub facts: Facts,
    /// Dossiers known to the fold (loaded or created).
    pub dossiers: FxHashMap<String, Known>,
    /// Commune of e-ID holders (ID number → commune), filled by the caller.
    pub communes: HashMap<String, String>,
    /// Events the fold could not place (a step of a dossier whose receipt it never saw).
    pub skipped: u64,
    /// The share of the log this fold takes (`k` of `n`: the dossiers and e-ID holders whose
    /// key hashes to `k`), so that a rebuild folds on every core; `None`: everything.
    pub part: Option<(u64, u64)>,
}

impl Default for Fold {
    fn default() -> Self {
        let mut facts = Facts::default();
        let total = facts.names.id("");
        debug_assert_eq!(total, TOTAL);
        Fold { facts, dossiers: FxHashMap::default(), communes: HashMap::new(), skipped: 0, part: None }
    }
}

const ENDING: &[&str] = &["result_issued", "refused", "withdrawn", "lapsed", "rejected_at_receipt"];

impl Fold {
    /// The daily facts to write, one row per (day, unit) in key order, zero changes left out.
    /// Only the totals are kept per day; the per-procedure and per-official breakdowns are
    /// kept per month ([`Fold::month_rows`]), which halves the rows written.
    pub fn day_rows(&self) -> Vec<Row<'_>> {
        let rank = self.facts.ranks();
        let keys = self.facts.rolled_up(&self.facts.daily, |k| k.1, |k, u| (k.0, u, k.2));
        let keys = keys.into_iter().map(|((m, u, day), v)| ((day, u, TOTAL), m, v));
        self.wide(keys, &rank, |day| day.to_string())
    }

    /// The monthly rollup to write, one row per (`YYYY-MM`, unit, dim) in key order.
    pub fn month_rows(&self) -> Vec<Row<'_>> {
        let rank = self.facts.ranks();
        let keys = self.facts.rolled_up(&self.facts.monthly, |k| k.1, |k, u| (k.0, u, k.2, k.3));
        let keys = keys.into_iter().map(|((m, u, d, month), v)| ((month, u, d), m, v));
        self.wide(keys, &rank, |month| format!("{:04}-{:02}", month.div_euclid(12), month.rem_euclid(12) + 1))
    }

    /// Facts of one measure each ((period, unit, dim), measure, change) as rows of one
    /// (period, unit, dim) each, sorted by period, unit name and dim name, their changes in
    /// column order; each period's text made once.
    fn wide<P: Copy + Ord>(
        &self,
        keys: impl Iterator<Item = ((P, u32, u32), &'static str, i64)>,
        rank: &[u32],
        text: impl Fn(P) -> String,
    ) -> Vec<Row<'_>> {
        let names = &self.facts.names;
        // The sort key in the tuple itself (ranks looked up once, not in every comparison).
        let rank = |id: u32| rank.get(id as usize).copied().unwrap_or(u32::MAX);
        let mut keys: Vec<Sortable<P>> = keys
            .filter_map(|((p, u, d), m, v)| Some((p, rank(u), rank(d), crate::facts::column(m)?, (u, d), v)))
            .collect();
        keys.sort_unstable_by_key(|k| (k.0, k.1, k.2, k.3));
        let mut out: Vec<Row<'_>> = Vec::with_capacity(keys.len() / 2);
        let mut last: Option<((P, u32, u32), String)> = None;
        for (p, _, _, c, (u, d), v) in keys {
            let key = (p, u, d);
            match (&last, out.last_mut()) {
                (Some((k, _)), Some(row)) if *k == key => row.values.push((c, v)),
                _ => {
                    let period = match &last {
                        Some(((p, _, _), t)) if *p == key.0 => t.clone(),
                        _ => text(key.0),
                    };
                    out.push(Row {
                        period: period.clone(),
                        unit: names.name(key.1),
                        dim: names.name(key.2),
                        values: vec![(c, v)],
                    });
                    last = Some((key, period));
                }
            }
        }
        out
    }

    /// The daily facts one measure each, as (measure, unit, dim, day, change) (for the tests).
    #[cfg(test)]
    pub fn fact_rows(&self) -> Vec<(&'static str, &str, &str, String, i64)> {
        Self::narrow(self.day_rows())
    }

    /// The monthly facts one measure each (for the tests).
    #[cfg(test)]
    pub fn month_narrow(&self) -> Vec<(&'static str, &str, &str, String, i64)> {
        Self::narrow(self.month_rows())
    }

    #[cfg(test)]
    fn narrow(rows: Vec<Row<'_>>) -> Vec<(&'static str, &str, &str, String, i64)> {
        rows.into_iter()
            .flat_map(|r| r.values.into_iter().map(move |(c, v)| (m::ALL[c], r.unit, r.dim, r.period.clone(), v)))
            .collect()
    }

    /// The dossiers whose memo changed, with it.
    pub fn dirty(&self) -> impl Iterator<Item = (&String, &DossierMemo)> {
        self.dossiers.iter().filter(|(_, k)| k.dirty).filter_map(|(c, k)| k.memo.as_ref().map(|m| (c, m)))
    }

    /// How many dossiers the fold holds a memo of.
    pub fn known(&self) -> usize {
        self.dossiers.values().filter(|k| k.memo.is_some()).count()
    }

    /// The dossier codes and ID numbers this batch needs from storage before it is folded.
    pub fn needs(events: &[StoredEvent]) -> (Vec<String>, Vec<String>) {
        let mut codes = Vec::new();
        let mut pids = Vec::new();
        for e in events {
            if e.kind.starts_with("dossier.") {
                codes.push(e.subject.clone());
            } else if e.kind.starts_with("civil.") {
                if let Some(d) = Payload::parse(&e.payload).dossier {
                    codes.push(d.into_owned());
                }
            } else if Self::needs_communes(&e.kind) {
                pids.push(e.subject.clone());
            }
        }
        codes.sort_unstable();
        codes.dedup();
        pids.sort_unstable();
        pids.dedup();
        (codes, pids)
    }

    /// e-ID events that count per commune of the holder.
    pub fn needs_communes(kind: &str) -> bool {
        matches!(kind, "eid.created" | "eid.registered" | "eid.activated" | "eid.level_raised")
    }

    /// Whether this fold takes `e` (see [`Fold::part`]): a dossier's events, and a civil
    /// record's by its dossier, all go to one part; e-ID events by the holder.
    pub fn owns(&self, e: EventRef<'_>) -> bool {
        let Some((k, n)) = self.part else { return true };
        use std::hash::{BuildHasher, Hasher};
        let hash = |key: &str| {
            let mut h = rustc_hash::FxBuildHasher.build_hasher();
            h.write(key.as_bytes());
            h.finish()
        };
        if e.kind.starts_with("civil.") {
            let p = Payload::parse(e.payload);
            return hash(p.dossier.as_deref().unwrap_or_default()) % n == k;
        }
        hash(e.subject) % n == k
    }

    /// Adds another part's facts, dossiers and skipped events to this fold.
    pub fn merge(&mut self, other: Fold) {
        let remap: Vec<u32> = other.facts.names.names.iter().map(|n| self.facts.names.id(n)).collect();
        // Every unit of the other part's facts, with its levels, for the roll-up.
        for unit in other.facts.names.levels.keys() {
            self.facts.names.levels(unit);
        }
        let at = |i: u32| remap.get(i as usize).copied().unwrap_or(TOTAL);
        for ((m, u, day), v) in other.facts.daily {
            *self.facts.daily.entry((m, at(u), day)).or_default() += v;
        }
        for ((m, u, d, month), v) in other.facts.monthly {
            *self.facts.monthly.entry((m, at(u), at(d), month)).or_default() += v;
        }
        self.dossiers.extend(other.dossiers);
        self.communes.extend(other.communes);
        self.skipped += other.skipped;
    }

    pub fn apply(&mut self, e: &StoredEvent) {
        self.apply_ref(EventRef::from(e));
    }

    pub fn apply_ref(&mut self, e: EventRef<'_>) {
        let Some(day) = local_day(e.occurred_at) else {
            self.skipped += 1;
            return;
        };
        // Events the reports do not count are not parsed.
        let counted = e.kind.starts_with("dossier.") || e.kind.starts_with("civil.") || Self::needs_communes(e.kind);
        if !counted {
            return;
        }
        let p = Payload::parse(e.payload);
        match e.kind {
            "dossier.received" => self.received(e, &p, day),
            "dossier.step" => self.step(e, &p, day),
            "dossier.apology" => {
                self.count(e.subject, m::APOLOGIES, true, day);
            }
            "dossier.rated" => {
                let measure = match text(&p.rating) {
                    "very_satisfied" => m::RATED_VERY,
                    "satisfied" => m::RATED_OK,
                    "not_satisfied" => m::RATED_NOT,
                    _ => return,
                };
                self.count(e.subject, measure, true, day);
            }
            "civil.birth_registered" | "civil.death_registered" | "civil.marriage_registered" => {
                let Some(code) = p.dossier.as_deref() else { return };
                let (measure, late) = match e.kind {
                    "civil.birth_registered" => (m::BIRTHS, Some(m::BIRTHS_LATE)),
                    "civil.death_registered" => (m::DEATHS, Some(m::DEATHS_LATE)),
                    _ => (m::MARRIAGES, None),
                };
                if self.count(code, measure, false, day)
                    && p.late.unwrap_or(false)
                    && let Some(late) = late
                {
                    self.count(code, late, false, day);
                }
            }
            kind if Self::needs_communes(kind) => {
                let unit = self.communes.get(e.subject).map(String::as_str).unwrap_or_default();
                let levels = self.facts.names.levels(unit);
                let measure = match kind {
                    "eid.created" | "eid.registered" if p.level.unwrap_or(1) >= 2 => m::EID_L2,
                    "eid.created" | "eid.registered" => m::EID_L1,
                    "eid.activated" => m::EID_ACTIVATED,
                    _ => m::EID_RAISED,
                };
                self.facts.add(measure, levels, None, day, 1);
            }
            _ => {}
        }
    }

    pub fn apply_card(&mut self, e: &CardEvent) {
        let Some(day) = local_day(&e.at) else {
            self.skipped += 1;
            return;
        };
        let measure = match e.state.as_str() {
            "collected" => m::CARDS_COLLECTED,
            "produced" => m::CARDS_PRODUCED,
            "returned" => m::CARDS_RETURNED,
            _ => return,
        };
        let levels = self.facts.names.levels(&e.commune);
        self.facts.add(measure, levels, None, day, 1);
    }

    /// Counts 1 of `measure` in a known dossier's unit (and per procedure when `per_procedure`);
    /// false (and skipped) for a dossier the fold does not know.
    fn count(&mut self, code: &str, measure: &'static str, per_procedure: bool, day: Date) -> bool {
        let Some(d) = self.dossiers.get(code).and_then(|k| k.memo.as_ref()) else {
            self.skipped += 1;
            return false;
        };
        let names = &mut self.facts.names;
        let levels = names.levels(&d.unit);
        let dim = per_procedure.then(|| names.dim(false, &d.procedure));
        self.facts.add(measure, levels, dim, day, 1);
        true
    }

    fn received(&mut self, e: EventRef<'_>, p: &Payload<'_>, day: Date) {
        let appointment = parse_day(text(&p.appointment)).unwrap_or(day);
        let (unit, procedure) = (text(&p.unit), text(&p.procedure));
        let levels = self.facts.names.levels(unit);
        let dim = Some(self.facts.names.dim(false, procedure));
        let f = &mut self.facts;
        f.add(m::RECEIVED, levels, dim, day, 1);
        let channel = match text(&p.channel) {
            "online" => m::RECEIVED_ONLINE,
            "postal" => m::RECEIVED_POSTAL,
            _ => m::RECEIVED_COUNTER,
        };
        f.add(channel, levels, dim, day, 1);
        for (flag, measure) in
            [(p.reused, m::RECEIVED_REUSED), (p.digitised, m::RECEIVED_DIGITISED), (p.from_store, m::RECEIVED_STORE)]
        {
            if flag.unwrap_or(false) {
                f.add(measure, levels, dim, day, 1);
            }
        }
        f.add(m::OPEN, levels, dim, day, 1);
        let due = appointment + Duration::days(1);
        f.add(m::OVERDUE, levels, dim, due, 1);
        let memo = DossierMemo {
            unit: unit.to_owned(),
            procedure: procedure.to_owned(),
            channel: text(&p.channel).to_owned(),
            received_on: day,
            appointment_on: appointment,
            overdue_on: Some(due),
            state: "received".into(),
            supplements: 0,
        };
        match self.dossiers.get_mut(e.subject) {
            Some(k) => *k = Known { memo: Some(memo), dirty: true },
            None => {
                self.dossiers.insert(e.subject.to_owned(), Known { memo: Some(memo), dirty: true });
            }
        }
    }

    fn step(&mut self, e: EventRef<'_>, p: &Payload<'_>, day: Date) {
        let Some(known) = self.dossiers.get_mut(e.subject) else {
            self.skipped += 1;
            return;
        };
        let Some(d) = known.memo.as_mut() else {
            self.skipped += 1;
            return;
        };
        let to = text(&p.to);
        if to == d.state && to != "in_processing" {
            return; // a step that changes nothing the reports count (a rating, a return's echo)
        }
        known.dirty = true;
        let f = &mut self.facts;
        let appointment = p.appointment.as_deref().and_then(parse_day).unwrap_or(d.appointment_on);
        let levels = f.names.levels(&d.unit);
        let dim = Some(f.names.dim(false, &d.procedure));
        let was_open = !ENDING.contains(&d.state.as_str());
        if to == "supplement_requested" {
            d.supplements += 1;
            f.add(m::SUPPLEMENTS, levels, dim, day, 1);
            // The clock stops: not overdue while the applicant is awaited, unless it already was.
            if let Some(o) = d.overdue_on
                && o > day
            {
                f.add(m::OVERDUE, levels, dim, o, -1);
                d.overdue_on = None;
            }
        } else if ENDING.contains(&to) && was_open {
            f.add(m::OPEN, levels, dim, day, -1);
            if let Some(o) = d.overdue_on.take() {
                f.add(m::OVERDUE, levels, dim, o.max(day), -1);
            }
            match to {
                "withdrawn" => f.add(m::WITHDRAWN, levels, dim, day, 1),
                "lapsed" => f.add(m::LAPSED, levels, dim, day, 1),
                "rejected_at_receipt" => f.add(m::REJECTED, levels, dim, day, 1),
                _ => {
                    let measure = match text(&p.timeliness) {
                        "early" => m::EARLY,
                        "on_time" => m::ON_TIME,
                        "late" => m::LATE,
                        _ => match day.cmp(&appointment) {
                            std::cmp::Ordering::Less => m::EARLY,
                            std::cmp::Ordering::Equal => m::ON_TIME,
                            std::cmp::Ordering::Greater => m::LATE,
                        },
                    };
                    f.add(measure, levels, dim, day, 1);
                    // Per official: no total (it is the line above).
                    let official = f.names.dim(true, e.actor);
                    *f.monthly.entry((measure, levels.ids[0], official, month_index(day))).or_default() += 1;
                    if INTERCONNECTED.contains(&d.procedure.as_str()) {
                        f.add(m::INTERCONNECTED_PROCESSED, levels, dim, day, 1);
                    }
                    let days = (day - d.received_on).whole_days();
                    f.add(m::PROCESSING_DAYS, levels, dim, day, days);
                    if to == "result_issued" && p.result.unwrap_or(false) {
                        f.add(m::RESULT_ELECTRONIC, levels, dim, day, 1);
                    }
                }
            }
        } else if was_open {
            // Still open: book (or move) its overdue day to the day after its promised date.
            let due = (appointment + Duration::days(1)).max(day);
            match d.overdue_on {
                None => {
                    f.add(m::OVERDUE, levels, dim, due, 1);
                    d.overdue_on = Some(due);
                }
                Some(o) if o > day && o != due => {
                    f.add(m::OVERDUE, levels, dim, o, -1);
                    f.add(m::OVERDUE, levels, dim, due, 1);
                    d.overdue_on = Some(due);
                }
                Some(_) => {}
            }
        }
        d.appointment_on = appointment;
        if d.state != to {
            d.state = to.to_owned();
        }
    }
}

/// The interconnected procedures of the 25 essential services (DOMAIN.md): birth registration
/// with permanent residence and the child's health-insurance card, and death registration with
/// residence deregistration and the funeral allowance.
pub const INTERCONNECTED: &[&str] = &["DVC-15", "DVC-16"];

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
