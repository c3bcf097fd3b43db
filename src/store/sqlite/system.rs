//! SystemStore on sqlite.
//!
//! A lease is one conditional `UPDATE ... WHERE (locked_until IS NULL OR locked_until <= now)`;
//! SQLite runs one writer at a time, so of two callers (two processes on one file) only the
//! first finds the job free.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde_json::Value;
use uuid::Uuid;

use super::{
    conversion, get_json, get_opt_time, get_time, get_uuid, map_err, now_micros, text_time,
    BadText, SqliteStore,
};
use crate::store::system::{
    cap_log, DictItem, DictItemUpdate, DictStatus, DictType, Job, JobRun, JobUpdate, LeaseRequest,
    NewDictItem, NewDictType, NewJob, NewJobRun, RunStatus, RunTrigger, StoredProperty,
    SystemStore, ABANDONED_MARK, DICT_ITEM_COLUMNS, DICT_TYPE_COLUMNS, JOB_COLUMNS, RUN_COLUMNS,
};
use crate::store::{found, Page, StoreError};

fn bad(index: usize, err: StoreError) -> rusqlite::Error {
    conversion(index, BadText(err))
}

fn property_row(row: &Row<'_>) -> rusqlite::Result<StoredProperty> {
    Ok(StoredProperty {
        key: row.get(0)?,
        value: get_json(row, 1)?,
        updated_by: row.get(2)?,
        updated_at: get_time(row, 3)?,
    })
}

fn dict_type_row(row: &Row<'_>) -> rusqlite::Result<DictType> {
    let status: String = row.get(3)?;
    Ok(DictType {
        code: row.get(0)?,
        name_zh: row.get(1)?,
        name_en: row.get(2)?,
        status: DictStatus::parse(&status).map_err(|err| bad(3, err))?,
        builtin: row.get(4)?,
        created_at: get_time(row, 5)?,
        updated_at: get_time(row, 6)?,
    })
}

fn dict_item_row(row: &Row<'_>) -> rusqlite::Result<DictItem> {
    let status: String = row.get(6)?;
    Ok(DictItem {
        id: get_uuid(row, 0)?,
        type_code: row.get(1)?,
        value: row.get(2)?,
        label_zh: row.get(3)?,
        label_en: row.get(4)?,
        sort: row.get(5)?,
        status: DictStatus::parse(&status).map_err(|err| bad(6, err))?,
        builtin: row.get(7)?,
        created_at: get_time(row, 8)?,
        updated_at: get_time(row, 9)?,
    })
}

fn job_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let last_status: Option<String> = row.get(5)?;
    Ok(Job {
        code: row.get(0)?,
        cron: row.get(1)?,
        enabled: row.get(2)?,
        next_run_at: get_opt_time(row, 3)?,
        last_run_at: get_opt_time(row, 4)?,
        last_status: last_status
            .map(|s| RunStatus::parse(&s).map_err(|err| bad(5, err)))
            .transpose()?,
        locked_by: row.get(6)?,
        locked_until: get_opt_time(row, 7)?,
        updated_by: row.get(8)?,
        updated_at: get_time(row, 9)?,
    })
}

fn run_row(row: &Row<'_>) -> rusqlite::Result<JobRun> {
    let trigger: String = row.get(2)?;
    let status: String = row.get(7)?;
    Ok(JobRun {
        id: get_uuid(row, 0)?,
        job_code: row.get(1)?,
        trigger: RunTrigger::parse(&trigger).map_err(|err| bad(2, err))?,
        requested_by: row.get(3)?,
        node: row.get(4)?,
        started_at: get_time(row, 5)?,
        finished_at: get_opt_time(row, 6)?,
        status: RunStatus::parse(&status).map_err(|err| bad(7, err))?,
        log: row.get(8)?,
    })
}

fn property_by_key(conn: &Connection, key: &str) -> Result<Option<StoredProperty>, StoreError> {
    conn.query_row(
        "SELECT key, value, updated_by, updated_at FROM system_properties WHERE key = ?1",
        params![key],
        property_row,
    )
    .optional()
    .map_err(map_err)
}

