//! What an administrator may do: permissions (`resource:action`) granted through roles.
//!
//! The built-in roles' permissions are defined here, not in the database, so a permission added
//! later reaches `sys_admin` without a migration. A role made by an operator lists its
//! permissions in `admin_roles.permissions`; a name this build does not know is skipped (a newer
//! build may have written it).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One thing an administrator may do. Serialised as `records:read`, `users:write`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    /// Scenes, their versions and fallback rules: read.
    #[serde(rename = "scenes:read")]
    ScenesRead,
    /// Scenes: create, edit, disable.
    #[serde(rename = "scenes:write")]
    ScenesWrite,
    /// The engines page.
    #[serde(rename = "engines:read")]
    EnginesRead,
    /// Records list and detail.
    #[serde(rename = "records:read")]
    RecordsRead,
    /// CSV and Excel export of records.
    #[serde(rename = "records:export")]
    RecordsExport,
    /// Evidence frames of a record.
    #[serde(rename = "evidence:read")]
    EvidenceRead,
    /// Statistics.
    #[serde(rename = "stats:read")]
    StatsRead,
    /// API apps: read.
    #[serde(rename = "apps:read")]
    AppsRead,
    /// API apps: create, disable.
    #[serde(rename = "apps:write")]
    AppsWrite,
    /// Tenants: read.
    #[serde(rename = "tenants:read")]
    TenantsRead,
    /// Tenants: create.
    #[serde(rename = "tenants:write")]
    TenantsWrite,
    /// Users and roles: read.
    #[serde(rename = "users:read")]
    UsersRead,
    /// Users: create, edit, disable, unlock.
    #[serde(rename = "users:write")]
    UsersWrite,
    /// System properties and the dictionary: read.
    #[serde(rename = "system:read")]
    SystemRead,
    /// System properties and the dictionary: change.
    #[serde(rename = "system:write")]
    SystemWrite,
    /// Scheduled jobs and their runs: read.
    #[serde(rename = "jobs:read")]
    JobsRead,
    /// Scheduled jobs: edit, enable, run now.
    #[serde(rename = "jobs:write")]
    JobsWrite,
    /// The audit log.
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Permission {
    /// Every permission, in the order of the table in docs/admin-api.md.
    pub const ALL: [Permission; 18] = [
        Permission::ScenesRead,
        Permission::ScenesWrite,
        Permission::EnginesRead,
        Permission::RecordsRead,
        Permission::RecordsExport,
        Permission::EvidenceRead,
        Permission::StatsRead,
        Permission::AppsRead,
        Permission::AppsWrite,
        Permission::TenantsRead,
        Permission::TenantsWrite,
        Permission::UsersRead,
        Permission::UsersWrite,
        Permission::SystemRead,
        Permission::SystemWrite,
        Permission::JobsRead,
        Permission::JobsWrite,
        Permission::AuditRead,
    ];

    /// The name: `records:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ScenesRead => "scenes:read",
            Permission::ScenesWrite => "scenes:write",
            Permission::EnginesRead => "engines:read",
            Permission::RecordsRead => "records:read",
            Permission::RecordsExport => "records:export",
            Permission::EvidenceRead => "evidence:read",
            Permission::StatsRead => "stats:read",
            Permission::AppsRead => "apps:read",
            Permission::AppsWrite => "apps:write",
            Permission::TenantsRead => "tenants:read",
            Permission::TenantsWrite => "tenants:write",
            Permission::UsersRead => "users:read",
            Permission::UsersWrite => "users:write",
            Permission::SystemRead => "system:read",
            Permission::SystemWrite => "system:write",
            Permission::JobsRead => "jobs:read",
            Permission::JobsWrite => "jobs:write",
            Permission::AuditRead => "audit:read",
        }
    }

    /// Parses a name; `None` for one this build does not know.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles every node has. Their codes are rows of `admin_roles` (migration 0005); their
