//! The console's records search and the statistics roll-up.

use chrono::{DateTime, Duration as TimeDelta, DurationRound, Utc};
use livegate::store::record_search::{RecordFilter, StatsDimension, StatsFilter};
use livegate::store::{NewSession, Page, Record, RecordId, Scene};

use super::*;

crate::conformance!(
    each_filter_narrows_the_list_newest_first,
    a_page_counts_every_match_and_another_tenant_never_shows,
    stats_match_the_records_before_and_after_a_rollup,
    a_rollup_rerun_gives_the_same_figures,
    the_watermark_waits_for_older_hours,
    reasons_and_captures_come_from_the_results,
);

fn hour_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).expect("hour")
}

fn text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A record as seeded: when it was created, how it ended (and how long after).
struct Seed<'a> {
    scene: &'a Scene,
    biz: &'a str,
    app: Option<&'a str>,
    created: DateTime<Utc>,
    outcome: Option<(Verdict, &'a [&'a str], i64)>,
}

async fn seed(fx: &Fixture, store: &dyn Store, tenant: TenantId, seed: Seed<'_>) -> Record {
    let mut new = new_record(seed.scene, seed.biz);
    new.app_id = seed.app.map(str::to_owned);
    let record = store.insert_record(tenant, &new).await.expect("insert");
    let mut finished = None;
    if let Some((verdict, reasons, ms)) = seed.outcome {
        store
            .finish_record(
                tenant,
                record.id,
                &RecordOutcome {
                    status: RecordStatus::Finished,
                    verdict: Some(verdict),
                    reasons: json!(reasons),
                    scores: json!({}),
                },
            )
            .await
            .expect("finish");
        finished = Some(seed.created + TimeDelta::milliseconds(ms));
    }
    // Times in the past are set beside the store, as they would be after the fact.
    fx.exec(&format!(
        "UPDATE records SET created_at = '{}', finished_at = {} WHERE id = '{}'",
        text(seed.created),
        finished.map_or("NULL".to_owned(), |f| format!("'{}'", text(f))),
        record.id
    ))
    .await;
    record
}

fn filter(tenant: TenantId, from: DateTime<Utc>, to: DateTime<Utc>) -> RecordFilter {
    RecordFilter {
        tenants: vec![tenant],
        from,
        to,
        ..RecordFilter::default()
    }
}

fn ids(items: &[livegate::store::RecordListItem]) -> Vec<RecordId> {
    items.iter().map(|i| i.id).collect()
}

