//! The `backup` job: a consistent copy of the store in `data_dir/backups`, the newest
//! `jobs.backup_keep` kept.
//!
//! - Embedded store: SQLite's online backup API (rusqlite `backup`) from a read-only connection
//!   of its own, so the store's connection is never held; the copy is written as `.partial`,
//!   checked with `PRAGMA quick_check`, switched out of WAL into a single self-contained file and
//!   renamed to `livegate-<UTC time>.db`.
//! - PostgreSQL: `pg_dump --format=custom` to `livegate-<UTC time>.dump` when `pg_dump` is on the
//!   node's `PATH`, the connection given through `PG*` environment variables (the password never
//!   on a command line); without `pg_dump` the run fails with a log line saying so. Production
//!   PostgreSQL is backed up by its own tools (`docs/operations.md`); the job ships disabled
//!   there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{JobDef, JobFailure, JobTask, RunLog};
use crate::properties::SystemProperties;
use crate::store::Store;

/// The embedded store's backup job.
pub const EMBEDDED_DEF: JobDef = JobDef {
    code: "backup",
    name_zh: "数据备份",
    name_en: "Backup",
    description_zh: "在线备份内置数据库到数据目录 backups/，保留最近若干份",
    description_en:
        "Online backup of the embedded database to data_dir/backups, keeping the newest copies",
    default_cron: "30 2 * * *",
    enabled_by_default: true,
};

/// The PostgreSQL backup job: off until an operator turns it on.
pub const POSTGRES_DEF: JobDef = JobDef {
    code: "backup",
    name_zh: "数据备份",
    name_en: "Backup",
    description_zh: "用 pg_dump 导出 PostgreSQL 到数据目录 backups/（生产环境请用数据库自身的备份）",
    description_en: "pg_dump of PostgreSQL to data_dir/backups (production relies on the database's own backups)",
    default_cron: "30 2 * * *",
    enabled_by_default: false,
};

/// The longest a `pg_dump` may run.
const PG_DUMP_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// What is backed up.
#[derive(Clone)]
pub enum BackupSource {
    /// The embedded store's file.
    Embedded {
        /// The database file.
        db: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres {
        /// Where it is and how to log in (the password is only ever passed as `PGPASSWORD`).
        config: Box<tokio_postgres::Config>,
    },
}

/// The backup job.
pub struct BackupJob {
    source: BackupSource,
    dir: PathBuf,
    store: Arc<dyn Store>,
}

impl BackupJob {
    /// Backs `source` up into `dir`; reads `jobs.backup_keep` from `store`.
    pub fn new(source: BackupSource, dir: PathBuf, store: Arc<dyn Store>) -> Self {
        Self { source, dir, store }
    }
}

#[async_trait]
impl JobTask for BackupJob {
    fn def(&self) -> &JobDef {
        match self.source {
            BackupSource::Embedded { .. } => &EMBEDDED_DEF,
            BackupSource::Postgres { .. } => &POSTGRES_DEF,
        }
    }

