//! Statistics of liveness calls: the answers the console's charts read, and the roll-up job.
//!
//! ```text
//! records ──rollup_recent (job stats_rollup)──▶ stats_hourly (whole past hours) + watermark
//!                                                  │
//! summary / series / reasons ◀── roll-ups before the watermark + records from it on
//! ```
//!
//! The watermark never passes an hour that still holds a record pending or running (a link sent
//! at 10:50 and used at 11:10): that hour stays live, so a session that just ended counts at
//! once, with its verdict, whichever hour its link was made in.
//!
//! Answers cover whole UTC hours: `from` is rounded down and `to` up to the hour. Latency is
//! `finished_at − created_at` of the records that ended; p50/p95 are estimated from a
//! histogram (`store::record_search::LATENCY_BOUNDS_MS`), exact to the bucket.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::store::record_search::{
    ceil_hour, floor_hour, LatencyHistogram, ReasonCount, StatsDimension, StatsFilter, StatsGroup,
};
use crate::store::{
    Page, RecordFilter, RecordStatus, RollupReport, Store, StoreError, TenantId, Verdict,
};

/// How far back every roll-up recomputes: a record's verdict can still change until its link
/// has expired and the expiry sweep has run, which is well within a day.
pub const RECOMPUTE_WINDOW: TimeDelta = TimeDelta::hours(26);

/// The job's name in the scheduler.
pub const ROLLUP_JOB: &str = "stats_rollup";

/// Rolls up every whole hour not rolled yet, and recomputes the last [`RECOMPUTE_WINDOW`]:
/// what the `stats_rollup` job runs (hourly). Idempotent. Stops before the first hour of the
/// window that holds a record not ended yet (see [`first_open_hour`]).
pub async fn rollup_recent(store: &dyn Store) -> Result<RollupReport, StoreError> {
    let now = Utc::now();
    let since = match store.stats_rolled_until().await? {
        Some(mark) => mark.min(now - RECOMPUTE_WINDOW),
        // Never rolled: from the beginning (the roll-up itself finds the oldest record).
        None => DateTime::<Utc>::UNIX_EPOCH,
    };
    let scan_from = since.max(now - RECOMPUTE_WINDOW);
    let until = first_open_hour(store, scan_from, now).await?.unwrap_or(now);
    store.rollup_stats(since, until).await
}

/// The first whole hour from `from` (rounded down) to the current hour that holds a record
/// still pending or running, if any. Its outcome is still to come: rolling its hour now would
/// freeze that record without a verdict until the next hourly run, so the roll-up stops there
/// and answers keep reading that hour from the records. Cheap: one indexed look-up per status
/// over the window, and only when one is open, one per hour until the first.
pub async fn first_open_hour(
    store: &dyn Store,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let tenants: Vec<TenantId> = store
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    if tenants.is_empty() {
        return Ok(None);
    }
    let (start, end) = (floor_hour(from), floor_hour(now));
    let open_in = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let tenants = tenants.clone();
        async move {
            for status in [RecordStatus::Pending, RecordStatus::Running] {
                let filter = RecordFilter {
                    tenants: tenants.clone(),
                    from,
                    to,
                    status: Some(status),
                    ..RecordFilter::default()
                };
                let page = Page {
                    offset: 0,
                    limit: 1,
                };
                if !store.search_records(&filter, page).await?.items.is_empty() {
                    return Ok::<bool, StoreError>(true);
                }
            }
            Ok(false)
        }
    };
    if start >= end || !open_in(start, end).await? {
        return Ok(None);
    }
    let mut hour = start;
    while hour < end {
        let next = hour + TimeDelta::hours(1);
        if open_in(hour, next).await? {
            return Ok(Some(hour));
        }
        hour = next;
    }
    Ok(None)
}

/// The whole-hour filter of a range.
pub fn hours(mut filter: StatsFilter) -> StatsFilter {
    filter.from = floor_hour(filter.from);
    filter.to = ceil_hour(filter.to);
    filter
}