async fn each_filter_narrows_the_list_newest_first(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let open = scene(&*store, t, "open-account").await;
    let reset = scene(&*store, t, "reset-password").await;
    let now = Utc::now();
    let day = TimeDelta::days(1);
    let old = seed(
        &fx,
        &*store,
        t,
        Seed {
            scene: &open,
            biz: "biz-old",
            app: Some("app-1"),
            created: now - day * 20,
            outcome: Some((Verdict::Pass, &[], 4_000)),
        },
    )
    .await;
    let failed = seed(
        &fx,
        &*store,
        t,
        Seed {
            scene: &open,
            biz: "biz-fail",
            app: Some("app-1"),
            created: now - day * 3,
            outcome: Some((Verdict::Fail, &["face_mismatch", "timeout"], 9_000)),
        },
    )
    .await;
    let passed = seed(
        &fx,
        &*store,
        t,
        Seed {
            scene: &reset,
            biz: "biz-pass",
            app: Some("app-2"),
            created: now - day * 2,
            outcome: Some((Verdict::Pass, &[], 3_000)),
        },
    )
    .await;
    let pending = seed(
        &fx,
        &*store,
        t,
        Seed {
            scene: &reset,
            biz: "=HYPERLINK(\"x\")",
            app: None,
            created: now - day,
            outcome: None,
        },
    )
    .await;
    let week = filter(t, now - day * 7, now + TimeDelta::minutes(1));
    let list = |f: RecordFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .search_records(&f, Page::first(50))
                .await
                .expect("search")
                .items
        }
    };
    let all = list(week.clone()).await;
    assert_eq!(
        ids(&all),
        vec![pending.id, passed.id, failed.id],
        "newest first, 7 days"
    );
    assert_eq!(all[1].scene_code, "reset-password");
    assert_eq!(all[1].duration_ms, Some(3_000));
    assert_eq!(all[0].duration_ms, None);
    assert_eq!(all[2].reasons, json!(["face_mismatch", "timeout"]));
    let month = filter(t, now - day * 30, now + TimeDelta::minutes(1));
    assert_eq!(
        list(month.clone()).await.len(),
        4,
        "the old one is in 30 days"
    );
    let with = |f: fn(&mut RecordFilter)| {
        let mut narrowed = month.clone();
        f(&mut narrowed);
        narrowed
    };
    assert_eq!(
        ids(&list(with(|f| f.scene_code = Some("open-account".into()))).await),
        vec![failed.id, old.id]
    );
    assert_eq!(
        ids(&list(with(|f| f.app_id = Some("app-2".into()))).await),
        vec![passed.id]
    );
    assert_eq!(
        ids(&list(with(|f| f.verdict = Some(Verdict::Pass))).await),
        vec![passed.id, old.id]
    );
    assert_eq!(
        ids(&list(with(|f| f.status = Some(RecordStatus::Pending))).await),
        vec![pending.id]
    );
    assert_eq!(
        ids(&list(with(|f| f.reason = Some("timeout".into()))).await),
        vec![failed.id]
    );
    assert!(
        list(with(|f| f.reason = Some("time".into())))
            .await
            .is_empty(),
        "whole codes only"
    );
    assert_eq!(
        ids(&list(with(|f| f.biz_id = Some("biz-pass".into()))).await),
        vec![passed.id]
    );
    assert!(
        list(with(|f| f.biz_id = Some("biz".into())))
            .await
            .is_empty(),
        "exact biz id"
    );
    assert_eq!(
        ids(&list(with(|f| {
            f.scene_code = Some("open-account".into());
            f.verdict = Some(Verdict::Fail);
        }))
        .await),
        vec![failed.id]
    );
    let exported = store.export_records(&month, 2).await.expect("export");
    assert_eq!(ids(&exported), vec![pending.id, passed.id]);
}

async fn a_page_counts_every_match_and_another_tenant_never_shows(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let sa = scene(&*store, a, "open-account").await;
    let sb = scene(&*store, b, "open-account").await;
    let now = Utc::now();
    for n in 0..5 {
        seed(
            &fx,
            &*store,
            a,
            Seed {
                scene: &sa,
                biz: "biz-a",
                app: Some("app-1"),
                created: now - TimeDelta::minutes(10 * (n + 1)),
                outcome: None,
            },
        )
        .await;
    }
    let theirs = seed(
        &fx,
        &*store,
        b,
        Seed {
            scene: &sb,
            biz: "biz-a",
            app: Some("app-1"),
            created: now - TimeDelta::minutes(5),
            outcome: None,
        },
    )
    .await;
    let f = filter(a, now - TimeDelta::days(1), now + TimeDelta::minutes(1));
    let first = store
        .search_records(
            &f,
            Page {
                offset: 0,
                limit: 2,
            },
        )
        .await
        .expect("page 1");
    assert_eq!(
        (first.items.len(), first.total, first.total_exact),
        (2, 5, true)
    );
    let last = store
        .search_records(
            &f,
            Page {
                offset: 4,
                limit: 2,
            },
        )
        .await
        .expect("page 3");
    assert_eq!((last.items.len(), last.total), (1, 5));
    let mut by_biz = f.clone();
    by_biz.biz_id = Some("biz-a".into());
    let found = store
        .search_records(&by_biz, Page::first(50))
        .await
        .expect("biz");
    assert!(found.items.iter().all(|i| i.tenant_id == a));
    assert!(!ids(&found.items).contains(&theirs.id));
    assert_eq!(
        store.record_in_scope(&[a], theirs.id).await,
        not_found("record"),
        "another tenant's record is not found"
    );
    assert_eq!(
        store
            .record_in_scope(&[a, b], theirs.id)
            .await
            .expect("in a wider scope")
            .id,
        theirs.id
    );
    assert!(
        matches!(
            store
                .search_records(&RecordFilter::default(), Page::first(5))
                .await,
            Err(StoreError::Invalid(_))
        ),
        "an empty scope is refused, not read as every tenant"
    );
    assert!(matches!(
        store.search_records(&f, Page::first(501)).await,
        Err(StoreError::Invalid(_))
    ));
}

