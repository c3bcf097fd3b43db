//! SystemStore on postgres.
//!
//! A lease is one conditional `UPDATE ... WHERE (locked_until IS NULL OR locked_until <= now)`:
//! a second node's update waits for the first one's row lock, then re-reads the row, finds the
//! lease taken and changes nothing, so at most one node holds a job at a time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{column, map_err, now_micros, PgStore};
use crate::store::system::{
    cap_log, DictItem, DictItemUpdate, DictStatus, DictType, Job, JobRun, JobUpdate, LeaseRequest,
    NewDictItem, NewDictType, NewJob, NewJobRun, RunStatus, RunTrigger, StoredProperty,
    SystemStore, ABANDONED_MARK, DICT_ITEM_COLUMNS, DICT_TYPE_COLUMNS, JOB_COLUMNS, RUN_COLUMNS,
};
use crate::store::{found, Page, StoreError};

fn property_row(row: &Row) -> Result<StoredProperty, StoreError> {
    Ok(StoredProperty {
        key: column(row, "key")?,
        value: column(row, "value")?,
        updated_by: column(row, "updated_by")?,
        updated_at: column(row, "updated_at")?,
    })
}

fn dict_type_row(row: &Row) -> Result<DictType, StoreError> {
    Ok(DictType {
        code: column(row, "code")?,
        name_zh: column(row, "name_zh")?,
        name_en: column(row, "name_en")?,
        status: DictStatus::parse(column(row, "status")?)?,
        builtin: column(row, "builtin")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
    })
}

fn dict_item_row(row: &Row) -> Result<DictItem, StoreError> {
    Ok(DictItem {
        id: column(row, "id")?,
        type_code: column(row, "type_code")?,
        value: column(row, "value")?,
        label_zh: column(row, "label_zh")?,
        label_en: column(row, "label_en")?,
        sort: column(row, "sort")?,
        status: DictStatus::parse(column(row, "status")?)?,
        builtin: column(row, "builtin")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
    })
}

fn job_row(row: &Row) -> Result<Job, StoreError> {
    Ok(Job {
        code: column(row, "code")?,
        cron: column(row, "cron")?,
        enabled: column(row, "enabled")?,
        next_run_at: column(row, "next_run_at")?,
        last_run_at: column(row, "last_run_at")?,
        last_status: column::<Option<&str>>(row, "last_status")?
            .map(RunStatus::parse)
            .transpose()?,
        locked_by: column(row, "locked_by")?,
        locked_until: column(row, "locked_until")?,
        updated_by: column(row, "updated_by")?,
        updated_at: column(row, "updated_at")?,
    })
}

fn run_row(row: &Row) -> Result<JobRun, StoreError> {
    Ok(JobRun {
        id: column(row, "id")?,
        job_code: column(row, "job_code")?,
        trigger: RunTrigger::parse(column(row, "trigger")?)?,
        requested_by: column(row, "requested_by")?,
        node: column(row, "node")?,
        started_at: column(row, "started_at")?,
        finished_at: column(row, "finished_at")?,
        status: RunStatus::parse(column(row, "status")?)?,
        log: column(row, "log")?,
    })
}

/// PostgreSQL names a duplicate primary key `dict_types_pkey`; both backends say
/// `dict_types_code_key`.
fn type_conflict(err: StoreError) -> StoreError {
    match err {
        StoreError::Conflict { .. } => StoreError::Conflict {
            constraint: "dict_types_code_key".into(),
        },
        other => other,
    }
}

impl PgStore {
    async fn require_dict_type(&self, code: &str) -> Result<(), StoreError> {
        let row = self
            .query_opt(
                "SELECT code FROM dict_types WHERE code = $1",
                &[&code],
                |row| column::<String>(row, "code"),
            )
            .await?;
        found(row, "dict_type").map(|_| ())
    }

    async fn dict_item(&self, type_code: &str, id: Uuid) -> Result<DictItem, StoreError> {
        self.require_dict_type(type_code).await?;
        let row = self
            .query_opt(
                &format!(
                    "SELECT {DICT_ITEM_COLUMNS} FROM dict_data WHERE type_code = $1 AND id = $2"
                ),
                &[&type_code, &id],
                dict_item_row,
            )
            .await?;
        found(row, "dict_item")
    }
}

#[async_trait]
impl SystemStore for PgStore {
    async fn system_properties(&self) -> Result<Vec<StoredProperty>, StoreError> {
        self.query(
            "SELECT key, value, updated_by, updated_at FROM system_properties ORDER BY key",
            &[],
            property_row,
        )
        .await
    }

