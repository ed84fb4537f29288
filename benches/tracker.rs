//! The data tracker at scale (issue #15): a log's private index (`access_log`) filled with N
//! access records of P people (default 20,000,000 of 1,000,000: twenty reads per person), then
//! the tracker's query for random people — the holder's reads newest first, the delayed ones
//! left out, as `GET /api/v1/me/access` and the account page run it — timed one by one.
//! Usage: `cargo bench --bench tracker -- DATABASE_URL [ENTRIES] [PEOPLE] [QUERIES]` on an empty
//! database (`sqlite:///tmp/t.db` or `postgres://…`). Prints JSON lines.
//!
//! The fill is SQL-generated (a recursive CTE / `generate_series`) in chunks of a million:
//! the entries' bytes in `tlog_entries` are not written, because the tracker never reads them
//! (it reads only the private index; a receipt reads one entry by its index).

use std::time::Instant;

use civitas_store::Db;

const CHUNK: i64 = 1_000_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(url) = args.first() else {
        return Err("usage: tracker DATABASE_URL [ENTRIES] [PEOPLE] [QUERIES]".into());
    };
    let entries: i64 = args.get(1).map_or(Ok(20_000_000), |s| s.parse())?;
    let people: i64 = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
    let queries: usize = args.get(3).map_or(Ok(2_000), |s| s.parse())?;
    let db = civitas::open(url).await?;
    let backend = url.split(':').next().unwrap_or_default().to_owned();

    let started = Instant::now();
    let mut done = 0;
    while done < entries {
        let n = CHUNK.min(entries - done);
        fill(&db, done, n, people).await?;
        done += n;
        eprintln!("filled {done} of {entries} ({:.0} s)", started.elapsed().as_secs_f64());
    }
    if let Db::Postgres(pool) = &db {
        sqlx::query("ANALYZE access_log").execute(pool).await?;
    }
    let fill_secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"label\":\"fill\",\"backend\":\"{backend}\",\"entries\":{entries},\"people\":{people},\"seconds\":{fill_secs:.0}}}"
    );

    let now = civitas_store::timestamp(civitas::now());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut times = Vec::with_capacity(queries);
    let mut rows = 0usize;
    for _ in 0..queries {
        // xorshift: a random person of the P.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let pid = format!("001{:09}", state % people as u64);
        let t = Instant::now();
        let list = civitas_store::access_log::disclosed_for_subject(&db, &pid, &now, 100).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        rows += list.len();
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{{\"label\":\"tracker\",\"backend\":\"{backend}\",\"entries\":{entries},\"queries\":{queries},\"rows_per_person\":{:.1},\"p50_ms\":{:.2},\"p95_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        rows as f64 / queries as f64,
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Appends `n` records (log indices `first`…) for random people of `people`.
async fn fill(db: &Db, first: i64, n: i64, people: i64) -> Result<(), sqlx::Error> {
    let sqlite = "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < $2) \
                  INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id, log_index, how) \
                  SELECT '2026-11-30T10:00:00Z', 'officer-' || (i % 500), 'registry-officer', '00004', 'register-read', \
                  printf('001%09d', abs(random()) % $3), 'record', NULL, $1 + i, 'api' FROM c";
    let postgres = "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id, log_index, how) \
                    SELECT '2026-11-30T10:00:00Z', 'officer-' || (i % 500), 'registry-officer', '00004', 'register-read', \
                    '001' || lpad(floor(random() * $3)::bigint::text, 9, '0'), 'record', NULL, $1 + i, 'api' \
                    FROM generate_series(0, $2 - 1) AS i";
    match db {
        Db::Sqlite(pool, _) => {
            sqlx::query(sqlite).bind(first).bind(n).bind(people).execute(pool).await?;
        }
        Db::Postgres(pool) => {
            sqlx::query(postgres).bind(first).bind(n).bind(people).execute(pool).await?;
        }
    }
    Ok(())
}
