//! The console's queries at 1,000,000 records in PostgreSQL (issue 5's target: ≤ 300 ms each).
//!
//! ```text
//! LIVEGATE_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p livegate --bench admin_queries
//! ```
//!
//! Seeds a fresh schema (dropped at the end unless `LIVEGATE_BENCH_KEEP=1`) with
//! `LIVEGATE_BENCH_RECORDS` records (default 1,000,000) and their sessions over 90 days: 3 banks
//! under the default tenant, 4 scenes and 3 apps each, 85 % pass, 10 % fail (a realistic mix of
//! reasons), 2 % inconclusive, 3 % expired, latencies of 2 to 70 s. Then it runs the roll-up
//! (`stats::rollup_recent`, as the `stats_rollup` job does), checks that the series by day (summed
//! in the database) equals the hourly series folded into days, and times each console query 20
//! times through the store and `livegate::stats`, as the admin API calls them (lists, the
//! detail's store calls, statistics over 30 and 90 days): p50 and p95 in a table, then one JSON
//! line. Figures and what they taught: docs/performance.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use livegate::stats::{self, Bucket};
use livegate::store::postgres::PgStore;
use livegate::store::record_search::{RecordFilter, StatsDimension, StatsFilter};
use livegate::store::{NewScene, NewTenant, Page, RecordId, Store, TenantId, Verdict};
use serde_json::json;

