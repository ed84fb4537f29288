//! NDJSON import: every line is validated on its own; valid lines are committed in large
//! batches (one transaction each); a rejected line is reported with its number and reason and
//! never stops the others. Idempotent by PID: people already registered are left unchanged.

use std::collections::HashSet;
use std::io::BufRead;

use civitas_core::Pid;
use civitas_core::Relation;
use civitas_registry::store::Attribution;
use civitas_registry::store::households::{HouseholdLine, HouseholdRecord};
use civitas_registry::{HouseholdId, LegalBasis, Person, Register};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: u64,
    pub unchanged: u64,
    /// Households created from household lines (those their heads' lines do not imply).
    pub households: u64,
    /// (line number, reason)
    pub rejected: Vec<(u64, String)>,
}

pub struct ImportOptions {
    pub batch: usize,
    pub actor: String,
    pub source: String,
    pub today: time::Date,
}

enum Parsed {
    /// People, their line numbers, rejected lines, lines read so far, household lines.
    Batch(Vec<Person>, Vec<u64>, Vec<(u64, String)>, u64, Vec<HouseholdRecord>),
    Failed(String),
}

/// A household line (`{"household": {...}}`), checked.
fn parse_household(line: &str) -> Result<HouseholdRecord, String> {
    let parsed: HouseholdLine =
        serde_json::from_str(line).map_err(|e| format!("invalid household record: {e} (column {})", e.column()))?;
    parsed.household.check()?;
    Ok(parsed.household)
}

fn parse_line(line: &str, today: time::Date) -> Result<Person, String> {
    let person: Person = serde_json::from_str(line).map_err(|e| {
        // serde_json appends " at line 1 column N"; within one NDJSON line only the column helps.
        let message = e.to_string();
        let message = message.rsplit_once(" at line ").map(|(m, _)| m.to_owned()).unwrap_or(message);
        format!("invalid JSON record: {message} (column {})", e.column())
    })?;
    person.normalize_and_validate(today).map_err(|e| e.to_string())
}

/// The lines of `people` whose PID is registered with a record that differs from the line.
async fn differing_records(
    register: &Register,
    people: &[Person],
    lines: &[u64],
) -> anyhow::Result<Vec<(u64, String)>> {
    let comparable = |p: &Person| {
        let mut v = serde_json::to_value(p).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("version");
            o.remove("updated_at");
        }
        v
    };
    let mut out = Vec::new();
    for (person, line) in people.iter().zip(lines) {
        if let Some(stored) = register.get(&person.pid).await?
            && stored.version.unwrap_or(1) > 0
            && comparable(&stored) != comparable(person)
        {
            out.push((
                *line,
                format!(
                    "ID number {} is registered with different data: import does not change records (correct them with PATCH /api/v1/people/{{pid}} and a legal basis)",
                    person.pid
                ),
            ));
        }
    }
    Ok(out)
}