/// A seeded record: tenant, scene, app, creation time, and (verdict, reasons, latency ms) once
/// finished.
type PlannedRecord<'a> = (
    TenantId,
    &'a Scene,
    Option<&'a str>,
    DateTime<Utc>,
    Option<(Verdict, &'a [&'a str], i64)>,
);

/// Three past hours and the current one, two tenants; returns (tenant, scene, from, to).
async fn seed_hours(
    fx: &Fixture,
    store: &dyn Store,
) -> (TenantId, TenantId, DateTime<Utc>, DateTime<Utc>) {
    let a = tenant(store, "bank-a").await;
    let b = tenant(store, "bank-b").await;
    let open = scene(store, a, "open-account").await;
    let reset = scene(store, a, "reset-password").await;
    let other = scene(store, b, "open-account").await;
    let now = Utc::now();
    let current = hour_floor(now);
    let h = |n: i64| current - TimeDelta::hours(n);
    let plan: Vec<PlannedRecord> = vec![
        (
            a,
            &open,
            Some("app-1"),
            h(3) + TimeDelta::minutes(5),
            Some((Verdict::Pass, &[], 1_500)),
        ),
        (
            a,
            &open,
            Some("app-1"),
            h(3) + TimeDelta::minutes(9),
            Some((Verdict::Pass, &[], 2_500)),
        ),
        (
            a,
            &open,
            Some("app-2"),
            h(2) + TimeDelta::minutes(1),
            Some((Verdict::Fail, &["face_mismatch"], 7_000)),
        ),
        (
            a,
            &reset,
            None,
            h(2) + TimeDelta::minutes(30),
            Some((Verdict::Fail, &["timeout", "no_face"], 30_500)),
        ),
        (
            a,
            &reset,
            Some("app-1"),
            h(1) + TimeDelta::minutes(59),
            Some((Verdict::Inconclusive, &[], 4_500)),
        ),
        (a, &reset, Some("app-1"), h(1), None),
        (
            a,
            &open,
            Some("app-1"),
            current,
            Some((Verdict::Pass, &[], 2_200)),
        ),
        (
            a,
            &open,
            Some("app-2"),
            current,
            Some((Verdict::Fail, &["timeout"], 5_100)),
        ),
        (
            b,
            &other,
            Some("app-9"),
            h(2),
            Some((Verdict::Fail, &["face_changed"], 3_000)),
        ),
    ];
    for (t, s, app, created, outcome) in plan {
        seed(
            fx,
            store,
            t,
            Seed {
                scene: s,
                biz: "biz",
                app,
                created,
                outcome,
            },
        )
        .await;
    }
    (a, b, h(3), current + TimeDelta::hours(1))
}

fn stats_filter(tenants: Vec<TenantId>, from: DateTime<Utc>, to: DateTime<Utc>) -> StatsFilter {
    StatsFilter {
        tenants,
        from,
        to,
        scene_code: None,
        app_id: None,
    }
}