fn dict_type_exists(conn: &Connection, code: &str) -> Result<(), StoreError> {
    let row = conn
        .query_row(
            "SELECT 1 FROM dict_types WHERE code = ?1",
            params![code],
            |row| row.get::<_, i64>(0),
        )
        .optional()
        .map_err(map_err)?;
    found(row, "dict_type").map(|_| ())
}

fn dict_item_by_id(conn: &Connection, type_code: &str, id: Uuid) -> Result<DictItem, StoreError> {
    dict_type_exists(conn, type_code)?;
    let row = conn
        .query_row(
            &format!("SELECT {DICT_ITEM_COLUMNS} FROM dict_data WHERE type_code = ?1 AND id = ?2"),
            params![type_code, id.to_string()],
            dict_item_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "dict_item")
}

fn job_by_code(conn: &Connection, code: &str) -> Result<Job, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE code = ?1"),
            params![code],
            job_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "job")
}

fn run_by_id(conn: &Connection, id: Uuid) -> Result<JobRun, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE id = ?1"),
            params![id.to_string()],
            run_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "job_run")
}

/// SQLite reports a duplicate primary key by its column; name it as both backends document.
fn type_conflict(err: StoreError) -> StoreError {
    match err {
        StoreError::Conflict { .. } => StoreError::Conflict {
            constraint: "dict_types_code_key".into(),
        },
        other => other,
    }
}