/// Imports `input` into `register`, calling `progress(lines_done)` after each batch.
/// Parsing runs on its own thread while the previous batch is being written.
pub async fn run<R>(
    register: &Register,
    input: R,
    options: &ImportOptions,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<ImportReport>
where
    R: BufRead + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Parsed>(2);
    let batch_size = options.batch.max(1);
    let today = options.today;
    let reader = std::thread::spawn(move || {
        let mut seen: HashSet<Pid> = HashSet::new();
        let mut first_line: std::collections::HashMap<Pid, u64> = std::collections::HashMap::new();
        let mut batch = Vec::with_capacity(batch_size);
        let mut lines_of = Vec::with_capacity(batch_size);
        let mut rejected = Vec::new();
        let mut households = Vec::new();
        let mut line_no = 0u64;
        for line in input.lines() {
            line_no += 1;
            let line = match line {
                Ok(l) => l,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    rejected.push((line_no, "line is not valid UTF-8".to_owned()));
                    continue;
                }
                Err(e) => {
                    let _ = tx.blocking_send(Parsed::Failed(format!("reading line {line_no} failed: {e}")));
                    return;
                }
            };
            // A byte-order mark at the start of the file (spreadsheet exports write one).
            let line = if line_no == 1 { line.strip_prefix('\u{feff}').unwrap_or(&line).to_owned() } else { line };
            if line.trim().is_empty() {
                continue;
            }
            if line.trim_start().starts_with("{\"household\"") {
                match parse_household(&line) {
                    Ok(h) => households.push(h),
                    Err(reason) => rejected.push((line_no, reason)),
                }
                continue;
            }
            match parse_line(&line, today) {
                Ok(person) => {
                    if seen.insert(person.pid) {
                        first_line.insert(person.pid, line_no);
                        batch.push(person);
                        lines_of.push(line_no);
                    } else {
                        let first = first_line.get(&person.pid).copied().unwrap_or_default();
                        rejected.push((line_no, format!("ID number {} already appears on line {first}", person.pid)));
                    }
                }
                Err(reason) => rejected.push((line_no, reason)),
            }
            if batch.len() >= batch_size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                let lines = std::mem::replace(&mut lines_of, Vec::with_capacity(batch_size));
                let parsed =
                    Parsed::Batch(full, lines, std::mem::take(&mut rejected), line_no, std::mem::take(&mut households));
                if tx.blocking_send(parsed).is_err() {
                    return;
                }
            }
        }
        let _ = tx.blocking_send(Parsed::Batch(batch, lines_of, rejected, line_no, households));
    });
    let basis = LegalBasis { basis: format!("Nhập dữ liệu từ tệp {}", options.source), document_ref: None };
    let at = civitas_store::timestamp(crate::now());
    let attribution = Attribution { actor: &options.actor, legal_basis: &basis, at: &at };
    let mut report = ImportReport::default();
    let mut deferred: Vec<(Person, u64)> = Vec::new();
    while let Some(message) = rx.recv().await {
        match message {
            Parsed::Failed(reason) => anyhow::bail!(reason),
            Parsed::Batch(people, line_numbers, mut rejected, lines, households) => {
                // Households first: the records of their members refer to them.
                report.households += register.import_households(&households, &at).await?;
                // Records whose references (parents, spouse, household) are neither registered nor
                // in this batch wait for the end of the file.
                let (people, line_numbers) = {
                    let (ready, waiting) = split_by_references(register, people, line_numbers).await?;
                    deferred.extend(waiting);
                    ready
                };
                let outcome = register.import_batch(&people, &attribution).await?;
                report.imported += outcome.inserted;
                report.unchanged += outcome.unchanged;
                if outcome.unchanged > 0 {
                    // Registered already: the same record is "unchanged"; a different one is not
                    // silently dropped but reported (import never changes a record: corrections
                    // go through PATCH with their legal basis).
                    let differing = differing_records(register, &people, &line_numbers).await?;
                    report.unchanged -= differing.len() as u64;
                    rejected.extend(differing);
                    rejected.sort_by_key(|r| r.0);
                }
                report.rejected.extend(rejected);
                progress(lines);
            }
        }
    }
    let _ = reader.join();
    // The records that waited: those whose references now resolve (registered meanwhile, or
    // among the waiting ones) are imported; the others are rejected with their line.
    if !deferred.is_empty() {
        let (people, lines, rejected) = resolve_deferred(register, deferred).await?;
        let outcome = register.import_batch(&people, &attribution).await?;
        report.imported += outcome.inserted;
        report.unchanged += outcome.unchanged;
        if outcome.unchanged > 0 {
            let differing = differing_records(register, &people, &lines).await?;
            report.unchanged -= differing.len() as u64;
            report.rejected.extend(differing);
        }
        report.rejected.extend(rejected);
        report.rejected.sort_by_key(|r| r.0);
    }
    Ok(report)
}