/// `GET /stats/summary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Records created in the range.
    pub total: i64,
    /// Of them, passed.
    pub pass: i64,
    /// Failed.
    pub fail: i64,
    /// Inconclusive.
    pub inconclusive: i64,
    /// Without a verdict yet, or ended without one (expired, failed).
    pub no_verdict: i64,
    /// `pass / (pass + fail + inconclusive)`, `None` when none has a verdict.
    pub pass_rate: Option<f64>,
    /// Median latency of the ended records, milliseconds.
    pub p50_ms: Option<i64>,
    /// 95th percentile latency.
    pub p95_ms: Option<i64>,
    /// Mean latency.
    pub avg_ms: Option<i64>,
}

#[derive(Debug, Default, Clone)]
struct Tally {
    total: i64,
    pass: i64,
    fail: i64,
    inconclusive: i64,
    latency: LatencyHistogram,
}

impl Tally {
    fn add(&mut self, group: &StatsGroup) {
        self.total += group.count;
        match group.verdict {
            Some(Verdict::Pass) => self.pass += group.count,
            Some(Verdict::Fail) => self.fail += group.count,
            Some(Verdict::Inconclusive) => self.inconclusive += group.count,
            None => {}
        }
        self.latency.merge(&group.latency);
    }

    fn summary(&self) -> Summary {
        let decided = self.pass + self.fail + self.inconclusive;
        Summary {
            total: self.total,
            pass: self.pass,
            fail: self.fail,
            inconclusive: self.inconclusive,
            no_verdict: self.total - decided,
            pass_rate: (decided > 0)
                .then(|| (self.pass as f64 / decided as f64 * 10_000.0).round() / 10_000.0),
            p50_ms: self.latency.quantile(0.50),
            p95_ms: self.latency.quantile(0.95),
            avg_ms: (self.latency.count > 0).then(|| self.latency.sum_ms / self.latency.count),
        }
    }
}

/// The summary of the filter's records.
pub async fn summary(store: &dyn Store, filter: &StatsFilter) -> Result<Summary, StoreError> {
    let groups = store.stats_groups(filter, false, None).await?;
    let mut tally = Tally::default();
    groups.iter().for_each(|g| tally.add(g));
    Ok(tally.summary())
}

/// A series' time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One point an hour.
    Hour,
    /// One point a day (UTC days shifted by the request's offset).
    Day,
}

/// `GET /stats/series`: per bucket start, per key, the counts and latency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Bucket starts, every bucket of the range (empty ones too).
    pub buckets: Vec<DateTime<Utc>>,
    /// One line per key (or one, key `all`), points aligned with `buckets`.
    pub series: Vec<SeriesLine>,
}

/// One line of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesLine {
    /// The dimension's key (scene code, app id or `-`, tenant code, engine), or `all`.
    pub key: String,
    /// Records per bucket.
    pub total: Vec<i64>,
    /// Passed per bucket.
    pub pass: Vec<i64>,
    /// Failed per bucket.
    pub fail: Vec<i64>,
    /// Pass rate per bucket (`None` without verdicts).
    pub pass_rate: Vec<Option<f64>>,
    /// p50 latency per bucket.
    pub p50_ms: Vec<Option<i64>>,
    /// p95 latency per bucket.
    pub p95_ms: Vec<Option<i64>>,
}