    async fn run(&self, log: &mut RunLog) -> Result<(), JobFailure> {
        let keep = SystemProperties::load(self.store.as_ref())
            .await
            .map_err(|err| JobFailure(format!("cannot read jobs.backup_keep: {err}")))?
            .int("jobs.backup_keep");
        let now = Utc::now();
        let (file, extension) = match &self.source {
            BackupSource::Embedded { db } => {
                let (db, dir) = (db.clone(), self.dir.clone());
                let file = tokio::task::spawn_blocking(move || backup_sqlite(&db, &dir, now))
                    .await
                    .map_err(|err| JobFailure(format!("backup task: {err}")))??;
                (file, "db")
            }
            BackupSource::Postgres { config } => (pg_dump(config, &self.dir, now).await?, "dump"),
        };
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        log.line(format!("wrote {} ({size} bytes)", file.display()));
        let removed = prune(
            &self.dir,
            extension,
            usize::try_from(keep).unwrap_or(1).max(1),
        )
        .map_err(|err| JobFailure(format!("cannot prune old backups: {err}")))?;
        for old in removed {
            log.line(format!("removed old backup {}", old.display()));
        }
        Ok(())
    }
}

/// `livegate-20261125T021500.123Z.<extension>`: names sort by time.
fn file_name(now: DateTime<Utc>, extension: &str) -> String {
    format!("livegate-{}.{extension}", now.format("%Y%m%dT%H%M%S%.3fZ"))
}

fn io_failure(what: &str, path: &Path, err: impl std::fmt::Display) -> JobFailure {
    JobFailure(format!("{what} {}: {err}", path.display()))
}

/// Copies the SQLite database at `db` into `dir` with the online backup API; returns the file.
pub fn backup_sqlite(db: &Path, dir: &Path, now: DateTime<Utc>) -> Result<PathBuf, JobFailure> {
    std::fs::create_dir_all(dir).map_err(|err| io_failure("cannot create", dir, err))?;
    let file = dir.join(file_name(now, "db"));
    let partial = file.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|err| io_failure("cannot open", db, err))?;
    source
        .busy_timeout(Duration::from_secs(5))
        .map_err(|err| io_failure("cannot set up", db, err))?;
    let mut copy =
        Connection::open(&partial).map_err(|err| io_failure("cannot create", &partial, err))?;
    {
        let backup =
            Backup::new(&source, &mut copy).map_err(|err| io_failure("cannot back up", db, err))?;
        // All pages in one step: one read transaction, a consistent copy; in WAL mode it never
        // blocks the store's writer. Busy or locked only while another process checkpoints.
        let mut waits = 0;
        loop {
            match backup
                .step(-1)
                .map_err(|err| io_failure("cannot back up", db, err))?
            {
                StepResult::Done => break,
                StepResult::More => {}
                // Busy or Locked (or a state a later rusqlite adds): wait and try again.
                _ => {
                    waits += 1;
                    if waits > 600 {
                        return Err(JobFailure(format!(
                            "{} stayed locked for a minute",
                            db.display()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
    let check: String = copy
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|err| io_failure("cannot check", &partial, err))?;
    if check != "ok" {
        return Err(JobFailure(format!("the copy fails its check: {check}")));
    }
    // A single file: no -wal / -shm beside it to lose when it is copied away.
    copy.query_row("PRAGMA journal_mode = DELETE", [], |row| {
        row.get::<_, String>(0)
    })
    .map_err(|err| io_failure("cannot finish", &partial, err))?;
    drop(copy);
    std::fs::rename(&partial, &file).map_err(|err| io_failure("cannot rename", &partial, err))?;
    Ok(file)
}

/// Dumps the PostgreSQL database with `pg_dump --format=custom` into `dir`; returns the file.
async fn pg_dump(
    config: &tokio_postgres::Config,
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<PathBuf, JobFailure> {
    use tokio_postgres::config::Host;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|err| io_failure("cannot create", dir, err))?;
    let file = dir.join(file_name(now, "dump"));
    let partial = file.with_extension("dump.partial");
    let mut command = tokio::process::Command::new("pg_dump");
    command
        .arg("--format=custom")
        .arg("--no-password")
        .arg("--file")
        .arg(&partial)
        .env_remove("PGPASSWORD")
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    match config.get_hosts().first() {
        Some(Host::Tcp(host)) => {
            command.env("PGHOST", host);
        }
        Some(Host::Unix(path)) => {
            command.env("PGHOST", path);
        }
        None => {}
    }
    if let Some(port) = config.get_ports().first() {
        command.env("PGPORT", port.to_string());
    }
    if let Some(user) = config.get_user() {
        command.env("PGUSER", user);
    }
    if let Some(name) = config.get_dbname() {
        command.env("PGDATABASE", name);
    }
    if let Some(password) = config.get_password() {
        command.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
    if let Some(options) = config.get_options() {
        command.env("PGOPTIONS", options);
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(JobFailure(
                "pg_dump is not installed on this node: back PostgreSQL up with pg_dump or \
                 pg_basebackup as docs/operations.md describes, or install the PostgreSQL client"
                    .into(),
            ))
        }
        Err(err) => return Err(JobFailure(format!("cannot start pg_dump: {err}"))),
    };
    let output = tokio::time::timeout(PG_DUMP_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| JobFailure("pg_dump took more than 6 hours".into()))?
        .map_err(|err| JobFailure(format!("pg_dump: {err}")))?;
    if !output.status.success() {
        let _ = tokio::fs::remove_file(&partial).await;
        // pg_dump's own message (server version mismatch, auth) names no password.
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(JobFailure(format!(
            "pg_dump failed ({}): {}",
            output.status,
            stderr.trim()
        )));
    }
    tokio::fs::rename(&partial, &file)
        .await
        .map_err(|err| io_failure("cannot rename", &partial, err))?;
    Ok(file)
}

/// Deletes all but the newest `keep` of the job's own files (`livegate-*.<extension>`) in `dir`;
/// returns what it deleted.
pub fn prune(dir: &Path, extension: &str, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let suffix = format!(".{extension}");
    let mut ours: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("livegate-") && n.ends_with(&suffix))
        })
        .collect();
    ours.sort();
    let excess = ours.len().saturating_sub(keep);
    let old: Vec<PathBuf> = ours.into_iter().take(excess).collect();
    for path in &old {
        std::fs::remove_file(path)?;
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_of_our_own_files_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "livegate-20261101T000000.000Z.db",
            "livegate-20261102T000000.000Z.db",
            "livegate-20261103T000000.000Z.db",
            "livegate-20261101T000000.000Z.dump",
            "notes.db",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        let removed = prune(dir.path(), "db", 2).expect("prune");
        assert_eq!(
            removed,
            vec![dir.path().join("livegate-20261101T000000.000Z.db")]
        );
        for kept in [
            "livegate-20261102T000000.000Z.db",
            "livegate-20261103T000000.000Z.db",
            "livegate-20261101T000000.000Z.dump",
            "notes.db",
        ] {
            assert!(dir.path().join(kept).exists(), "{kept}");
        }
    }

    #[test]
    fn file_names_sort_by_time() {
        let a = file_name(
            DateTime::from_timestamp(1_764_000_000, 5_000_000).expect("time"),
            "db",
        );
        let b = file_name(
            DateTime::from_timestamp(1_764_000_000, 6_000_000).expect("time"),
            "db",
        );
        assert_eq!(a, "livegate-20251124T160000.005Z.db");
        assert!(a < b);
    }
}