async fn stats_match_the_records_before_and_after_a_rollup(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let (a, b, from, to) = seed_hours(&fx, &*store).await;
    let f = stats_filter(vec![a], from, to);
    let expected =
        |s: &livegate::stats::Summary| (s.total, s.pass, s.fail, s.inconclusive, s.no_verdict);
    let before = livegate::stats::summary(&*store, &f)
        .await
        .expect("summary, raw");
    assert_eq!(expected(&before), (8, 3, 3, 1, 1));
    let report = store
        .rollup_stats(DateTime::UNIX_EPOCH, Utc::now())
        .await
        .expect("rollup");
    assert_eq!(
        report.rolled_until,
        Some(to - TimeDelta::hours(1)),
        "up to the current hour"
    );
    assert!(report.rows > 0);
    let after = livegate::stats::summary(&*store, &f)
        .await
        .expect("summary, rolled");
    assert_eq!(after, before, "roll-ups + the current hour = the records");
    // 7 latencies: 1500, 2200, 2500, 4500, 5100, 7000, 30500 → the median in [4000, 5000).
    let p50 = after.p50_ms.expect("p50");
    assert!((4_000..5_000).contains(&p50), "p50 {p50}");
    let p95 = after.p95_ms.expect("p95");
    assert!((30_000..=30_500).contains(&p95), "p95 {p95}");
    assert_eq!(after.pass_rate, Some(0.4286));
    let both = livegate::stats::summary(&*store, &stats_filter(vec![a, b], from, to))
        .await
        .expect("both");
    assert_eq!(both.total, 9);
    let mut scene_only = f.clone();
    scene_only.scene_code = Some("reset-password".into());
    assert_eq!(
        livegate::stats::summary(&*store, &scene_only)
            .await
            .expect("scene")
            .total,
        3
    );
    let mut app_only = f.clone();
    app_only.app_id = Some("app-2".into());
    assert_eq!(
        livegate::stats::summary(&*store, &app_only)
            .await
            .expect("app")
            .total,
        2
    );
    // By scene and hour: the series adds up per bucket.
    let series = livegate::stats::series(
        &*store,
        &f,
        livegate::stats::Bucket::Hour,
        Some(StatsDimension::Scene),
        0,
    )
    .await
    .expect("series");
    assert_eq!(series.buckets.len(), 4);
    let open = series
        .series
        .iter()
        .find(|l| l.key == "open-account")
        .expect("open line");
    assert_eq!(open.total, vec![2, 1, 0, 2]);
    assert_eq!(open.pass, vec![2, 0, 0, 1]);
    let reset = series
        .series
        .iter()
        .find(|l| l.key == "reset-password")
        .expect("reset line");
    assert_eq!(reset.total, vec![0, 1, 2, 0]);
    let by_tenant = livegate::stats::series(
        &*store,
        &stats_filter(vec![a, b], from, to),
        livegate::stats::Bucket::Day,
        Some(StatsDimension::Tenant),
        0,
    )
    .await
    .expect("by tenant");
    let totals: Vec<(String, i64)> = by_tenant
        .series
        .iter()
        .map(|l| (l.key.clone(), l.total.iter().sum()))
        .collect();
    assert_eq!(totals, vec![("bank-a".into(), 8), ("bank-b".into(), 1)]);
}

async fn a_rollup_rerun_gives_the_same_figures(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let (a, b, from, to) = seed_hours(&fx, &*store).await;
    let f = stats_filter(vec![a, b], from, to);
    let first = store
        .rollup_stats(DateTime::UNIX_EPOCH, Utc::now())
        .await
        .expect("first");
    let groups = |store: Arc<dyn Store>, f: StatsFilter| async move {
        let mut groups = store
            .stats_groups(&f, true, Some(StatsDimension::App))
            .await
            .expect("groups");
        groups.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
        groups
    };
    let once = groups(Arc::clone(&store), f.clone()).await;
    let reasons_once = store.stats_reasons(&f).await.expect("reasons");
    // The job's run stops before the hour that still holds a pending record (to - 2 h).
    let second = livegate::stats::rollup_recent(&*store)
        .await
        .expect("second");
    assert_eq!(second.until, to - TimeDelta::hours(2));
    assert_eq!(groups(Arc::clone(&store), f.clone()).await, once);
    assert_eq!(
        store.stats_reasons(&f).await.expect("reasons again"),
        reasons_once
    );
    let third = store
        .rollup_stats(DateTime::UNIX_EPOCH, Utc::now())
        .await
        .expect("third");
    assert_eq!(first.rows, third.rows, "the same rows rewritten");
    assert_eq!(groups(Arc::clone(&store), f.clone()).await, once);
}

