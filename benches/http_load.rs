//! A small HTTP load generator for BENCHMARKS.md (run with `cargo bench --bench http_load -- ...`).
//!
//! Closed loop (`--concurrency C`): C workers send requests back to back; reports the rate.
//! Open loop (`--rate R`): requests are scheduled at a fixed rate and latency is measured from
//! the scheduled time, so a slow server cannot hide its queueing (no coordinated omission).
//!
//! Paths come from `--paths FILE` (one per line, used round-robin) or `--path P`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    base: String,
    paths: Vec<String>,
    token: Option<String>,
    concurrency: usize,
    rate: Option<f64>,
    duration: Duration,
    label: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut a = Args {
        base: String::new(),
        paths: vec![],
        token: None,
        concurrency: 8,
        rate: None,
        duration: Duration::from_secs(10),
        label: "load".into(),
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => a.base = value()?,
            "--path" => a.paths.push(value()?),
            "--paths" => {
                let file = value()?;
                let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
                a.paths.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
            }
            "--token" => a.token = Some(value()?),
            "--concurrency" => a.concurrency = value()?.parse().map_err(|_| "bad --concurrency")?,
            "--rate" => a.rate = Some(value()?.parse().map_err(|_| "bad --rate")?),
            "--duration" => a.duration = Duration::from_secs_f64(value()?.parse().map_err(|_| "bad --duration")?),
            "--label" => a.label = value()?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.base.is_empty() || a.paths.is_empty() {
        return Err("usage: http_load --base URL (--path P | --paths FILE) [--token T] [--concurrency C | --rate R] [--duration S] [--label L]".into());
    }
    Ok(a)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
    let args = Arc::new(args);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + args.duration;
    let request = {
        let client = client.clone();
        let args = args.clone();
        let next = next.clone();
        let errors = errors.clone();
        move || {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let url = format!("{}{}", args.base, args.paths[i % args.paths.len()]);
            let mut req = client.get(url);
            if let Some(t) = &args.token {
                req = req.bearer_auth(t).header("X-Purpose", "benchmark");
            }
            let errors = errors.clone();
            async move {
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    };
    let mut latencies: Vec<f64> = Vec::new();
    if let Some(rate) = args.rate {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let mut handles = Vec::new();
        let mut scheduled = Instant::now();
        while scheduled < deadline {
            let now = Instant::now();
            if scheduled > now {
                tokio::time::sleep(scheduled - now).await;
            }
            let fut = request();
            let at = scheduled;
            handles.push(tokio::spawn(async move {
                fut.await;
                at.elapsed().as_secs_f64()
            }));
            scheduled += interval;
        }
        for h in handles {
            if let Ok(l) = h.await {
                latencies.push(l);
            }
        }
    } else {
        let mut workers = Vec::new();
        for _ in 0..args.concurrency {
            let request = request.clone();
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    request().await;
                    mine.push(t.elapsed().as_secs_f64());
                }
                mine
            }));
        }
        for w in workers {
            if let Ok(l) = w.await {
                latencies.extend(l);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let ms = |p| percentile(&latencies, p) * 1000.0;
    println!(
        "{{\"label\":\"{}\",\"requests\":{},\"errors\":{},\"rps\":{:.0},\"p50_ms\":{:.2},\"p95_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        args.label,
        latencies.len(),
        errors.load(Ordering::Relaxed),
        latencies.len() as f64 / elapsed,
        ms(0.50),
        ms(0.95),
        ms(0.99),
        ms(1.0)
    );
}