/// permissions are [`BuiltinRole::permissions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinRole {
    /// Every permission.
    SysAdmin,
    /// Everything but `system:write` and `tenants:write`.
    TenantAdmin,
    /// Scenes, engines, records, evidence, statistics, `apps:read`.
    Operator,
    /// Records, evidence, statistics and the audit log; nothing that writes.
    Auditor,
}

impl BuiltinRole {
    /// Every built-in role.
    pub const ALL: [BuiltinRole; 4] = [
        BuiltinRole::SysAdmin,
        BuiltinRole::TenantAdmin,
        BuiltinRole::Operator,
        BuiltinRole::Auditor,
    ];

    /// Its code: `sys_admin`, `tenant_admin`, `operator`, `auditor`.
    pub fn code(self) -> &'static str {
        match self {
            BuiltinRole::SysAdmin => "sys_admin",
            BuiltinRole::TenantAdmin => "tenant_admin",
            BuiltinRole::Operator => "operator",
            BuiltinRole::Auditor => "auditor",
        }
    }

    /// The built-in role with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// What it grants.
    pub fn permissions(self) -> BTreeSet<Permission> {
        use Permission as P;
        match self {
            BuiltinRole::SysAdmin => Permission::ALL.into_iter().collect(),
            BuiltinRole::TenantAdmin => Permission::ALL
                .into_iter()
                .filter(|p| !matches!(p, P::SystemWrite | P::TenantsWrite))
                .collect(),
            BuiltinRole::Operator => [
                P::ScenesRead,
                P::ScenesWrite,
                P::EnginesRead,
                P::RecordsRead,
                P::RecordsExport,
                P::EvidenceRead,
                P::StatsRead,
                P::AppsRead,
            ]
            .into_iter()
            .collect(),
            BuiltinRole::Auditor => [P::RecordsRead, P::EvidenceRead, P::StatsRead, P::AuditRead]
                .into_iter()
                .collect(),
        }
    }
}

/// What a role grants: a built-in role's from code, another's from its stored list (names this
/// build does not know are skipped).
pub fn role_permissions(code: &str, stored: &[String]) -> BTreeSet<Permission> {
    match BuiltinRole::from_code(code) {
        Some(builtin) => builtin.permissions(),
        None => stored.iter().filter_map(|p| Permission::parse(p)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_serialise_as_resource_colon_action_and_parse_back() {
        for p in Permission::ALL {
            let json = serde_json::to_value(p).expect("serialise");
            assert_eq!(json, p.as_str());
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            let back: Permission = serde_json::from_value(json).expect("deserialise");
            assert_eq!(back, p);
        }
        assert_eq!(Permission::parse("records:delete"), None);
    }

    #[test]
    fn builtin_roles_grant_what_the_contract_says() {
        use Permission as P;
        let all = BuiltinRole::SysAdmin.permissions();
        assert_eq!(all.len(), Permission::ALL.len());
        let tenant_admin = BuiltinRole::TenantAdmin.permissions();
        assert!(!tenant_admin.contains(&P::SystemWrite));
        assert!(!tenant_admin.contains(&P::TenantsWrite));
        assert!(tenant_admin.contains(&P::UsersWrite));
        assert_eq!(tenant_admin.len(), Permission::ALL.len() - 2);
        let auditor = BuiltinRole::Auditor.permissions();
        assert!(auditor.iter().all(|p| !p.as_str().ends_with(":write")));
        assert!(auditor.contains(&P::AuditRead));
        assert!(!BuiltinRole::Operator.permissions().contains(&P::AppsWrite));
        assert_eq!(
            role_permissions("custom", &["stats:read".into(), "bogus:x".into()]),
            [P::StatsRead].into_iter().collect()
        );
        // A built-in role's stored list is ignored: the code is the truth.
        assert_eq!(
            role_permissions("auditor", &["users:write".into()]),
            auditor
        );
    }
}
