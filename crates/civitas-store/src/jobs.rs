//! The one runtime for background work. Every periodic or queue-draining task (deliveries,
//! sweeps, purges, key reloads, event followers) registers here with a name and a schedule;
//! `serve` starts the runtime once and stops it on shutdown; `/metrics` shows each job's runs,
//! failures, items and the time since its last success (its lag).
//!
//! What a job does to claim its work so that several servers do each item once is the job's
//! own business (rows claimed in the database); this module gives them one place to run, be
//! observed and be stopped. It never reads the clock for domain decisions: jobs take `now` from
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

/// What `/metrics` shows of one job.
#[derive(Debug, Clone, Default)]
pub struct JobStats {
    pub runs: u64,
    pub failures: u64,
    pub items: u64,
    /// Seconds since the last successful run (`None` before the first).
    pub since_success: Option<f64>,
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Record {
    runs: u64,
    failures: u64,
    items: u64,
    last_success: Option<Instant>,
    last_error: Option<String>,
}

struct Spec {
    name: &'static str,
    schedule: Schedule,
    run: JobFn,
}

struct Inner {
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
        JobRuntime(Arc::new(Inner { pending: Mutex::new(Vec::new()), records: Mutex::new(BTreeMap::new()), stop }))
    }

    /// Registers a job; it runs once [`JobRuntime::start`] is called.
    pub fn register<F, Fut>(&self, name: &'static str, schedule: Schedule, run: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let run: JobFn = Arc::new(move || Box::pin(run()));
        if let Ok(mut pending) = self.0.pending.lock() {
            pending.push(Spec { name, schedule, run });
        }
        if let Ok(mut records) = self.0.records.lock() {
            records.entry(name).or_default();
        }
    }

    /// Starts every registered job (call within a Tokio runtime). Each job also ends when
    /// `alive` says no (its database was closed).
    pub fn start(&self, alive: impl Fn() -> bool + Send + Sync + 'static) {
        let alive = Arc::new(alive);
        let specs = self.0.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        for spec in specs {
            let inner = self.0.clone();
            let alive = alive.clone();
            let mut stop = self.0.stop.subscribe();
            tokio::spawn(async move {
                loop {
                    if *stop.borrow() || !alive() {
                        break;
                    }
                    let result = (spec.run)().await;
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
                };
                (*name, stats)
            })
            .collect()
    }
}

impl Inner {
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

    #[tokio::test]
    async fn runs_drains_records_and_stops() {
        let jobs = JobRuntime::new();
        let queue = Arc::new(AtomicUsize::new(5));
        let q = queue.clone();
        // A queue of five items, one per run: drained without waiting the period.
        jobs.register("drain", Schedule::Drain(Duration::from_secs(3600)), move || {
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
        jobs.register("failing", Schedule::Every(Duration::from_millis(10)), || async { Err("down".to_owned()) });
        jobs.start(|| true);
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
}