/// The PIDs and household a record refers to (a household it does not head itself).
fn references(p: &Person) -> (Vec<Pid>, Option<HouseholdId>) {
    let pids = [p.father_pid, p.mother_pid, p.spouse_pid].into_iter().flatten().collect();
    let household = p.household_id.clone().filter(|_| p.relation_to_head != Some(Relation::Head));
    (pids, household)
}

/// Households the records create (their heads).
fn headed(people: &[Person]) -> impl Iterator<Item = HouseholdId> + '_ {
    people.iter().filter(|p| p.relation_to_head == Some(Relation::Head)).filter_map(|p| p.household_id.clone())
}

type Ready = (Vec<Person>, Vec<u64>);

/// Splits a batch into records whose references resolve (registered, or in the batch) and
/// records that must wait.
async fn split_by_references(
    register: &Register,
    people: Vec<Person>,
    lines: Vec<u64>,
) -> anyhow::Result<(Ready, Vec<(Person, u64)>)> {
    let in_batch: HashSet<Pid> = people.iter().map(|p| p.pid).collect();
    let batch_households: HashSet<HouseholdId> = headed(&people).collect();
    let wanted: Vec<Pid> = people.iter().flat_map(|p| references(p).0).filter(|p| !in_batch.contains(p)).collect();
    let wanted_households: Vec<HouseholdId> =
        people.iter().filter_map(|p| references(p).1).filter(|h| !batch_households.contains(h)).collect();
    if wanted.is_empty() && wanted_households.is_empty() {
        return Ok(((people, lines), Vec::new()));
    }
    let registered = register.registered(&wanted).await?;
    let households = register.existing_households(&wanted_households).await?;
    let (mut ready, mut ready_lines, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    for (p, line) in people.into_iter().zip(lines) {
        let (pids, household) = references(&p);
        let ok = pids.iter().all(|r| in_batch.contains(r) || registered.contains(r))
            && household.as_ref().is_none_or(|h| batch_households.contains(h) || households.contains(h));
        if ok {
            ready.push(p);
            ready_lines.push(line);
        } else {
            waiting.push((p, line));
        }
    }
    Ok(((ready, ready_lines), waiting))
}

/// The waiting records after the whole file: imported when their references resolve (among
/// the register and the other waiting records that resolve), rejected otherwise.
async fn resolve_deferred(
    register: &Register,
    mut waiting: Vec<(Person, u64)>,
) -> anyhow::Result<(Vec<Person>, Vec<u64>, Vec<(u64, String)>)> {
    let wanted: Vec<Pid> = waiting.iter().flat_map(|(p, _)| references(p).0).collect();
    let wanted_households: Vec<HouseholdId> = waiting.iter().filter_map(|(p, _)| references(p).1).collect();
    let registered = register.registered(&wanted).await?;
    let households = register.existing_households(&wanted_households).await?;
    let mut rejected = Vec::new();
    // Drop records that refer to something missing until nothing changes (a record referring
    // to a rejected one is rejected too).
    loop {
        let pids: HashSet<Pid> = waiting.iter().map(|(p, _)| p.pid).collect();
        let heads: HashSet<HouseholdId> = headed(&waiting.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()).collect();
        let before = waiting.len();
        waiting.retain(|(p, line)| {
            let (refs, household) = references(p);
            if let Some(missing) = refs.iter().find(|r| !pids.contains(r) && !registered.contains(r)) {
                rejected.push((
                    *line,
                    format!("refers to ID number {missing}, which is neither registered nor in the file"),
                ));
                return false;
            }
            if let Some(h) = household.filter(|h| !heads.contains(h) && !households.contains(h)) {
                rejected.push((*line, format!("household {h} does not exist and its head is not in the file")));
                return false;
            }
            true
        });
        if waiting.len() == before {
            break;
        }
    }
    let (people, lines) = waiting.into_iter().unzip();
    Ok((people, lines, rejected))
}
