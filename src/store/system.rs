//! System management: system properties, the data dictionary, scheduled jobs and their runs.
//!
//! These rows are system-wide, not a tenant's: one set of properties, one dictionary and one
//! schedule serve the whole installation (the console lets only users of the top tenant change
//! them, `docs/admin-api.md`).
//!
//! - `system_properties`: the values an operator set (key, JSON value, who, when). What a key
//!   means, its type, bounds and default live in code (`crate::properties`); a key without a row
//!   has its default.
//! - `dict_types` / `dict_data`: the data dictionary behind the console's drop-downs. Built-in
//!   rows (seeded by `crate::dictionary`) may be relabelled, reordered or disabled, never deleted.
//! - `jobs` / `job_runs`: the schedule and its history. A node runs a job only while it holds
//!   the job's row lease (`locked_by`, `locked_until`), taken by one conditional `UPDATE`, so two
//!   nodes never run the same job at once (`crate::jobs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{Page, StoreError};

/// The longest log a job run keeps, in bytes; a longer log is cut at a character boundary and
/// ends with [`LOG_CUT_MARK`].
pub const MAX_RUN_LOG_BYTES: usize = 64 * 1024;

/// What ends a log that was cut.
pub const LOG_CUT_MARK: &str = "\n[log cut at 64 KiB]";

/// What ends the log of a run whose node went away before it finished.
pub const ABANDONED_MARK: &str = "\n[abandoned: its node stopped holding the job's lease]";

/// A system property an operator set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredProperty {
    /// Its key (`admin.session_idle_timeout_s`).
    pub key: String,
    /// Its value, as JSON (a number, a boolean or a string).
    pub value: Value,
    /// The username that set it.
    pub updated_by: String,
    /// When.
    pub updated_at: DateTime<Utc>,
}

/// Whether a dictionary type or entry is offered in drop-downs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DictStatus {
    /// Offered.
    Enabled,
    /// Kept (old records still show its label) but not offered.
    Disabled,
}

impl DictStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            DictStatus::Enabled => "enabled",
            DictStatus::Disabled => "disabled",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "enabled" => Ok(DictStatus::Enabled),
            "disabled" => Ok(DictStatus::Disabled),
            other => Err(StoreError::Backend(format!(
                "unknown dictionary status {other:?}"
            ))),
        }
    }
}

/// A dictionary type (字典类型): one drop-down's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictType {
    /// Its code (`verdict`, `reason`).
    pub code: String,
    /// Name in Simplified Chinese.
    pub name_zh: String,
    /// Name in English.
    pub name_en: String,
    /// Offered or not.
    pub status: DictStatus,
    /// Seeded by the build: cannot be deleted.
    pub builtin: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// What it takes to create a dictionary type (or to seed one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDictType {
    /// Its code.
    pub code: String,
    /// Name in Simplified Chinese.
    pub name_zh: String,
    /// Name in English.
    pub name_en: String,
}

/// A dictionary entry (字典数据): one option of a drop-down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictItem {
    /// Its identifier.
    pub id: Uuid,
    /// The type it belongs to.
    pub type_code: String,
    /// The value stored in records and sent by the API (`face_mismatch`), unique in the type.
    pub value: String,
    /// Label in Simplified Chinese.
    pub label_zh: String,
    /// Label in English.
    pub label_en: String,
    /// Position in the drop-down, ascending.
    pub sort: i32,
    /// Offered or not.
    pub status: DictStatus,
    /// Seeded by the build: may be relabelled, not deleted; its value never changes.
    pub builtin: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// What it takes to add a dictionary entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDictItem {
    /// The value, unique in the type (else `Conflict { constraint: "dict_data_type_code_value_key" }`).
    pub value: String,
    /// Label in Simplified Chinese.
    pub label_zh: String,
    /// Label in English.
    pub label_en: String,
    /// Position.
    pub sort: i32,
    /// Offered or not.
    pub status: DictStatus,
}

/// A change to a dictionary entry; `None` leaves a field as it is. The value never changes:
/// records hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictItemUpdate {
    /// New zh-CN label.
    pub label_zh: Option<String>,
    /// New English label.
    pub label_en: Option<String>,
    /// New position.
    pub sort: Option<i32>,
    /// New status.
    pub status: Option<DictStatus>,
}

/// How a job run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started, not finished (or its node died: the lease tells).
    Running,
    /// Finished without error.
    Ok,
    /// Finished with an error; the log says why.
    Failed,
}