const RUNS: usize = 20;
const TARGET_MS: f64 = 300.0;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let Ok(url) = std::env::var("LIVEGATE_TEST_PG_URL") else {
        eprintln!("skipped: LIVEGATE_TEST_PG_URL not set");
        return Ok(());
    };
    let records: i64 = std::env::var("LIVEGATE_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let keep = std::env::var("LIVEGATE_BENCH_KEEP").is_ok_and(|v| v == "1");
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let schema = format!("lg_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await?;
    let outcome = run(&url, &schema, records, &admin).await;
    if keep {
        eprintln!("kept schema {schema}");
    } else {
        admin
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await?;
    }
    outcome
}

async fn run(
    url: &str,
    schema: &str,
    records: i64,
    admin: &tokio_postgres::Client,
) -> Result<(), BoxError> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.options(format!("-csearch_path={schema}"));
    let store = Arc::new(PgStore::connect(config, 4, Duration::from_secs(10))?);
    store.migrate().await?;
    let mut banks = Vec::new();
    for bank in ["bank-a", "bank-b", "bank-c"] {
        let tenant = store
            .create_tenant(&NewTenant {
                code: bank.into(),
                name: format!("{bank} 银行"),
                parent_id: Some(TenantId::DEFAULT),
            })
            .await?;
        for scene in [
            "open-account",
            "reset-password",
            "large-transfer",
            "card-activate",
        ] {
            store
                .create_scene(
                    tenant.id,
                    &NewScene {
                        code: scene.into(),
                        name: scene.into(),
                        config: json!({}),
                    },
                )
                .await?;
        }
        banks.push(tenant.id);
    }

    let started = Instant::now();
    seed(admin, schema, records).await?;
    let seed_s = started.elapsed().as_secs_f64();
    eprintln!("seeded {records} records and sessions in {seed_s:.1} s");

    let started = Instant::now();
    let report = stats::rollup_recent(store.as_ref()).await?;
    let rollup_s = started.elapsed().as_secs_f64();
    eprintln!(
        "rolled up {} rows in {rollup_s:.1} s (until {:?})",
        report.rows, report.rolled_until
    );
    let started = Instant::now();
    stats::rollup_recent(store.as_ref()).await?;
    let rerun_s = started.elapsed().as_secs_f64();

    let now = Utc::now();
    let bank = banks[0];
    let everyone: Vec<TenantId> = std::iter::once(TenantId::DEFAULT)
        .chain(banks.iter().copied())
        .collect();
    let week = RecordFilter {
        tenants: vec![bank],
        from: now - TimeDelta::days(7),
        to: now,
        ..RecordFilter::default()
    };
    let filtered = RecordFilter {
        scene_code: Some("open-account".into()),
        verdict: Some(Verdict::Fail),
        ..week.clone()
    };
    // A business id of the bank from 60 days ago, looked up over 90 days.
    let biz: String = admin
        .query_one(
            &format!(
                "SELECT biz_id FROM {schema}.records WHERE tenant_id = $1 \
                 AND created_at < now() - interval '60 days' LIMIT 1"
            ),
            &[&bank.0],
        )
        .await?
        .get(0);
    let by_biz = RecordFilter {
        biz_id: Some(biz),
        from: now - TimeDelta::days(90),
        ..week.clone()
    };
    // A root administrator's list: the whole subtree (4 tenants), last 7 days.
    let subtree = RecordFilter {
        tenants: everyone.clone(),
        ..week.clone()
    };
    // A record of the bank from 45 days ago, opened the way the detail page opens it.
    let detail_id: uuid::Uuid = admin
        .query_one(
            &format!(
                "SELECT id FROM {schema}.records WHERE tenant_id = $1 \
                 AND created_at < now() - interval '45 days' LIMIT 1"
            ),
            &[&bank.0],
        )
        .await?
        .get(0);
    let month = stats::hours(StatsFilter {
        tenants: everyone.clone(),
        from: now - TimeDelta::days(30),
        to: now,
        scene_code: None,
        app_id: None,
    });

    // The whole seeded range: the longest a console user is likely to chart.
    let quarter = stats::hours(StatsFilter {
        from: now - TimeDelta::days(90),
        ..month.clone()
    });
    let mut rows = Vec::new();
    let store: &dyn Store = store.as_ref();
    check_days(store, &month).await?;
    rows.push(
        time("records list, first page (7 days)", || async {
            let page = store.search_records(&week, Page::first(20)).await?;
            Ok(page.items.len())
        })
        .await?,
    );
    rows.push(
        time("records, whole subtree (4 tenants), 7 days", || async {
            let page = store.search_records(&subtree, Page::first(20)).await?;
            Ok(page.items.len())
        })
        .await?,
    );
    rows.push(
        time("records, scene + verdict + 7 days", || async {
            let page = store.search_records(&filtered, Page::first(20)).await?;
            Ok(page.items.len())
        })
        .await?,
    );
    rows.push(
        time("records, biz_id lookup (90 days)", || async {
            let page = store.search_records(&by_biz, Page::first(20)).await?;
            Ok(page.items.len())
        })
        .await?,
    );
    rows.push(
        time(
            "record detail (record, scene, session, callbacks)",
            || async {
                // The store calls of `GET /records/{id}` (src/admin/records.rs), evidence aside.
                let record = store
                    .record_in_scope(&everyone, RecordId(detail_id))
                    .await?;
                store.scene(record.tenant_id, record.scene_id).await?;
                store
                    .session_of_tenant(record.tenant_id, record.session_id)
                    .await?;
                let callbacks = store
                    .callbacks_of_record(record.tenant_id, record.id)
                    .await?;
                Ok(1 + callbacks.len())
            },
        )
        .await?,
    );
    rows.push(
        time("stats summary, 30 days", || async {
            let summary = stats::summary(store, &month).await?;
            Ok(summary.total as usize)
        })
        .await?,
    );
    rows.push(
        time("stats series by day by scene, 30 days", || async {
            let series =
                stats::series(store, &month, Bucket::Day, Some(StatsDimension::Scene), 8).await?;
            Ok(series.series.len())
        })
        .await?,
    );
    rows.push(
        time("stats series by day by scene, 90 days", || async {
            let series =
                stats::series(store, &quarter, Bucket::Day, Some(StatsDimension::Scene), 8).await?;
            Ok(series.series.len())
        })
        .await?,
    );
    rows.push(
        time("stats reasons, 30 days", || async {
            let reasons = stats::reasons(store, &month).await?;
            Ok(reasons.reasons.len())
        })
        .await?,
    );

    println!();
    println!(
        "{:<50} {:>9} {:>9} {:>9}",
        format!("query (PostgreSQL, {records} records)"),
        "p50 ms",
        "p95 ms",
        "rows"
    );
    for row in &rows {
        println!(
            "{:<50} {:>9.1} {:>9.1} {:>9}",
            row.name, row.p50_ms, row.p95_ms, row.rows
        );
    }
    println!(
        "seed {seed_s:.1} s, roll-up {rollup_s:.1} s ({} rows), roll-up rerun {rerun_s:.2} s",
        report.rows
    );
    let worst = rows.iter().map(|r| r.p95_ms).fold(0.0, f64::max);
    println!(
        "{}",
        json!({
            "bench": "admin_queries",
            "records": records,
            "runs": RUNS,
            "seed_s": round1(seed_s),
            "rollup_s": round1(rollup_s),
            "rollup_rerun_s": round1(rerun_s),
            "rollup_rows": report.rows,
            "queries": rows.iter().map(|r| json!({
                "name": r.name, "p50_ms": round1(r.p50_ms), "p95_ms": round1(r.p95_ms), "rows": r.rows,
            })).collect::<Vec<_>>(),
            "target_ms": TARGET_MS,
            "within_target": worst <= TARGET_MS,
        })
    );
    Ok(())
}

