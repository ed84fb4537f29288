//! The one runtime for background work. Every periodic or queue-draining task (deliveries,
//! sweeps, purges, key reloads, event followers) registers here with a name and a schedule;
//! `serve` starts the runtime once and stops it on shutdown; `/metrics` shows each job's runs,
//! failures, items and the time since its last success (its lag).
//!
//! Each job says how its work is claimed when several servers share the database ([`Claim`]):
//! every server runs it (it refreshes this process's own state), one server at a time holds the
//! job's lease (sweeps, purges, event followers), or the job claims its items itself (queues:
//! see [`crate::claims`]). It never reads the clock for domain decisions: jobs take `now` from
//! their caller like every use case.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one run of a job returns: how many items it handled, or why it failed.
pub type JobResult = Result<usize, String>;
pub type JobFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;
type JobFn = Arc<dyn Fn() -> JobFuture + Send + Sync>;

/// How often a job runs.
#[derive(Debug, Clone, Copy)]
pub enum Schedule {
    /// Every period (the first run at start).
    Every(Duration),
    /// A queue: again at once while a run handled items, else after the period.
    Drain(Duration),
}

/// How a job's work is claimed when several servers share the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Every server runs it: it refreshes this process's own state (key reloads).
    EveryServer,
    /// One server at a time: the holder of the job's lease in the database runs it; the others
    /// stand by and take over when the lease expires (a dead holder) or is released (shutdown).
    Lease,
    /// Every server runs it and each claims its own items in the database (queues).
    Items,
}

impl Claim {
    pub fn as_str(self) -> &'static str {
        match self {
            Claim::EveryServer => "every_server",
            Claim::Lease => "lease",
            Claim::Items => "items",
        }
    }
}

/// How long a lease lasts: three periods, at least 15 s (renewed at each run, so the holder
/// keeps it while it lives; a dead holder's work waits at most this long).
fn lease_ttl(schedule: Schedule) -> Duration {
    let period = match schedule {
        Schedule::Every(d) | Schedule::Drain(d) => d,
    };
    (period * 3).max(Duration::from_secs(15))
}

/// What `/metrics` shows of one job.
#[derive(Debug, Clone, Default)]
pub struct JobStats {
    pub runs: u64,
    pub failures: u64,
    pub items: u64,
    /// Seconds since the last successful run (`None` before the first).
    pub since_success: Option<f64>,
    pub last_error: Option<String>,
    pub claim: Option<Claim>,
    /// For a leased job: whether this server holds the lease now.
    pub leader: bool,
}

#[derive(Default)]
struct Record {
    runs: u64,
    failures: u64,
    items: u64,
    last_success: Option<Instant>,
    last_error: Option<String>,
    claim: Option<Claim>,
    leader: bool,
    /// When this process last took or renewed the job's lease.
    renewed: Option<Instant>,
}

struct Spec {
    name: &'static str,
    schedule: Schedule,
    claim: Claim,
    run: JobFn,
}

struct Inner {
    /// This process's id in leases and claims.
    holder: String,
    pending: Mutex<Vec<Spec>>,
    records: Mutex<BTreeMap<&'static str, Record>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// The job runtime of one process. Cheap to clone.
#[derive(Clone)]
pub struct JobRuntime(Arc<Inner>);

impl Default for JobRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl JobRuntime {
    pub fn new() -> Self {
        let (stop, _) = tokio::sync::watch::channel(false);
        JobRuntime(Arc::new(Inner {
            holder: crate::claims::token(),
            pending: Mutex::new(Vec::new()),
            records: Mutex::new(BTreeMap::new()),
            stop,
        }))
    }

    /// This process's id in leases and item claims.
    pub fn holder(&self) -> &str {
        &self.0.holder
    }

    /// Registers a job; it runs once [`JobRuntime::start`] is called.
    pub fn register<F, Fut>(&self, name: &'static str, schedule: Schedule, claim: Claim, run: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let run: JobFn = Arc::new(move || Box::pin(run()));
        if let Ok(mut pending) = self.0.pending.lock() {
            pending.push(Spec { name, schedule, claim, run });
        }
        if let Ok(mut records) = self.0.records.lock() {
            records.entry(name).or_default().claim = Some(claim);
        }
    }

    /// Starts every registered job (call within a Tokio runtime); leased jobs take their
    /// leases in `db`. Each job also ends when `alive` says no (its database was closed); a
    /// leased job gives its lease back when it stops.
    pub fn start(&self, db: &crate::Db, alive: impl Fn() -> bool + Send + Sync + 'static) {
        let alive = Arc::new(alive);
        let specs = self.0.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        for spec in specs {
            let inner = self.0.clone();
            let alive = alive.clone();
            let db = db.clone();
            let mut stop = self.0.stop.subscribe();
            tokio::spawn(async move {
                loop {
                    if *stop.borrow() || !alive() {
                        break;
                    }
                    let result = match inner.lead(&db, &spec).await {
                        Ok(true) => (spec.run)().await,
                        Ok(false) => Ok(0),
                        Err(e) => Err(format!("taking the lease: {e}")),
                    };
                    let handled = inner.record(spec.name, &result);
                    let wait = match spec.schedule {
                        Schedule::Drain(_) if handled > 0 => Duration::ZERO,
                        Schedule::Every(d) | Schedule::Drain(d) => d,
                    };
                    if wait.is_zero() {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => break,
                    }
                }
                if spec.claim == Claim::Lease && alive() {
                    let _ = crate::claims::release(&db, spec.name, &inner.holder).await;
                }
            });
        }
    }

    /// Asks every job to stop after its current run.
    pub fn stop(&self) {
        let _ = self.0.stop.send(true);
    }

