//! Numbered schema migrations, one list per SQL dialect, kept side by side in `migrations/`.
//!
//! A database records what it has in `schema_migrations (version, name, applied_at)`. Applying
//! is idempotent: only versions the table lacks run, all in one transaction. A database with a
//! version this build does not know was migrated by a newer build: the store refuses it rather
//! than run old code on a new schema.

use serde::Serialize;

use super::StoreError;

/// One migration: its number, a short name, and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number; applied in increasing order.
    pub version: i64,
    /// A short name (`init`).
    pub name: &'static str,
    /// The SQL, possibly several statements.
    pub sql: &'static str,
}

/// A migration a `migrate` call applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    /// Its number.
    pub version: i64,
    /// Its name.
    pub name: String,
}

/// The SQLite migrations.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("../../migrations/sqlite/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "apps",
        sql: include_str!("../../migrations/sqlite/0003_apps.sql"),
    },
    Migration {
        version: 4,
        name: "callbacks",
        sql: include_str!("../../migrations/sqlite/0004_callbacks.sql"),
    },
    Migration {
        version: 5,
        name: "admin",
        sql: include_str!("../../migrations/sqlite/0005_admin.sql"),
    },
    Migration {
        version: 6,
        name: "stats",
        sql: include_str!("../../migrations/sqlite/0006_stats.sql"),
    },
    Migration {
        version: 7,
        name: "system",
        sql: include_str!("../../migrations/sqlite/0007_system.sql"),
    },
    Migration {
        version: 8,
        name: "scene_versions",
        sql: include_str!("../../migrations/sqlite/0008_scene_versions.sql"),
    },
];

/// The PostgreSQL migrations.
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("../../migrations/postgres/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "apps",
        sql: include_str!("../../migrations/postgres/0003_apps.sql"),
    },
    Migration {
        version: 4,
        name: "callbacks",
        sql: include_str!("../../migrations/postgres/0004_callbacks.sql"),
    },
    Migration {
        version: 5,
        name: "admin",
        sql: include_str!("../../migrations/postgres/0005_admin.sql"),
    },
    Migration {
        version: 6,
        name: "stats",
        sql: include_str!("../../migrations/postgres/0006_stats.sql"),
    },
    Migration {
        version: 7,
        name: "system",
        sql: include_str!("../../migrations/postgres/0007_system.sql"),
    },
    Migration {
        version: 8,
        name: "scene_versions",
        sql: include_str!("../../migrations/postgres/0008_scene_versions.sql"),
    },
];

/// The migrations of `known` that `applied` lacks, in order; an error when `applied` holds a
/// version newer than any in `known`.
pub fn pending<'a>(
    known: &'a [Migration],
    applied: &[i64],
) -> Result<Vec<&'a Migration>, StoreError> {
    let supported = known.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(&found) = applied.iter().max() {
        if found > supported {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
    }
    let mut todo: Vec<&Migration> = known
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .collect();
    todo.sort_by_key(|m| m.version);
    Ok(todo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_versions_in_order() {
        let versions = |list: &[Migration]| list.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        let mut sorted = versions(SQLITE);
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, versions(SQLITE));
    }

    #[test]
    fn only_missing_versions_are_pending_and_a_newer_database_is_refused() {
        assert_eq!(pending(SQLITE, &[]).expect("pending").len(), SQLITE.len());
        let all: Vec<i64> = SQLITE.iter().map(|m| m.version).collect();
        assert!(pending(SQLITE, &all).expect("pending").is_empty());
        assert_eq!(
            pending(SQLITE, &[1]).expect("pending").len(),
            SQLITE.len() - 1
        );
        let mut too_new = all.clone();
        too_new.push(99);
        assert_eq!(
            pending(SQLITE, &too_new).expect_err("too new"),
            StoreError::SchemaTooNew {
                found: 99,
                supported: all.iter().copied().max().unwrap_or(0)
            }
        );
    }
}