#[async_trait]
impl SystemStore for SqliteStore {
    async fn system_properties(&self) -> Result<Vec<StoredProperty>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT key, value, updated_by, updated_at FROM system_properties \
                     ORDER BY key",
                )
                .map_err(map_err)?;
            let rows = stmt.query_map([], property_row).map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn set_system_property(
        &self,
        key: &str,
        value: &Value,
        updated_by: &str,
    ) -> Result<(Option<StoredProperty>, StoredProperty), StoreError> {
        let now = StoredProperty {
            key: key.to_owned(),
            value: value.clone(),
            updated_by: updated_by.to_owned(),
            updated_at: now_micros(),
        };
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let old = property_by_key(&tx, &now.key)?;
            tx.execute(
                "INSERT INTO system_properties (key, value, updated_by, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO UPDATE SET \
                 value = excluded.value, updated_by = excluded.updated_by, \
                 updated_at = excluded.updated_at",
                params![
                    now.key,
                    now.value.to_string(),
                    now.updated_by,
                    text_time(now.updated_at)
                ],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok((old, now))
        })
        .await
    }

    async fn dict_types(&self) -> Result<Vec<DictType>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {DICT_TYPE_COLUMNS} FROM dict_types ORDER BY code"
                ))
                .map_err(map_err)?;
            let rows = stmt.query_map([], dict_type_row).map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn create_dict_type(
        &self,
        new: &NewDictType,
        builtin: bool,
    ) -> Result<DictType, StoreError> {
        let now = now_micros();
        let created = DictType {
            code: new.code.clone(),
            name_zh: new.name_zh.clone(),
            name_en: new.name_en.clone(),
            status: DictStatus::Enabled,
            builtin,
            created_at: now,
            updated_at: now,
        };
        self.call(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO dict_types ({DICT_TYPE_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
                ),
                params![
                    created.code,
                    created.name_zh,
                    created.name_en,
                    created.status.as_str(),
                    created.builtin,
                    text_time(now)
                ],
            )
            .map_err(map_err)
            .map_err(type_conflict)?;
            Ok(created)
        })
        .await
    }

    async fn dict_data(&self, type_code: &str) -> Result<Vec<DictItem>, StoreError> {
        let type_code = type_code.to_owned();
        self.call(move |conn| {
            dict_type_exists(conn, &type_code)?;
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {DICT_ITEM_COLUMNS} FROM dict_data WHERE type_code = ?1 \
                     ORDER BY sort, value"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![type_code], dict_item_row)
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn create_dict_item(
        &self,
        type_code: &str,
        new: &NewDictItem,
        builtin: bool,
    ) -> Result<DictItem, StoreError> {
        let now = now_micros();
        let item = DictItem {
            id: Uuid::now_v7(),
            type_code: type_code.to_owned(),
            value: new.value.clone(),
            label_zh: new.label_zh.clone(),
            label_en: new.label_en.clone(),
            sort: new.sort,
            status: new.status,
            builtin,
            created_at: now,
            updated_at: now,
        };
        self.call(move |conn| {
            dict_type_exists(conn, &item.type_code)?;
            conn.execute(
                &format!(
                    "INSERT INTO dict_data ({DICT_ITEM_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
                ),
                params![
                    item.id.to_string(),
                    item.type_code,
                    item.value,
                    item.label_zh,
                    item.label_en,
                    item.sort,
                    item.status.as_str(),
                    item.builtin,
                    text_time(now)
                ],
            )
            .map_err(map_err)?;
            Ok(item)
        })
        .await
    }

    async fn update_dict_item(
        &self,
        type_code: &str,
        id: Uuid,
        update: &DictItemUpdate,
    ) -> Result<DictItem, StoreError> {
        let type_code = type_code.to_owned();
        let update = update.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let current = dict_item_by_id(&tx, &type_code, id)?;
            tx.execute(
                "UPDATE dict_data SET label_zh = ?1, label_en = ?2, sort = ?3, status = ?4, \
                 updated_at = ?5 WHERE id = ?6",
                params![
                    update.label_zh.as_ref().unwrap_or(&current.label_zh),
                    update.label_en.as_ref().unwrap_or(&current.label_en),
                    update.sort.unwrap_or(current.sort),
                    update.status.unwrap_or(current.status).as_str(),
                    text_time(now_micros()),
                    id.to_string()
                ],
            )
            .map_err(map_err)?;
            let item = dict_item_by_id(&tx, &type_code, id)?;
            tx.commit().map_err(map_err)?;
            Ok(item)
        })
        .await
    }

    async fn delete_dict_item(&self, type_code: &str, id: Uuid) -> Result<DictItem, StoreError> {
        let type_code = type_code.to_owned();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let item = dict_item_by_id(&tx, &type_code, id)?;
            if item.builtin {
                return Err(StoreError::Conflict {
                    constraint: "dict_data_builtin".into(),
                });
            }
            tx.execute(
                "DELETE FROM dict_data WHERE id = ?1 AND builtin = 0",
                params![id.to_string()],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(item)
        })
        .await
    }

    async fn ensure_job(&self, new: &NewJob) -> Result<Job, StoreError> {
        let new = new.clone();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO jobs (code, cron, enabled, next_run_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (code) DO NOTHING",
                params![
                    new.code,
                    new.cron,
                    new.enabled,
                    new.next_run_at.map(text_time),
                    text_time(now_micros())
                ],
            )
            .map_err(map_err)?;
            job_by_code(conn, &new.code)
        })
        .await
    }

    async fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY code"))
                .map_err(map_err)?;
            let rows = stmt.query_map([], job_row).map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn job(&self, code: &str) -> Result<Job, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| job_by_code(conn, &code)).await
    }

    async fn update_job(
        &self,
        code: &str,
        update: &JobUpdate,
        updated_by: &str,
    ) -> Result<(Job, Job), StoreError> {
        let code = code.to_owned();
        let update = update.clone();
        let updated_by = updated_by.to_owned();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let before = job_by_code(&tx, &code)?;
            tx.execute(
                "UPDATE jobs SET cron = ?1, enabled = ?2, next_run_at = ?3, updated_by = ?4, \
                 updated_at = ?5 WHERE code = ?6",
                params![
                    update.cron,
                    update.enabled,
                    update.next_run_at.map(text_time),
                    updated_by,
                    text_time(now_micros()),
                    code
                ],
            )
            .map_err(map_err)?;
            let after = job_by_code(&tx, &code)?;
            tx.commit().map_err(map_err)?;
            Ok((before, after))
        })
        .await
    }

    async fn lease_job(
        &self,
        code: &str,
        request: &LeaseRequest,
    ) -> Result<Option<Job>, StoreError> {
        let code = code.to_owned();
        let request = request.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            job_by_code(&tx, &code)?;
            let now = text_time(request.now);
            let leased = tx
                .query_row(
                    &format!(
                        "UPDATE jobs SET locked_by = ?1, locked_until = ?2, \
                         next_run_at = CASE WHEN ?4 THEN ?5 ELSE next_run_at END \
                         WHERE code = ?6 AND (locked_until IS NULL OR locked_until <= ?3) \
                         AND (NOT ?4 OR (enabled = 1 AND next_run_at IS NOT NULL \
                              AND next_run_at <= ?3)) \
                         RETURNING {JOB_COLUMNS}"
                    ),
                    params![
                        request.node,
                        text_time(request.until),
                        now,
                        request.due_only,
                        request.next_run_at.map(text_time),
                        code
                    ],
                    job_row,
                )
                .optional()
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(leased)
        })
        .await
    }

    async fn renew_job_lease(
        &self,
        code: &str,
        node: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let code = code.to_owned();
        let node = node.to_owned();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE jobs SET locked_until = ?1 WHERE code = ?2 AND locked_by = ?3",
                    params![text_time(until), code, node],
                )
                .map_err(map_err)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_job(
        &self,
        code: &str,
        node: &str,
        last_run_at: DateTime<Utc>,
        last_status: RunStatus,
    ) -> Result<(), StoreError> {
        let code = code.to_owned();
        let node = node.to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_run_at = ?1, \
                 last_status = ?2 WHERE code = ?3 AND locked_by = ?4",
                params![text_time(last_run_at), last_status.as_str(), code, node],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn fail_abandoned_runs(&self, code: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE job_runs SET status = 'failed', finished_at = ?1, log = log || ?2 \
                     WHERE job_code = ?3 AND status = 'running'",
                    params![text_time(now), ABANDONED_MARK, code],
                )
                .map_err(map_err)?;
            Ok(changed as u64)
        })
        .await
    }

    async fn start_job_run(&self, new: &NewJobRun) -> Result<JobRun, StoreError> {
        let run = JobRun {
            id: Uuid::now_v7(),
            job_code: new.job_code.clone(),
            trigger: new.trigger,
            requested_by: new.requested_by.clone(),
            node: new.node.clone(),
            started_at: new.started_at,
            finished_at: None,
            status: RunStatus::Running,
            log: String::new(),
        };
        self.call(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO job_runs ({RUN_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, '')"
                ),
                params![
                    run.id.to_string(),
                    run.job_code,
                    run.trigger.as_str(),
                    run.requested_by,
                    run.node,
                    text_time(run.started_at),
                    run.status.as_str()
                ],
            )
            .map_err(map_err)?;
            Ok(run)
        })
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
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE job_runs SET finished_at = ?1, status = ?2, log = ?3 WHERE id = ?4",
                    params![text_time(finished_at), status.as_str(), log, id.to_string()],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound { entity: "job_run" });
            }
            run_by_id(conn, id)
        })
        .await
    }

    async fn job_runs(&self, code: &str, page: Page) -> Result<(Vec<JobRun>, u64), StoreError> {
        let page = page.check()?;
        let code = code.to_owned();
        self.call(move |conn| {
            job_by_code(conn, &code)?;
            let total: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM job_runs WHERE job_code = ?1",
                    params![code],
                    |row| row.get(0),
                )
                .map_err(map_err)?;
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {RUN_COLUMNS} FROM job_runs WHERE job_code = ?1 \
                     ORDER BY started_at DESC, id DESC LIMIT ?2 OFFSET ?3"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![code, page.limit, page.offset], run_row)
                .map_err(map_err)?;
            let runs = rows.collect::<Result<_, _>>().map_err(map_err)?;
            Ok((runs, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    async fn prune_job_runs(&self, code: &str, keep: u32) -> Result<u64, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM job_runs WHERE job_code = ?1 AND status <> 'running' \
                     AND id NOT IN (SELECT id FROM job_runs WHERE job_code = ?1 \
                                    ORDER BY started_at DESC, id DESC LIMIT ?2)",
                    params![code, keep],
                )
                .map_err(map_err)?;
            Ok(deleted as u64)
        })
        .await
    }
}