impl RunStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "running" => Ok(RunStatus::Running),
            "ok" => Ok(RunStatus::Ok),
            "failed" => Ok(RunStatus::Failed),
            other => Err(StoreError::Backend(format!(
                "unknown job run status {other:?}"
            ))),
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// Its cron schedule came due.
    Schedule,
    /// An operator's "run now".
    Manual,
}

impl RunTrigger {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Schedule => "schedule",
            RunTrigger::Manual => "manual",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "schedule" => Ok(RunTrigger::Schedule),
            "manual" => Ok(RunTrigger::Manual),
            other => Err(StoreError::Backend(format!(
                "unknown job run trigger {other:?}"
            ))),
        }
    }
}

/// A scheduled job's row: its schedule and who runs it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its code (`evidence_purge`); what it does is in code (`crate::jobs`).
    pub code: String,
    /// The cron expression (validated by the caller).
    pub cron: String,
    /// Whether the schedule runs it (a run now works either way).
    pub enabled: bool,
    /// When it is next due; `None` while disabled or never computed.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When its last run started.
    pub last_run_at: Option<DateTime<Utc>>,
    /// How its last run ended.
    pub last_status: Option<RunStatus>,
    /// The node running it now (while `locked_until` is in the future).
    pub locked_by: Option<String>,
    /// Until when that node holds it; past means free.
    pub locked_until: Option<DateTime<Utc>>,
    /// Who last changed its schedule (`None`: never changed since seeded).
    pub updated_by: Option<String>,
    /// When its row last changed its schedule.
    pub updated_at: DateTime<Utc>,
}

/// What it takes to seed a job (inserted only when its code has no row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    /// Its code.
    pub code: String,
    /// The default cron expression.
    pub cron: String,
    /// Enabled at first.
    pub enabled: bool,
    /// When it is first due.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// An operator's change to a job's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobUpdate {
    /// The cron expression (validated by the caller).
    pub cron: String,
    /// Enabled or not.
    pub enabled: bool,
    /// When it is next due under the new schedule (`None` when disabled).
    pub next_run_at: Option<DateTime<Utc>>,
}

/// How a node asks for a job's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    /// The node asking (`host:pid:tag`).
    pub node: String,
    /// The time now, as the node sees it.
    pub now: DateTime<Utc>,
    /// Until when it wants the job.
    pub until: DateTime<Utc>,
    /// `true`: only when the job is enabled and due at `now` (the schedule); `false`: whenever
    /// it is free (a run now).
    pub due_only: bool,
    /// With `due_only`, the job's next due time under its schedule, written with the lease so
    /// that a node which read an older due list cannot take the same slot again.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRun {
    /// Its identifier (UUID v7).
    pub id: Uuid,
    /// The job.
    pub job_code: String,
    /// What started it.
    pub trigger: RunTrigger,
    /// Who asked, for a run now.
    pub requested_by: Option<String>,
    /// The node that ran it.
    pub node: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub status: RunStatus,
    /// What it wrote (at most [`MAX_RUN_LOG_BYTES`]).
    pub log: String,
}

/// What it takes to record the start of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJobRun {
    /// The job.
    pub job_code: String,
    /// What started it.
    pub trigger: RunTrigger,
    /// Who asked, for a run now.
    pub requested_by: Option<String>,
    /// The node running it.
    pub node: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// Storage of system properties, the dictionary and the job schedule.
#[async_trait]
pub trait SystemStore: Send + Sync {
    /// Every property an operator set, by key.
    async fn system_properties(&self) -> Result<Vec<StoredProperty>, StoreError>;

    /// Sets a property (validated by the caller); returns the row it replaced, if any, and the
    /// row as it is now.
    async fn set_system_property(
        &self,
        key: &str,
        value: &Value,
        updated_by: &str,
    ) -> Result<(Option<StoredProperty>, StoredProperty), StoreError>;

    /// Every dictionary type, by code.
    async fn dict_types(&self) -> Result<Vec<DictType>, StoreError>;

    /// Creates a dictionary type, built in or not; `Conflict { constraint: "dict_types_pkey" }`
    /// when the code is taken.
    async fn create_dict_type(
        &self,
        new: &NewDictType,
        builtin: bool,
    ) -> Result<DictType, StoreError>;

    /// The entries of a type, by sort then value; `NotFound { entity: "dict_type" }` when there
    /// is no such type.
    async fn dict_data(&self, type_code: &str) -> Result<Vec<DictItem>, StoreError>;

    /// Adds an entry to a type (`NotFound` without the type).
    async fn create_dict_item(
        &self,
        type_code: &str,
        new: &NewDictItem,
        builtin: bool,
    ) -> Result<DictItem, StoreError>;