    async fn set_system_property(
        &self,
        key: &str,
        value: &Value,
        updated_by: &str,
    ) -> Result<(Option<StoredProperty>, StoredProperty), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The row lock (or, for a first set, the insert) orders two admins' changes, so each
        // sees the value it replaced.
        let old = tx
            .query_opt(
                "SELECT key, value, updated_by, updated_at FROM system_properties \
                 WHERE key = $1 FOR UPDATE",
                &[&key],
            )
            .await
            .map_err(map_err)?
            .as_ref()
            .map(property_row)
            .transpose()?;
        let row = tx
            .query_one(
                "INSERT INTO system_properties (key, value, updated_by, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET \
                 value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, \
                 updated_at = EXCLUDED.updated_at \
                 RETURNING key, value, updated_by, updated_at",
                &[&key, value, &updated_by, &now_micros()],
            )
            .await
            .map_err(map_err)?;
        let now = property_row(&row)?;
        tx.commit().await.map_err(map_err)?;
        Ok((old, now))
    }

    async fn dict_types(&self) -> Result<Vec<DictType>, StoreError> {
        self.query(
            &format!("SELECT {DICT_TYPE_COLUMNS} FROM dict_types ORDER BY code"),
            &[],
            dict_type_row,
        )
        .await
    }

    async fn create_dict_type(
        &self,
        new: &NewDictType,
        builtin: bool,
    ) -> Result<DictType, StoreError> {
        self.query_one(
            &format!(
                "INSERT INTO dict_types ({DICT_TYPE_COLUMNS}) \
                 VALUES ($1, $2, $3, 'enabled', $4, $5, $5) RETURNING {DICT_TYPE_COLUMNS}"
            ),
            &[
                &new.code,
                &new.name_zh,
                &new.name_en,
                &builtin,
                &now_micros(),
            ],
            dict_type_row,
        )
        .await
        .map_err(type_conflict)
    }

    async fn dict_data(&self, type_code: &str) -> Result<Vec<DictItem>, StoreError> {
        self.require_dict_type(type_code).await?;
        self.query(
            &format!(
                "SELECT {DICT_ITEM_COLUMNS} FROM dict_data WHERE type_code = $1 \
                 ORDER BY sort, value"
            ),
            &[&type_code],
            dict_item_row,
        )
        .await
    }

    async fn create_dict_item(
        &self,
        type_code: &str,
        new: &NewDictItem,
        builtin: bool,
    ) -> Result<DictItem, StoreError> {
        self.require_dict_type(type_code).await?;
        self.query_one(
            &format!(
                "INSERT INTO dict_data ({DICT_ITEM_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {DICT_ITEM_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &type_code,
                &new.value,
                &new.label_zh,
                &new.label_en,
                &new.sort,
                &new.status.as_str(),
                &builtin,
                &now_micros(),
            ],
            dict_item_row,
        )
        .await
    }

    async fn update_dict_item(
        &self,
        type_code: &str,
        id: Uuid,
        update: &DictItemUpdate,
    ) -> Result<DictItem, StoreError> {
        self.require_dict_type(type_code).await?;
        let updated = self
            .query_opt(
                &format!(
                    "UPDATE dict_data SET label_zh = COALESCE($3::text, label_zh), \
                     label_en = COALESCE($4::text, label_en), sort = COALESCE($5::int, sort), \
                     status = COALESCE($6::text, status), updated_at = $7 \
                     WHERE type_code = $1 AND id = $2 RETURNING {DICT_ITEM_COLUMNS}"
                ),
                &[
                    &type_code,
                    &id,
                    &update.label_zh,
                    &update.label_en,
                    &update.sort,
                    &update.status.map(DictStatus::as_str),
                    &now_micros(),
                ],
                dict_item_row,
            )
            .await?;
        found(updated, "dict_item")
    }

    async fn delete_dict_item(&self, type_code: &str, id: Uuid) -> Result<DictItem, StoreError> {
        let item = self.dict_item(type_code, id).await?;
        if item.builtin {
            return Err(StoreError::Conflict {
                constraint: "dict_data_builtin".into(),
            });
        }
        let deleted = self
            .query_opt(
                &format!(
                    "DELETE FROM dict_data WHERE type_code = $1 AND id = $2 AND NOT builtin \
                     RETURNING {DICT_ITEM_COLUMNS}"
                ),
                &[&type_code, &id],
                dict_item_row,
            )
            .await?;
        found(deleted, "dict_item")
    }

    async fn ensure_job(&self, new: &NewJob) -> Result<Job, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO jobs (code, cron, enabled, next_run_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING",
                &[
                    &new.code,
                    &new.cron,
                    &new.enabled,
                    &new.next_run_at,
                    &now_micros(),
                ],
            )
            .await
            .map_err(map_err)?;
        drop(client);
        self.job(&new.code).await
    }

    async fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.query(
            &format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY code"),
            &[],
            job_row,
        )
        .await
    }

    async fn job(&self, code: &str) -> Result<Job, StoreError> {
        let row = self
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE code = $1"),
                &[&code],
                job_row,
            )
            .await?;
        found(row, "job")
    }

    async fn update_job(
        &self,
        code: &str,
        update: &JobUpdate,
        updated_by: &str,
    ) -> Result<(Job, Job), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let before = tx
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE code = $1 FOR UPDATE"),
                &[&code],
            )
            .await
            .map_err(map_err)?;
        let before = found(before.as_ref().map(job_row).transpose()?, "job")?;
        let after = tx
            .query_one(
                &format!(
                    "UPDATE jobs SET cron = $2, enabled = $3, next_run_at = $4, updated_by = $5, \
                     updated_at = $6 WHERE code = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[
                    &code,
                    &update.cron,
                    &update.enabled,
                    &update.next_run_at,
                    &updated_by,
                    &now_micros(),
                ],
            )
            .await
            .map_err(map_err)?;
        let after = job_row(&after)?;
        tx.commit().await.map_err(map_err)?;
        Ok((before, after))
    }

    async fn lease_job(
        &self,
        code: &str,
        request: &LeaseRequest,
    ) -> Result<Option<Job>, StoreError> {
        let leased = self
            .query_opt(
                &format!(
                    "UPDATE jobs SET locked_by = $2, locked_until = $3, \
                     next_run_at = CASE WHEN $5 THEN $6 ELSE next_run_at END \
                     WHERE code = $1 AND (locked_until IS NULL OR locked_until <= $4) \
                     AND (NOT $5 OR (enabled AND next_run_at IS NOT NULL \
                          AND next_run_at <= $4)) \
                     RETURNING {JOB_COLUMNS}"
                ),
                &[
                    &code,
                    &request.node,
                    &request.until,
                    &request.now,
                    &request.due_only,
                    &request.next_run_at,
                ],
                job_row,
            )
            .await?;
        if leased.is_none() {
            // Tell "no such job" from "not free".
            self.job(code).await?;
        }
        Ok(leased)
    }

    async fn renew_job_lease(
        &self,
        code: &str,
        node: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE jobs SET locked_until = $3 WHERE code = $1 AND locked_by = $2",
                &[&code, &node, &until],
            )
            .await
            .map_err(map_err)?;
        Ok(changed == 1)
    }

    async fn release_job(
        &self,
        code: &str,
        node: &str,
        last_run_at: DateTime<Utc>,
        last_status: RunStatus,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_run_at = $3, \
                 last_status = $4 WHERE code = $1 AND locked_by = $2",
                &[&code, &node, &last_run_at, &last_status.as_str()],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn fail_abandoned_runs(&self, code: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE job_runs SET status = 'failed', finished_at = $2, log = log || $3 \
                 WHERE job_code = $1 AND status = 'running'",
                &[&code, &now, &ABANDONED_MARK],
            )
            .await
            .map_err(map_err)
    }

    async fn start_job_run(&self, new: &NewJobRun) -> Result<JobRun, StoreError> {
        self.query_one(
            &format!(
                "INSERT INTO job_runs ({RUN_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, 'running', '') RETURNING {RUN_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &new.job_code,
                &new.trigger.as_str(),
                &new.requested_by,
                &new.node,
                &new.started_at,
            ],
            run_row,
        )
        .await
    }

    async fn finish_job_run(
        &self,
        id: Uuid,
        finished_at: DateTime<Utc>,
        status: RunStatus,
        log: &str,
    ) -> Result<JobRun, StoreError> {
        let log = cap_log(log);
        let row = self
            .query_opt(
                &format!(
                    "UPDATE job_runs SET finished_at = $2, status = $3, log = $4 WHERE id = $1 \
                     RETURNING {RUN_COLUMNS}"
                ),
                &[&id, &finished_at, &status.as_str(), &log],
                run_row,
            )
            .await?;
        found(row, "job_run")
    }

    async fn job_runs(&self, code: &str, page: Page) -> Result<(Vec<JobRun>, u64), StoreError> {
        let page = page.check()?;
        self.job(code).await?;
        let total = self
            .query_one(
                "SELECT COUNT(*) AS n FROM job_runs WHERE job_code = $1",
                &[&code],
                |row| column::<i64>(row, "n"),
            )
            .await?;
        let runs = self
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM job_runs WHERE job_code = $1 \
                     ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3"
                ),
                &[&code, &i64::from(page.limit), &i64::from(page.offset)],
                run_row,
            )
            .await?;
        Ok((runs, u64::try_from(total).unwrap_or(0)))
    }

    async fn prune_job_runs(&self, code: &str, keep: u32) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM job_runs WHERE job_code = $1 AND status <> 'running' \
                 AND id NOT IN (SELECT id FROM job_runs WHERE job_code = $1 \
                                ORDER BY started_at DESC, id DESC LIMIT $2)",
                &[&code, &i64::from(keep)],
            )
            .await
            .map_err(map_err)
    }
}
