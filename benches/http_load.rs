//! A small HTTP load generator for BENCHMARKS.md (run with `cargo bench --bench http_load -- ...`).
//!
//! Closed loop (`--concurrency C`): C workers send requests back to back; reports the rate.
//! Open loop (`--rate R`): requests are scheduled at a fixed rate and latency is measured from
//! the scheduled time, so a slow server cannot hide its queueing (no coordinated omission).
//!
//! Paths come from `--paths FILE` (one per line, used round-robin) or `--path P`. `--form BODY`
//! (repeatable, round-robin) sends POSTs with a form body, `--json BODY` with a JSON body
//! (`--unique-key` adds a fresh `Idempotency-Key` to each); `--basic ID:SECRET` and `--header
//! 'Name: value'` add credentials and headers. Any status below 400 counts as success.
//!
//! `--refresh-chain FILE` (one refresh token per line, one worker each) runs refresh grants:
//! each worker uses the token its previous response returned (rotation).
//! `--prepare-refresh N --user PID:PASSWORD --basic rp:SECRET --redirect URI --out FILE` signs in
//! once and performs N authorization-code flows with offline_access (or `--scope "..."`) to obtain N refresh tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    base: String,
    paths: Vec<String>,
    forms: Vec<String>,
    jsons: Vec<String>,
    unique_key: bool,
    basic: Option<(String, String)>,
    headers: Vec<(String, String)>,
    refresh_chain: Option<Vec<String>>,
    prepare_refresh: Option<usize>,
    user: Option<(String, String)>,
    redirect: Option<String>,
    scope: String,
    out: Option<String>,
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
        forms: vec![],
        jsons: vec![],
        unique_key: false,
        basic: None,
        headers: vec![],
        refresh_chain: None,
        prepare_refresh: None,
        user: None,
        redirect: None,
        scope: "openid offline_access".into(),
        out: None,
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
            "--form" => a.forms.push(value()?),
            "--json" => a.jsons.push(value()?),
            "--unique-key" => a.unique_key = true,
            "--basic" => a.basic = value()?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())),
            "--user" => a.user = value()?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())),
            "--header" => {
                let v = value()?;
                let (k, val) = v.split_once(':').ok_or("--header needs 'Name: value'")?;
                a.headers.push((k.trim().to_owned(), val.trim().to_owned()));
            }
            "--refresh-chain" => {
                let file = value()?;
                let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
                a.refresh_chain = Some(text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect());
            }
            "--prepare-refresh" => a.prepare_refresh = Some(value()?.parse().map_err(|_| "bad --prepare-refresh")?),
            "--redirect" => a.redirect = Some(value()?),
            "--scope" => a.scope = value()?,
            "--out" => a.out = Some(value()?),
            "--concurrency" => a.concurrency = value()?.parse().map_err(|_| "bad --concurrency")?,
            "--rate" => a.rate = Some(value()?.parse().map_err(|_| "bad --rate")?),
            "--duration" => a.duration = Duration::from_secs_f64(value()?.parse().map_err(|_| "bad --duration")?),
            "--label" => a.label = value()?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.base.is_empty() || (a.paths.is_empty() && a.prepare_refresh.is_none() && a.refresh_chain.is_none()) {
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
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    if let Some(n) = args.prepare_refresh {
        prepare_refresh(&client, &args, n).await;
        return;
    }
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
            let path = args.paths.get(i % args.paths.len().max(1)).cloned().unwrap_or_default();
            let url = format!("{}{}", args.base, path);
            let mut req = if !args.jsons.is_empty() {
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(args.jsons[i % args.jsons.len()].clone())
            } else if args.forms.is_empty() {
                client.get(url)
            } else {
                client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(args.forms[i % args.forms.len()].clone())
            };
            if let Some(t) = &args.token {
                req = req.bearer_auth(t).header("X-Purpose", "benchmark");
            }
            if let Some((u, p)) = &args.basic {
                req = req.basic_auth(u, Some(p));
            }
            for (k, v) in &args.headers {
                req = req.header(k, v);
            }
            if args.unique_key {
                req = req.header("Idempotency-Key", format!("bench-{}-{i}", std::process::id()));
            }
            let errors = errors.clone();
            async move {
                match req.send().await {
                    Ok(r) if r.status().as_u16() < 400 => {
                        let _ = r.bytes().await;
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    };
    if let Some(tokens) = &args.refresh_chain {
        let mut workers = Vec::new();
        for token in tokens.clone() {
            let client = client.clone();
            let args = args.clone();
            let errors = errors.clone();
            workers.push(tokio::spawn(async move {
                let mut current = token;
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let mut req = client
                        .post(format!("{}/oauth2/token", args.base))
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", current.as_str())]);
                    if let Some((u, p)) = &args.basic {
                        req = req.basic_auth(u, Some(p));
                    }
                    let next = match req.send().await {
                        Ok(r) if r.status().is_success() => r
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|v| v["refresh_token"].as_str().map(str::to_owned)),
                        _ => None,
                    };
                    mine.push(t.elapsed().as_secs_f64());
                    match next {
                        Some(n) => current = n,
                        None => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                mine
            }));
        }
        let mut latencies = Vec::new();
        for w in workers {
            if let Ok(l) = w.await {
                latencies.extend(l);
            }
        }
        report(&args.label, latencies, errors.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
        return;
    }
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
    report(&args.label, latencies, errors.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
}

fn report(label: &str, mut latencies: Vec<f64>, errors: usize, elapsed: f64) {
    latencies.sort_by(|a, b| a.total_cmp(b));
    let ms = |p| percentile(&latencies, p) * 1000.0;
    println!(
        "{{\"label\":\"{}\",\"requests\":{},\"errors\":{},\"rps\":{:.0},\"p50_ms\":{:.2},\"p95_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        label,
        latencies.len(),
        errors,
        latencies.len() as f64 / elapsed,
        ms(0.50),
        ms(0.95),
        ms(0.99),
        ms(1.0)
    );
}

/// Signs in once, then runs `n` authorization-code flows (offline_access, consent given on the
/// first) and writes the refresh tokens to `--out`.
async fn prepare_refresh(client: &reqwest::Client, args: &Args, n: usize) {
    let (Some((pid, password)), Some((client_id, secret)), Some(redirect), Some(out)) =
        (&args.user, &args.basic, &args.redirect, &args.out)
    else {
        eprintln!("--prepare-refresh needs --user, --basic, --redirect and --out");
        std::process::exit(2);
    };
    // The sign-in form's CSRF token is bound to the pre-session cookie the page sets.
    let mut jar = Cookies::default();
    let csrf = jar.page(client, &format!("{}/signin", args.base)).await;
    let r = client
        .post(format!("{}/signin", args.base))
        .header("cookie", jar.header())
        .form(&[("pid", pid.as_str()), ("password", password.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .expect("sign in");
    jar.take(&r);
    assert!(jar.0.iter().any(|(k, _)| k == "civitas_sid"), "a session cookie: check --user ({})", r.status());
    let verifier = "benchmark-verifier-0123456789-0123456789-0123456789";
    let challenge = civitas_identity::secret::s256(verifier);
    let query = serde_urlencoded::to_string([
        ("client_id", client_id.as_str()),
        ("response_type", "code"),
        ("scope", args.scope.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    let mut tokens = Vec::with_capacity(n);
    while tokens.len() < n {
        let mut url = format!("{}/oauth2/authorize?{query}", args.base);
        let code = loop {
            let r = client.get(&url).header("cookie", jar.header()).send().await.expect("authorize");
            let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            if location.starts_with(redirect.as_str()) {
                let q = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
                let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
                break pairs.into_iter().find(|(k, _)| k == "code").map(|(_, v)| v).expect("a code");
            }
            if location.starts_with("/consent") {
                let r_id = location.split("r=").nth(1).unwrap_or_default().to_owned();
                let csrf = jar.page(client, &format!("{}{location}", args.base)).await;
                let r = client
                    .post(format!("{}/consent", args.base))
                    .header("cookie", jar.header())
                    .form(&[("decision", "allow"), ("r", r_id.as_str()), ("csrf", csrf.as_str())])
                    .send()
                    .await
                    .expect("consent");
                url = format!(
                    "{}{}",
                    args.base,
                    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default()
                );
                continue;
            }
            assert!(location.starts_with('/'), "unexpected redirect {location:?} (status {})", r.status());
            url = format!("{}{location}", args.base);
        };
        let v: serde_json::Value = client
            .post(format!("{}/oauth2/token", args.base))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        tokens.push(v["refresh_token"].as_str().expect("a refresh token").to_owned());
    }
    std::fs::write(out, tokens.join("\n")).expect("write tokens");
}

/// The cookies a browser would keep for the server (name, value), enough for the sign-in pages.
#[derive(Default)]
struct Cookies(Vec<(String, String)>);

impl Cookies {
    fn take(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let Some((name, value)) = v.split(';').next().and_then(|p| p.split_once('=')) else { continue };
            self.0.retain(|(k, _)| k != name);
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// GETs a page, keeps its cookies and returns the value of its hidden `csrf` field.
    async fn page(&mut self, client: &reqwest::Client, url: &str) -> String {
        let r = client.get(url).header("cookie", self.header()).send().await.expect("page");
        self.take(&r);
        let body = r.text().await.unwrap_or_default();
        let at = body.find("name=\"csrf\" value=\"").expect("a csrf field on the page") + 19;
        body[at..].split('"').next().unwrap_or_default().to_owned()
    }
}