    /// Each job's figures, by name.
    pub fn snapshot(&self) -> Vec<(&'static str, JobStats)> {
        let Ok(records) = self.0.records.lock() else { return Vec::new() };
        records
            .iter()
            .map(|(name, r)| {
                let stats = JobStats {
                    runs: r.runs,
                    failures: r.failures,
                    items: r.items,
                    since_success: r.last_success.map(|t| t.elapsed().as_secs_f64()),
                    last_error: r.last_error.clone(),
                    claim: r.claim,
                    leader: r.leader,
                };
                (*name, stats)
            })
            .collect()
    }
}

impl Inner {
    /// Whether this process may run `spec` now: always, unless it is leased and another server
    /// holds the lease (taken or renewed here).
    async fn lead(&self, db: &crate::Db, spec: &Spec) -> Result<bool, crate::StoreError> {
        if spec.claim != Claim::Lease {
            return Ok(true);
        }
        let ttl = lease_ttl(spec.schedule);
        // A lease renewed within the last third of its life is still ours: no write needed
        // (a frequent job would otherwise write to the database at every run).
        if let Ok(records) = self.records.lock()
            && let Some(r) = records.get(spec.name)
            && r.leader
            && r.renewed.is_some_and(|at| at.elapsed() < ttl / 3)
        {
            return Ok(true);
        }
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let held = crate::claims::acquire(db, spec.name, &self.holder, crate::claims::now_ms(), ttl_ms).await?;
        if let Ok(mut records) = self.records.lock() {
            let r = records.entry(spec.name).or_default();
            r.leader = held;
            r.renewed = held.then(Instant::now);
        }
        Ok(held)
    }

    /// Records a run; returns the items it handled (0 on failure).
    fn record(&self, name: &'static str, result: &JobResult) -> usize {
        let Ok(mut records) = self.records.lock() else { return 0 };
        let r = records.entry(name).or_default();
        r.runs += 1;
        match result {
            Ok(n) => {
                r.items += *n as u64;
                r.last_success = Some(Instant::now());
                *n
            }
            Err(e) => {
                r.failures += 1;
                r.last_error = Some(e.clone());
                tracing::warn!(job = name, error = %e, "background job failed");
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn temp_db(name: &str) -> crate::Db {
        let dir = std::env::temp_dir().join(format!("civitas-jobs-{name}-{}", crate::claims::token()));
        let _ = std::fs::create_dir_all(&dir);
        let url = format!("sqlite://{}", dir.join("t.db").display());
        let db = crate::Db::connect(&url).await.expect("test database");
        db.migrate().await.expect("migrations");
        db
    }

    #[tokio::test]
    async fn runs_drains_records_and_stops() {
        let db = temp_db("drain").await;
        let jobs = JobRuntime::new();
        let queue = Arc::new(AtomicUsize::new(5));
        let q = queue.clone();
        // A queue of five items, one per run: drained without waiting the period.
        jobs.register("drain", Schedule::Drain(Duration::from_secs(3600)), Claim::Items, move || {
            let q = q.clone();
            async move {
                let left = q.load(Ordering::SeqCst);
                if left == 0 {
                    return Ok(0);
                }
                q.store(left - 1, Ordering::SeqCst);
                Ok(1)
            }
        });
        jobs.register("failing", Schedule::Every(Duration::from_millis(10)), Claim::EveryServer, || async {
            Err("down".to_owned())
        });
        jobs.start(&db, || true);
        for _ in 0..200 {
            if queue.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stats: BTreeMap<_, _> = jobs.snapshot().into_iter().collect();
        assert_eq!(queue.load(Ordering::SeqCst), 0);
        assert_eq!(stats["drain"].items, 5);
        assert!(stats["drain"].since_success.is_some());
        assert!(stats["failing"].failures >= 2 && stats["failing"].since_success.is_none());
        assert_eq!(stats["failing"].last_error.as_deref(), Some("down"));
        jobs.stop();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let runs = jobs.snapshot().into_iter().find(|(n, _)| *n == "failing").map(|(_, s)| s.runs);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let later = jobs.snapshot().into_iter().find(|(n, _)| *n == "failing").map(|(_, s)| s.runs);
        assert_eq!(runs, later, "stopped jobs run no more");
    }

    /// Two servers on one database: a leased job runs on one of them only; when that one
    /// stops (giving the lease back) the other takes over.
    #[tokio::test]
    async fn a_leased_job_runs_on_one_server_and_is_taken_over() {
        let db = temp_db("lease").await;
        let counts: Vec<Arc<AtomicUsize>> = (0..2).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let servers: Vec<JobRuntime> = counts
            .iter()
            .map(|count| {
                let jobs = JobRuntime::new();
                let c = count.clone();
                jobs.register("sweep", Schedule::Every(Duration::from_millis(10)), Claim::Lease, move || {
                    let c = c.clone();
                    async move {
                        c.fetch_add(1, Ordering::SeqCst);
                        Ok(1)
                    }
                });
                jobs.start(&db, || true);
                jobs
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (a, b) = (counts[0].load(Ordering::SeqCst), counts[1].load(Ordering::SeqCst));
        assert!(a + b >= 5, "the job ran ({a} + {b})");
        assert!(a == 0 || b == 0, "only one server ran the leased job ({a} and {b})");
        let (leader, other) = if a > 0 { (0, 1) } else { (1, 0) };
        let stats: BTreeMap<_, _> = servers[leader].snapshot().into_iter().collect();
        assert!(stats["sweep"].leader && stats["sweep"].claim == Some(Claim::Lease));
        servers[leader].stop();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(counts[other].load(Ordering::SeqCst) > 0, "the other server took the lease over");
        let holders = crate::claims::leases(&db).await.expect("leases");
        assert_eq!(holders.len(), 1);
        assert_eq!(holders[0].1, servers[other].holder());
        servers[other].stop();
    }
}
