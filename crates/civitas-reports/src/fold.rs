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

use std::collections::{HashMap, HashSet};

use time::{Date, Duration};

use civitas_store::events::StoredEvent;

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

/// (measure, unit, dim, day), the unit and dimension as ids of [`Names`].
pub type FactKey = (&'static str, u32, u32, Date);

/// Interned unit and dimension names (a fold adds a fact for three units and two or three
/// dimensions per change: no string is built per fact), with each unit's levels cached.
#[derive(Debug, Default)]
pub struct Names {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    /// Dimension id of a procedure (`p:`) or official (`o:`), by the raw code.
    procedures: HashMap<String, u32>,
    officials: HashMap<String, u32>,
    levels: HashMap<u32, Vec<u32>>,
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

    fn levels(&mut self, unit: &str) -> Vec<u32> {
        let u = self.id(unit);
        if let Some(l) = self.levels.get(&u) {
            return l.clone();
        }
        let l: Vec<u32> = levels(unit).iter().map(|x| self.id(x)).collect();
        self.levels.insert(u, l.clone());
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

/// The running fold: fact deltas and the dossiers it touched.
#[derive(Debug, Default)]
pub struct Fold {
    pub facts: HashMap<FactKey, i64>,
    pub names: Names,
    /// Dossiers known to the fold (loaded or created); `None`: looked up and unknown.
    pub dossiers: HashMap<String, Option<DossierMemo>>,
    pub dirty: HashSet<String>,
    /// Commune of e-ID holders (ID number → commune), filled by the caller.
    pub communes: HashMap<String, String>,
    /// Events the fold could not place (a step of a dossier whose receipt it never saw).
    pub skipped: u64,
}

const ENDING: &[&str] = &["result_issued", "refused", "withdrawn", "lapsed", "rejected_at_receipt"];

impl Fold {
    fn add(&mut self, measure: &'static str, unit: &str, procedure: Option<&str>, day: Date, v: i64) {
        let total = self.names.id("");
        let dim = procedure.map(|p| self.names.dim(false, p));
        for level in self.names.levels(unit) {
            *self.facts.entry((measure, level, total, day)).or_default() += v;
            if let Some(d) = dim {
                *self.facts.entry((measure, level, d, day)).or_default() += v;
            }
        }
    }

    fn add_official(&mut self, measure: &'static str, unit: &str, official: &str, day: Date) {
        let dim = self.names.dim(true, official);
        for level in self.names.levels(unit) {
            *self.facts.entry((measure, level, dim, day)).or_default() += 1;
        }
    }

    /// The daily facts to write: (measure, unit, dim, day, change), zero changes left out. Only
    /// the totals are kept per day; the per-procedure and per-official breakdowns are kept per
    /// month ([`Fold::month_rows`]), which halves the rows written.
    pub fn fact_rows(&self) -> Vec<(&'static str, &str, &str, Date, i64)> {
        let total = self.names.ids.get("").copied();
        self.facts
            .iter()
            .filter(|((_, _, d, _), v)| **v != 0 && Some(*d) == total)
            .map(|((m, u, d, day), v)| (*m, self.names.name(*u), self.names.name(*d), *day, *v))
            .collect()
    }

    /// The same summed per calendar month (`YYYY-MM`), for the monthly rollup.
    pub fn month_rows(&self) -> Vec<(&'static str, &str, &str, String, i64)> {
        let mut months: HashMap<(&'static str, u32, u32, i32, u8), i64> = HashMap::new();
        for ((m, u, d, day), v) in &self.facts {
            *months.entry((m, *u, *d, day.year(), day.month() as u8)).or_default() += v;
        }
        months
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|((m, u, d, y, mo), v)| (m, self.names.name(u), self.names.name(d), format!("{y:04}-{mo:02}"), v))
            .collect()
    }

    /// The dossier codes and ID numbers this batch needs from storage before it is folded.
    pub fn needs(events: &[StoredEvent]) -> (Vec<String>, Vec<String>) {
        let mut codes = Vec::new();
        let mut pids = Vec::new();
        for e in events {
            if e.kind.starts_with("dossier.") {
                codes.push(e.subject.clone());
            } else if e.kind.starts_with("civil.") {
                if let Some(d) = payload(e).get("dossier").and_then(|v| v.as_str()) {
                    codes.push(d.to_owned());
                }
            } else if Self::needs_communes(&e.kind) {
                pids.push(e.subject.clone());
            }
        }
        codes.sort();
        codes.dedup();
        pids.sort();
        pids.dedup();
        (codes, pids)
    }

    /// e-ID events that count per commune of the holder.
    pub fn needs_communes(kind: &str) -> bool {
        matches!(kind, "eid.created" | "eid.registered" | "eid.activated" | "eid.level_raised")
    }

    pub fn apply(&mut self, e: &StoredEvent) {
        let Some(day) = local_day(&e.occurred_at) else {
            self.skipped += 1;
            return;
        };
        let p = payload(e);
        match e.kind.as_str() {
            "dossier.received" => self.received(e, &p, day),
            "dossier.step" => self.step(e, &p, day),
            "dossier.apology" => {
                self.on_dossier(&e.subject, |f, d| f.add(m::APOLOGIES, &d.unit, Some(&d.procedure), day, 1))
            }
            "dossier.rated" => {
                let measure = match p.get("rating").and_then(|v| v.as_str()) {
                    Some("very_satisfied") => m::RATED_VERY,
                    Some("satisfied") => m::RATED_OK,
                    Some("not_satisfied") => m::RATED_NOT,
                    _ => return,
                };
                self.on_dossier(&e.subject, |f, d| f.add(measure, &d.unit, Some(&d.procedure), day, 1));
            }
            "civil.birth_registered" | "civil.death_registered" | "civil.marriage_registered" => {
                let Some(code) = p.get("dossier").and_then(|v| v.as_str()) else { return };
                let late = p.get("late").and_then(|v| v.as_bool()).unwrap_or(false);
                let kind = e.kind.clone();
                self.on_dossier(code, |f, d| {
                    let measure = match kind.as_str() {
                        "civil.birth_registered" => m::BIRTHS,
                        "civil.death_registered" => m::DEATHS,
                        _ => m::MARRIAGES,
                    };
                    f.add(measure, &d.unit, None, day, 1);
                    if late && measure == m::BIRTHS {
                        f.add(m::BIRTHS_LATE, &d.unit, None, day, 1);
                    }
                    if late && measure == m::DEATHS {
                        f.add(m::DEATHS_LATE, &d.unit, None, day, 1);
                    }
                });
            }
            kind if Self::needs_communes(kind) => {
                let unit = self.communes.get(&e.subject).cloned().unwrap_or_default();
                let level = p.get("level").and_then(|v| v.as_i64()).unwrap_or(1);
                match kind {
                    "eid.created" | "eid.registered" => {
                        let measure = if level >= 2 { m::EID_L2 } else { m::EID_L1 };
                        self.add(measure, &unit, None, day, 1);
                    }
                    "eid.activated" => self.add(m::EID_ACTIVATED, &unit, None, day, 1),
                    _ => self.add(m::EID_RAISED, &unit, None, day, 1),
                }
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
        self.add(measure, &e.commune, None, day, 1);
    }

    fn on_dossier(&mut self, code: &str, f: impl FnOnce(&mut Fold, &DossierMemo)) {
        match self.dossiers.get(code).cloned().flatten() {
            Some(d) => f(self, &d),
            None => self.skipped += 1,
        }
    }

    fn received(&mut self, e: &StoredEvent, p: &serde_json::Value, day: Date) {
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let appointment = parse_day(&text("appointment")).unwrap_or(day);
        let mut d = DossierMemo {
            unit: text("unit"),
            procedure: text("procedure"),
            channel: text("channel"),
            received_on: day,
            appointment_on: appointment,
            overdue_on: None,
            state: "received".into(),
            supplements: 0,
        };
        let (unit, proc_) = (d.unit.clone(), d.procedure.clone());
        let procedure = Some(proc_.as_str());
        self.add(m::RECEIVED, &unit, procedure, day, 1);
        let channel = match d.channel.as_str() {
            "online" => m::RECEIVED_ONLINE,
            "postal" => m::RECEIVED_POSTAL,
            _ => m::RECEIVED_COUNTER,
        };
        self.add(channel, &unit, procedure, day, 1);
        for (flag, measure) in
            [("reused", m::RECEIVED_REUSED), ("digitised", m::RECEIVED_DIGITISED), ("from_store", m::RECEIVED_STORE)]
        {
            if p.get(flag).and_then(|v| v.as_bool()).unwrap_or(false) {
                self.add(measure, &unit, procedure, day, 1);
            }
        }
        self.add(m::OPEN, &unit, procedure, day, 1);
        let due = appointment + Duration::days(1);
        self.add(m::OVERDUE, &unit, procedure, due, 1);
        d.overdue_on = Some(due);
        self.dossiers.insert(e.subject.clone(), Some(d));
        self.dirty.insert(e.subject.clone());
    }

    fn step(&mut self, e: &StoredEvent, p: &serde_json::Value, day: Date) {
        let Some(Some(mut d)) = self.dossiers.get(&e.subject).cloned() else {
            self.skipped += 1;
            return;
        };
        let to = p.get("to").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        if to == d.state && to != "in_processing" {
            return; // a step that changes nothing the reports count (a rating, a return's echo)
        }
        let appointment = p.get("appointment").and_then(|v| v.as_str()).and_then(parse_day).unwrap_or(d.appointment_on);
        let (unit, proc_) = (d.unit.clone(), d.procedure.clone());
        let procedure = Some(proc_.as_str());
        let was_open = !ENDING.contains(&d.state.as_str());
        if to == "supplement_requested" {
            d.supplements += 1;
            self.add(m::SUPPLEMENTS, &unit, procedure, day, 1);
            // The clock stops: not overdue while the applicant is awaited, unless it already was.
            if let Some(o) = d.overdue_on
                && o > day
            {
                self.add(m::OVERDUE, &unit, procedure, o, -1);
                d.overdue_on = None;
            }
        } else if ENDING.contains(&to.as_str()) && was_open {
            self.add(m::OPEN, &unit, procedure, day, -1);
            if let Some(o) = d.overdue_on.take() {
                self.add(m::OVERDUE, &unit, procedure, o.max(day), -1);
            }
            match to.as_str() {
                "withdrawn" => self.add(m::WITHDRAWN, &unit, procedure, day, 1),
                "lapsed" => self.add(m::LAPSED, &unit, procedure, day, 1),
                "rejected_at_receipt" => self.add(m::REJECTED, &unit, procedure, day, 1),
                _ => {
                    let measure = match p.get("timeliness").and_then(|v| v.as_str()) {
                        Some("early") => m::EARLY,
                        Some("on_time") => m::ON_TIME,
                        Some("late") => m::LATE,
                        _ => match day.cmp(&appointment) {
                            std::cmp::Ordering::Less => m::EARLY,
                            std::cmp::Ordering::Equal => m::ON_TIME,
                            std::cmp::Ordering::Greater => m::LATE,
                        },
                    };
                    self.add(measure, &unit, procedure, day, 1);
                    self.add_official(measure, &unit, &e.actor, day);
                    if INTERCONNECTED.contains(&proc_.as_str()) {
                        self.add(m::INTERCONNECTED_PROCESSED, &unit, procedure, day, 1);
                    }
                    let days = (day - d.received_on).whole_days();
                    self.add(m::PROCESSING_DAYS, &unit, procedure, day, days);
                    if to == "result_issued" && p.get("result").and_then(|v| v.as_bool()).unwrap_or(false) {
                        self.add(m::RESULT_ELECTRONIC, &unit, procedure, day, 1);
                    }
                }
            }
        } else if was_open {
            // Still open: book (or move) its overdue day to the day after its promised date.
            let due = (appointment + Duration::days(1)).max(day);
            match d.overdue_on {
                None => {
                    self.add(m::OVERDUE, &unit, procedure, due, 1);
                    d.overdue_on = Some(due);
                }
                Some(o) if o > day && o != due => {
                    self.add(m::OVERDUE, &unit, procedure, o, -1);
                    self.add(m::OVERDUE, &unit, procedure, due, 1);
                    d.overdue_on = Some(due);
                }
                Some(_) => {}
            }
        }
        d.appointment_on = appointment;
        d.state = to;
        self.dossiers.insert(e.subject.clone(), Some(d));
        self.dirty.insert(e.subject.clone());
    }
}

/// The interconnected procedures of the 25 essential services (DOMAIN.md): birth registration
/// with permanent residence and the child's health-insurance card, and death registration with
/// residence deregistration and the funeral allowance.
pub const INTERCONNECTED: &[&str] = &["DVC-15", "DVC-16"];

fn payload(e: &StoredEvent) -> serde_json::Value {
    serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null)
}
