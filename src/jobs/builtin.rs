//! The jobs every node runs, over the node's own services.
//!
//! `session_expiry` and `evidence_purge` call the same functions as the session service's sweep
//! (`SessionService::expire_due`, `purge_evidence`), which keeps running every
//! `sessions.sweep_secs` on every node: the jobs add a history, a schedule an operator sees and
//! a run now; both are idempotent, so running beside the sweep changes nothing.
//! `callback_retry` wakes the callback worker so that due retries go out at once rather than at
//! its next poll. `stats_rollup` runs `crate::stats::rollup_recent`. `backup` is in
//! `backup.rs`.

use std::sync::Arc;

use async_trait::async_trait;

use super::backup::{BackupJob, BackupSource};
use super::{JobDef, JobFailure, JobTask, RunLog};
use crate::callbacks::CallbackDelivery;
use crate::config::{Config, StoreBackend};
use crate::sessions::SessionService;
use crate::store::Store;

/// At most this many purge rounds (of up to 100 records each) in one run.
const PURGE_ROUNDS: usize = 50;

/// Ends the sessions whose links passed their deadline.
pub struct SessionExpiry(pub SessionService);

const SESSION_EXPIRY: JobDef = JobDef {
    code: "session_expiry",
    name_zh: "过期会话清理",
    name_en: "Session expiry",
    description_zh: "结束链接已过期仍未完成的检测会话，发送过期结果回调",
    description_en:
        "Ends the sessions whose link expired unfinished and sends their expired result",
    default_cron: "* * * * *",
    enabled_by_default: true,
};

#[async_trait]
impl JobTask for SessionExpiry {
    fn def(&self) -> &JobDef {
        &SESSION_EXPIRY
    }

    async fn run(&self, log: &mut RunLog) -> Result<(), JobFailure> {
        let ended = self
            .0
            .expire_due()
            .await
            .map_err(|err| JobFailure(format!("expiry sweep: {err}")))?;
        log.line(format!("ended {ended} expired sessions"));
        Ok(())
    }
}

/// Deletes the evidence frames whose retention ended.
pub struct EvidencePurge(pub SessionService);

const EVIDENCE_PURGE: JobDef = JobDef {
    code: "evidence_purge",
    name_zh: "证据清理",
    name_en: "Evidence purge",
    description_zh: "删除超过场景保留期限的证据图片",
    description_en: "Deletes the evidence frames whose scene's retention has ended",
    default_cron: "15 * * * *",
    enabled_by_default: true,
};

#[async_trait]
impl JobTask for EvidencePurge {
    fn def(&self) -> &JobDef {
        &EVIDENCE_PURGE
    }

    async fn run(&self, log: &mut RunLog) -> Result<(), JobFailure> {
        let mut total = 0;
        for _ in 0..PURGE_ROUNDS {
            let purged = self
                .0
                .purge_evidence()
                .await
                .map_err(|err| JobFailure(format!("evidence purge: {err}")))?;
            total += purged;
            // A round takes at most 100; fewer means nothing more is due (or the rest failed
            // and stays due for the next run).
            if purged < 100 {
                break;
            }
        }
        log.line(format!("purged the evidence of {total} records"));
        Ok(())
    }
}

/// Wakes the callback worker to send the callbacks whose retry is due.
pub struct CallbackRetry(pub CallbackDelivery);

const CALLBACK_RETRY: JobDef = JobDef {
    code: "callback_retry",
    name_zh: "回调重试",
    name_en: "Callback retry",
    description_zh: "唤醒回调发送器，立即重试到期的失败回调",
    description_en: "Wakes the callback worker so that due retries are sent now",
    default_cron: "*/5 * * * *",
    enabled_by_default: true,
};

#[async_trait]
impl JobTask for CallbackRetry {
    fn def(&self) -> &JobDef {
        &CALLBACK_RETRY
    }

    async fn run(&self, log: &mut RunLog) -> Result<(), JobFailure> {
        self.0.notify();
        log.line("callback worker woken: due callbacks are sent now");
        Ok(())
    }
}

/// Rolls the statistics up (`crate::stats::rollup_recent`).
pub struct StatsRollup(pub Arc<dyn Store>);

const STATS_ROLLUP: JobDef = JobDef {
    code: crate::stats::ROLLUP_JOB,
    name_zh: "统计汇总",
    name_en: "Statistics roll-up",
    description_zh: "按小时汇总调用统计，使统计页面在海量记录下依然快速",
    description_en: "Rolls the call statistics up by hour so the statistics pages stay fast",
    default_cron: "5 * * * *",
    enabled_by_default: true,
};

#[async_trait]
impl JobTask for StatsRollup {
    fn def(&self) -> &JobDef {
        &STATS_ROLLUP
    }

    async fn run(&self, log: &mut RunLog) -> Result<(), JobFailure> {
        let report = crate::stats::rollup_recent(self.0.as_ref())
            .await
            .map_err(|err| JobFailure(format!("statistics roll-up: {err}")))?;
        log.line(format!(
            "rolled up {} to {}: {} rows",
            report.since.to_rfc3339(),
            report.until.to_rfc3339(),
            report.rows
        ));
        Ok(())
    }
}

/// Every job a node runs: the built-in ones over its services, and the backup of its store
/// into `data_dir/backups`.
pub fn node_tasks(
    config: &Config,
    store: &Arc<dyn Store>,
    sessions: &SessionService,
    callbacks: &CallbackDelivery,
) -> Vec<Arc<dyn JobTask>> {
    let mut tasks: Vec<Arc<dyn JobTask>> = vec![
        Arc::new(SessionExpiry(sessions.clone())),
        Arc::new(EvidencePurge(sessions.clone())),
        Arc::new(CallbackRetry(callbacks.clone())),
        Arc::new(StatsRollup(Arc::clone(store))),
    ];
    let source = match config.store.backend {
        StoreBackend::Embedded => Some(BackupSource::Embedded {
            db: config.embedded_db_path(),
        }),
        StoreBackend::Postgres => config
            .store
            .url
            .as_ref()
            .and_then(|url| url.expose().parse::<tokio_postgres::Config>().ok())
            .map(|config| BackupSource::Postgres {
                config: Box::new(config),
            }),
    };
    if let Some(source) = source {
        tasks.push(Arc::new(BackupJob::new(
            source,
            config.data_dir.join("backups"),
            Arc::clone(store),
        )));
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::backup::{EMBEDDED_DEF, POSTGRES_DEF};
    use crate::jobs::Schedule;

    #[test]
    fn every_default_schedule_parses() {
        for def in [
            SESSION_EXPIRY,
            EVIDENCE_PURGE,
            CALLBACK_RETRY,
            STATS_ROLLUP,
            EMBEDDED_DEF,
            POSTGRES_DEF,
        ] {
            assert!(Schedule::parse(def.default_cron).is_ok(), "{}", def.code);
        }
    }
}