/// The series of the filter's records, by `bucket` and split by `by`; day buckets start at
/// midnight of the zone `utc_offset_hours` from UTC.
pub async fn series(
    store: &dyn Store,
    filter: &StatsFilter,
    bucket: Bucket,
    by: Option<StatsDimension>,
    utc_offset_hours: i32,
) -> Result<Series, StoreError> {
    // By day, the database sums the hours into the days itself (fewer rows to sort and send);
    // the groups are folded below either way.
    let groups = match bucket {
        Bucket::Hour => store.stats_groups(filter, true, by).await?,
        Bucket::Day => {
            store
                .stats_groups_by_day(filter, utc_offset_hours, by)
                .await?
        }
    };
    let offset = TimeDelta::hours(i64::from(utc_offset_hours));
    let start_of = |hour: DateTime<Utc>| match bucket {
        Bucket::Hour => hour,
        Bucket::Day => {
            let local = hour + offset;
            let midnight = local - TimeDelta::hours(i64::from(chrono::Timelike::hour(&local)));
            midnight - offset
        }
    };
    let step = match bucket {
        Bucket::Hour => TimeDelta::hours(1),
        Bucket::Day => TimeDelta::days(1),
    };
    let mut buckets = Vec::new();
    let mut at = start_of(filter.from);
    while at < filter.to {
        buckets.push(at);
        at += step;
    }
    let position: BTreeMap<DateTime<Utc>, usize> =
        buckets.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut lines: BTreeMap<String, Vec<Tally>> = BTreeMap::new();
    for group in &groups {
        let Some(hour) = group.hour else { continue };
        let Some(&index) = position.get(&start_of(hour)) else {
            continue;
        };
        let key = match (by, group.key.as_deref()) {
            (None, _) => "all".to_owned(),
            (Some(_), None | Some("")) => "-".to_owned(),
            (Some(_), Some(key)) => key.to_owned(),
        };
        let line = lines
            .entry(key)
            .or_insert_with(|| vec![Tally::default(); buckets.len()]);
        line[index].add(group);
    }
    if by.is_none() && lines.is_empty() {
        lines.insert("all".into(), vec![Tally::default(); buckets.len()]);
    }
    let series = lines
        .into_iter()
        .map(|(key, tallies)| {
            let summaries: Vec<Summary> = tallies.iter().map(Tally::summary).collect();
            SeriesLine {
                key,
                total: summaries.iter().map(|s| s.total).collect(),
                pass: summaries.iter().map(|s| s.pass).collect(),
                fail: summaries.iter().map(|s| s.fail).collect(),
                pass_rate: summaries.iter().map(|s| s.pass_rate).collect(),
                p50_ms: summaries.iter().map(|s| s.p50_ms).collect(),
                p95_ms: summaries.iter().map(|s| s.p95_ms).collect(),
            }
        })
        .collect();
    Ok(Series { buckets, series })
}

/// Reason codes that name an attack (presentation or substitution) rather than a failure of
/// the person or the session; the rest are failures.
pub const ATTACK_REASONS: &[&str] = &[
    "face_changed",
    "face_mismatch",
    "multiple_faces",
    "planar_motion",
    "screen",
    "screen_replay",
    "replay",
    "print",
    "photo",
    "mask",
    "texture",
    "moire",
    "glare",
    "border",
    "injection",
    "virtual_camera",
    "frame_timing",
    "replayed_frames",
    "flash_wrong_sequence",
    "flash_flat",
];

/// Whether a reason code names an attack.
pub fn is_attack(reason: &str) -> bool {
    ATTACK_REASONS.contains(&reason) || reason.starts_with("spoof")
}

/// `GET /stats/reasons`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reasons {
    /// Records in the range.
    pub total: i64,
    /// Records with a `fail` verdict.
    pub failed: i64,
    /// Every reason code given, most frequent first.
    pub reasons: Vec<ReasonShare>,
}

/// A reason code's count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonShare {
    /// The code (`timeout`, `face_mismatch`).
    pub reason: String,
    /// `attack` or `failure`.
    pub kind: &'static str,
    /// Records that carry it.
    pub count: i64,
    /// `count / total`.
    pub share: Option<f64>,
}

/// The reasons and attack types of the filter's records.
pub async fn reasons(store: &dyn Store, filter: &StatsFilter) -> Result<Reasons, StoreError> {
    let totals = summary(store, filter).await?;
    let counts: Vec<ReasonCount> = store.stats_reasons(filter).await?;
    let reasons = counts
        .into_iter()
        .map(|c| ReasonShare {
            kind: if is_attack(&c.reason) {
                "attack"
            } else {
                "failure"
            },
            share: (totals.total > 0)
                .then(|| (c.count as f64 / totals.total as f64 * 10_000.0).round() / 10_000.0),
            reason: c.reason,
            count: c.count,
        })
        .collect();
    Ok(Reasons {
        total: totals.total,
        failed: totals.fail,
        reasons,
    })
}