/// The series by day (summed into days in the database) equals the hourly series folded into
/// the same days (UTC+8) here: lines, totals, passes and fails.
async fn check_days(store: &dyn Store, filter: &StatsFilter) -> Result<(), BoxError> {
    let by = Some(StatsDimension::Scene);
    let days = stats::series(store, filter, Bucket::Day, by, 8).await?;
    let hours = stats::series(store, filter, Bucket::Hour, by, 8).await?;
    let offset = TimeDelta::hours(8);
    for line in &days.series {
        let Some(hourly) = hours.series.iter().find(|l| l.key == line.key) else {
            return Err(format!("no hourly line {}", line.key).into());
        };
        let mut folded = vec![(0, 0, 0); days.buckets.len()];
        for (at, hour) in hours.buckets.iter().enumerate() {
            let local = *hour + offset;
            let day = local - TimeDelta::hours(i64::from(chrono::Timelike::hour(&local))) - offset;
            let Some(index) = days.buckets.iter().position(|d| *d == day) else {
                continue;
            };
            folded[index].0 += hourly.total[at];
            folded[index].1 += hourly.pass[at];
            folded[index].2 += hourly.fail[at];
        }
        for (index, (total, pass, fail)) in folded.into_iter().enumerate() {
            if (total, pass, fail) != (line.total[index], line.pass[index], line.fail[index]) {
                return Err(format!(
                    "{} on {}: by day {:?}, hours folded {:?}",
                    line.key,
                    days.buckets[index],
                    (line.total[index], line.pass[index], line.fail[index]),
                    (total, pass, fail)
                )
                .into());
            }
        }
    }
    if days.series.len() != hours.series.len() {
        return Err("the series by day and by hour have different lines".into());
    }
    eprintln!(
        "series by day = hourly series folded into days ({} lines)",
        days.series.len()
    );
    Ok(())
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

struct Timed {
    name: &'static str,
    p50_ms: f64,
    p95_ms: f64,
    rows: usize,
}

/// Runs `query` once to warm the caches, then [`RUNS`] times.
async fn time<F, Fut>(name: &'static str, query: F) -> Result<Timed, BoxError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<usize, livegate::store::StoreError>>,
{
    let rows = query().await?;
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        query().await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((q * RUNS as f64).ceil() as usize).clamp(1, RUNS) - 1];
    eprintln!("{name}: p50 {:.1} ms", at(0.5));
    Ok(Timed {
        name,
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        rows,
    })
}

/// Writes the records and their sessions in PostgreSQL itself (one `INSERT ... SELECT` over
/// `generate_series` each): no million rows cross the wire.
async fn seed(admin: &tokio_postgres::Client, schema: &str, records: i64) -> Result<(), BoxError> {
    let sql = format!(
        "SET search_path TO {schema};
         CREATE TEMP TABLE bench_scenes AS
           SELECT row_number() OVER (ORDER BY t.code, s.code) - 1 AS n, s.tenant_id, s.id
           FROM scenes s JOIN tenants t ON t.id = s.tenant_id WHERE t.code LIKE 'bank-%';
         INSERT INTO records (id, tenant_id, scene_id, scene_version, session_id, biz_id, app_id,
                              status, verdict, reasons, scores, client, created_at, finished_at)
         SELECT gen_random_uuid(), sc.tenant_id, sc.id, 1, gen_random_uuid(),
                'biz-' || g.g, 'app-' || (1 + g.g % 3),
                CASE WHEN g.r1 < 0.97 THEN 'finished' ELSE 'expired' END,
                CASE WHEN g.r1 < 0.85 THEN 'pass' WHEN g.r1 < 0.95 THEN 'fail'
                     WHEN g.r1 < 0.97 THEN 'inconclusive' END,
                CASE WHEN g.r1 < 0.85 OR (g.r1 >= 0.95 AND g.r1 < 0.97) THEN '[]'::jsonb
                     WHEN g.r1 >= 0.97 THEN '[\"expired\"]'::jsonb
                     ELSE jsonb_build_array((ARRAY['timeout', 'timeout', 'timeout', 'face_mismatch',
                          'no_face', 'no_face', 'face_changed', 'multiple_faces', 'planar_motion',
                          'engine_failure'])[1 + floor(g.r2 * 10)::int]) END,
                '{{\"action\": 1.0}}'::jsonb, '{{\"ua\": \"Mozilla/5.0 MicroMessenger\"}}'::jsonb,
                g.created,
                CASE WHEN g.r1 < 0.97 THEN g.created + make_interval(secs =>
                     2 + g.r3 * 8 + power(g.r3, 12) * 60) END
         FROM (SELECT x AS g, random() AS r1, random() AS r2, random() AS r3,
                      now() - random() * interval '90 days' AS created
               FROM generate_series(1, {records}) AS x) AS g
         JOIN bench_scenes sc ON sc.n = g.g % 12;
         INSERT INTO sessions (session_id, tenant_id, record_id, token_hash, challenge, expires_at,
                               started_at, result)
         SELECT r.session_id, r.tenant_id, r.id, md5(r.id::text), '{{\"steps\": [\"blink\"]}}'::jsonb,
                r.created_at + interval '10 minutes', r.created_at + interval '1 second',
                CASE WHEN r.finished_at IS NOT NULL THEN jsonb_build_object(
                     'capture', CASE WHEN random() < 0.1 THEN 'recording' ELSE 'live' END,
                     'verdict', r.verdict) END
         FROM records r;
         ANALYZE;"
    );
    admin.batch_execute(&sql).await?;
    Ok(())
}