    /// Changes an entry of a type; `NotFound { entity: "dict_item" }` when the type has no
    /// such entry.
    async fn update_dict_item(
        &self,
        type_code: &str,
        id: Uuid,
        update: &DictItemUpdate,
    ) -> Result<DictItem, StoreError>;

    /// Deletes an entry of a type and returns it; a built-in one is refused with
    /// `Conflict { constraint: "dict_data_builtin" }`.
    async fn delete_dict_item(&self, type_code: &str, id: Uuid) -> Result<DictItem, StoreError>;

    /// Inserts the job if its code has no row; returns the row as it is (an operator's schedule
    /// is kept).
    async fn ensure_job(&self, new: &NewJob) -> Result<Job, StoreError>;

    /// Every job, by code.
    async fn jobs(&self) -> Result<Vec<Job>, StoreError>;

    /// A job by code (`NotFound { entity: "job" }`).
    async fn job(&self, code: &str) -> Result<Job, StoreError>;

    /// Changes a job's schedule; returns the row before and after.
    async fn update_job(
        &self,
        code: &str,
        update: &JobUpdate,
        updated_by: &str,
    ) -> Result<(Job, Job), StoreError>;

    /// Takes a job's lease if it is free (no lease, or one that ran out) and, with `due_only`,
    /// if it is enabled and due; atomically, so of two callers at most one gets it. `None` when
    /// not taken; `NotFound` when there is no such job.
    async fn lease_job(
        &self,
        code: &str,
        request: &LeaseRequest,
    ) -> Result<Option<Job>, StoreError>;

    /// Extends a lease the node holds; `false` when it no longer holds it.
    async fn renew_job_lease(
        &self,
        code: &str,
        node: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives the lease back (only if the node holds it) and records how the run went.
    async fn release_job(
        &self,
        code: &str,
        node: &str,
        last_run_at: DateTime<Utc>,
        last_status: RunStatus,
    ) -> Result<(), StoreError>;

    /// Marks the job's runs still `running` as `failed` at `now`, noting in their log that
    /// their node went away; returns how many. Called by the lease holder before it starts a
    /// run: holding the lease, it knows no other node still runs the job.
    async fn fail_abandoned_runs(&self, code: &str, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Records the start of a run (status `running`).
    async fn start_job_run(&self, new: &NewJobRun) -> Result<JobRun, StoreError>;

    /// Records how a run ended; the log is cut to [`MAX_RUN_LOG_BYTES`].
    async fn finish_job_run(
        &self,
        id: Uuid,
        finished_at: DateTime<Utc>,
        status: RunStatus,
        log: &str,
    ) -> Result<JobRun, StoreError>;

    /// A job's runs, newest first, and how many it has in all.
    async fn job_runs(&self, code: &str, page: Page) -> Result<(Vec<JobRun>, u64), StoreError>;

    /// Deletes a job's finished runs beyond the newest `keep`; returns how many it deleted.
    async fn prune_job_runs(&self, code: &str, keep: u32) -> Result<u64, StoreError>;
}

/// The job columns both backends select, in the order their row readers expect.
pub(crate) const JOB_COLUMNS: &str = "code, cron, enabled, next_run_at, last_run_at, \
     last_status, locked_by, locked_until, updated_by, updated_at";

/// The run columns, likewise.
pub(crate) const RUN_COLUMNS: &str =
    "id, job_code, trigger, requested_by, node, started_at, finished_at, status, log";

/// The dictionary entry columns, likewise.
pub(crate) const DICT_ITEM_COLUMNS: &str =
    "id, type_code, value, label_zh, label_en, sort, status, builtin, created_at, updated_at";

/// The dictionary type columns, likewise.
pub(crate) const DICT_TYPE_COLUMNS: &str =
    "code, name_zh, name_en, status, builtin, created_at, updated_at";

/// `log` cut to [`MAX_RUN_LOG_BYTES`] at a character boundary, marked when cut.
pub fn cap_log(log: &str) -> String {
    if log.len() <= MAX_RUN_LOG_BYTES {
        return log.to_owned();
    }
    let mut end = MAX_RUN_LOG_BYTES - LOG_CUT_MARK.len();
    while !log.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{LOG_CUT_MARK}", &log[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_log_is_cut_at_a_character_boundary_and_marked() {
        let short = "purged 3 records";
        assert_eq!(cap_log(short), short);
        let long = "证据".repeat(20_000);
        let cut = cap_log(&long);
        assert!(cut.len() <= MAX_RUN_LOG_BYTES, "{}", cut.len());
        assert!(cut.ends_with(LOG_CUT_MARK));
        assert!(cut.starts_with("证据证据"));
    }
}