async fn the_watermark_waits_for_older_hours(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let (a, _b, from, to) = seed_hours(&fx, &*store).await;
    assert_eq!(store.stats_rolled_until().await.expect("mark"), None);
    // Rolling only the last past hour leaves older unrolled hours: the mark must not move.
    let last = to - TimeDelta::hours(2);
    let report = store.rollup_stats(last, Utc::now()).await.expect("partial");
    assert_eq!(report.rolled_until, None);
    let f = stats_filter(vec![a], from, to);
    assert_eq!(
        livegate::stats::summary(&*store, &f)
            .await
            .expect("summary")
            .total,
        8
    );
    // The hour to - 2 h holds a record still pending: it and the hours after it stay live, so
    // that its outcome counts as soon as it comes.
    let report = livegate::stats::rollup_recent(&*store)
        .await
        .expect("recent");
    let open_hour = to - TimeDelta::hours(2);
    assert_eq!(report.rolled_until, Some(open_hour));
    let before = livegate::stats::summary(&*store, &f)
        .await
        .expect("summary");
    assert_eq!((before.total, before.no_verdict, before.pass), (8, 1, 3));
    // It ends now (passed): the figures count it at once, without another roll-up.
    let pending = store
        .search_records(
            &RecordFilter {
                status: Some(RecordStatus::Pending),
                ..filter(a, open_hour, open_hour + TimeDelta::hours(1))
            },
            Page {
                offset: 0,
                limit: 10,
            },
        )
        .await
        .expect("pending");
    assert_eq!(pending.items.len(), 1);
    store
        .finish_record(
            a,
            pending.items[0].id,
            &RecordOutcome {
                status: RecordStatus::Finished,
                verdict: Some(Verdict::Pass),
                reasons: json!([]),
                scores: json!({}),
            },
        )
        .await
        .expect("finish");
    let after = livegate::stats::summary(&*store, &f)
        .await
        .expect("summary");
    assert_eq!((after.total, after.no_verdict, after.pass), (8, 0, 4));
    // Nothing open is left: the next run rolls every past hour, with the same figures.
    let report = livegate::stats::rollup_recent(&*store)
        .await
        .expect("recent");
    assert_eq!(report.rolled_until, Some(to - TimeDelta::hours(1)));
    assert_eq!(
        livegate::stats::summary(&*store, &f)
            .await
            .expect("summary"),
        after
    );
}

async fn reasons_and_captures_come_from_the_results(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let (a, _b, from, to) = seed_hours(&fx, &*store).await;
    let s = store.scene_by_code(a, "open-account").await.expect("scene");
    let row = store
        .create_session(
            a,
            &NewSession {
                record: new_record(&s, "biz-rec"),
                token_hash: "00".repeat(32),
                challenge: json!({ "steps": ["blink"] }),
                return_url: None,
                user_ref: None,
                expires_at: Utc::now() + TimeDelta::minutes(5),
            },
        )
        .await
        .expect("session");
    store
        .finish_session(
            a,
            row.session_id,
            &RecordOutcome {
                status: RecordStatus::Finished,
                verdict: Some(Verdict::Fail),
                reasons: json!(["planar_motion"]),
                scores: json!({}),
            },
            &json!({ "capture": "recording", "verdict": "fail" }),
        )
        .await
        .expect("finish");
    let f = filter(a, from, to);
    let listed = store
        .search_records(&f, Page::first(50))
        .await
        .expect("list");
    let item = listed
        .items
        .iter()
        .find(|i| i.id == row.record.id)
        .expect("listed");
    assert_eq!(item.capture.as_deref(), Some("recording"));
    store
        .rollup_stats(DateTime::UNIX_EPOCH, Utc::now())
        .await
        .expect("rollup");
    let reasons = store
        .stats_reasons(&stats_filter(vec![a], from, to))
        .await
        .expect("reasons");
    let count = |code: &str| reasons.iter().find(|r| r.reason == code).map(|r| r.count);
    assert_eq!(
        count("timeout"),
        Some(2),
        "one rolled, one in the current hour"
    );
    assert_eq!(count("face_mismatch"), Some(1));
    assert_eq!(count("planar_motion"), Some(1));
    assert_eq!(count("face_changed"), None, "another tenant's reason");
    assert_eq!(reasons[0].reason, "timeout", "most frequent first");
    let engines = store
        .stats_groups(
            &stats_filter(vec![a], from, to),
            false,
            Some(StatsDimension::Engine),
        )
        .await
        .expect("engines");
    assert!(engines.iter().all(|g| g.key.as_deref() == Some("builtin")));
    assert_eq!(engines.iter().map(|g| g.count).sum::<i64>(), 9);
}
