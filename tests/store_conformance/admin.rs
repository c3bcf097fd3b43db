//! Console administrators, roles, sessions, the audit log, tenant subtrees.

use chrono::{Duration, Utc};
use livegate::store::{
    AdminSessionRow, AdminUserId, AdminUserStatus, AdminUserUpdate, AuditFilter, LockoutPolicy,
    NewAdminUser, NewAuditEntry, NewTenant,
};

use super::*;

crate::conformance!(
    builtin_roles_are_seeded,
    tenant_subtrees_hold_the_root_and_everything_below,
    users_are_created_found_and_listed_per_tenant,
    usernames_are_unique_and_roles_and_tenants_must_exist,
    users_outside_the_subtree_are_not_found_nor_changed,
    updates_replace_roles_and_keep_what_is_not_given,
    failures_in_the_window_lock_and_success_or_unlock_clears,
    failures_outside_the_window_start_a_new_count,
    disabling_or_a_new_password_ends_sessions,
    sessions_round_trip_touch_and_prune,
    audit_entries_append_and_list_newest_first_per_tenant,
);

/// A tenant `code` below `parent`.
async fn child(store: &dyn Store, code: &str, parent: TenantId) -> TenantId {
    store
        .create_tenant(&NewTenant {
            code: code.into(),
            name: format!("{code} name"),
            parent_id: Some(parent),
        })
        .await
        .expect("create tenant")
        .id
}

fn new_user(username: &str, roles: &[&str]) -> NewAdminUser {
    NewAdminUser {
        username: username.into(),
        display_name: format!("{username} display"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

/// Now, cut to whole microseconds: what both backends store exactly.
fn micros_now() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).expect("in range")
}

fn session_row(user: &livegate::store::AdminUser, id: &str) -> AdminSessionRow {
    let now = Utc::now();
    AdminSessionRow {
        id: id.into(),
        user_id: user.id,
        tenant_id: user.tenant_id,
        csrf_token: format!("csrf-{id}"),
        ip: Some("192.0.2.7".into()),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::hours(24),
    }
}

async fn builtin_roles_are_seeded(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let roles = store.list_admin_roles().await.expect("roles");
    let codes: Vec<&str> = roles.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["auditor", "operator", "sys_admin", "tenant_admin"]);
    assert!(roles.iter().all(|r| r.builtin));
    // Every seeded role is one the code defines (its permissions come from there).
    for role in &roles {
        assert!(
            livegate::admin::BuiltinRole::from_code(&role.code).is_some(),
            "{}",
            role.code
        );
    }
}

async fn tenant_subtrees_hold_the_root_and_everything_below(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let bank = child(store.as_ref(), "bank-a", TenantId::DEFAULT).await;
    let village = child(store.as_ref(), "bank-a-village", bank).await;
    let sibling = child(store.as_ref(), "bank-b", TenantId::DEFAULT).await;
    let codes = |tenants: Vec<livegate::store::Tenant>| {
        tenants.into_iter().map(|t| t.code).collect::<Vec<_>>()
    };
    assert_eq!(
        codes(store.tenant_subtree(TenantId::DEFAULT).await.expect("all")),
        ["bank-a", "bank-a-village", "bank-b", "default"]
    );
    assert_eq!(
        codes(store.tenant_subtree(bank).await.expect("bank")),
        ["bank-a", "bank-a-village"]
    );
    assert_eq!(
        codes(store.tenant_subtree(village).await.expect("village")),
        ["bank-a-village"]
    );
    assert_eq!(
        codes(store.tenant_subtree(sibling).await.expect("sibling")),
        ["bank-b"]
    );
    assert_eq!(
        store.tenant_subtree(TenantId::new()).await.map(|_| ()),
        not_found("tenant")
    );
}

async fn users_are_created_found_and_listed_per_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let bank = child(store.as_ref(), "bank-a", TenantId::DEFAULT).await;
    let root = store
        .create_admin_user(TenantId::DEFAULT, &new_user("root", &["sys_admin"]))
        .await
        .expect("create");
    assert_eq!(root.tenant_id, TenantId::DEFAULT);
    assert_eq!(root.status, AdminUserStatus::Active);
    assert_eq!(root.roles, ["sys_admin"]);
    assert_eq!(root.failed_logins, 0);
    assert_eq!(root.locked_until, None);
    assert!(root.password_hash.starts_with("$argon2id$"));
    let b1 = store
        .create_admin_user(bank, &new_user("zed", &["operator", "auditor"]))
        .await
        .expect("create");
    assert_eq!(b1.roles, ["auditor", "operator"], "roles come back sorted");
    let b2 = store
        .create_admin_user(bank, &new_user("amy", &["tenant_admin"]))
        .await
        .expect("create");

    assert_eq!(
        store.admin_user_by_username("zed").await.expect("by name"),
        b1
    );
    assert_eq!(
        store.admin_user_by_username("nobody").await.map(|_| ()),
        not_found("admin_user")
    );
    assert_eq!(store.admin_user(bank, b1.id).await.expect("by id"), b1);
    // The union's subtree holds the bank's users.
    assert_eq!(
        store
            .admin_user(TenantId::DEFAULT, b2.id)
            .await
            .expect("from above"),
        b2
    );

    let (page, total) = store
        .list_admin_users(bank, Page::first(1))
        .await
        .expect("list");
    assert_eq!(total, 2);
    assert_eq!(page, vec![b2.clone()], "by username");
    let (all, _) = store
        .list_admin_users(bank, Page::first(10))
        .await
        .expect("list");
    assert_eq!(all, vec![b2, b1]);
    let (union, total) = store
        .list_admin_users(TenantId::DEFAULT, Page::first(10))
        .await
        .expect("list");
    assert_eq!((union, total), (vec![root], 1), "exactly the tenant");
    assert!(matches!(
        store
            .list_admin_users(bank, Page::first(0))
            .await
            .map(|_| ()),
        Err(StoreError::Invalid(_))
    ));
}

async fn usernames_are_unique_and_roles_and_tenants_must_exist(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    store
        .create_admin_user(TenantId::DEFAULT, &new_user("ops", &["operator"]))
        .await
        .expect("create");
    let bank = child(store.as_ref(), "bank-a", TenantId::DEFAULT).await;
    // Unique across the node, not per tenant: login knows no tenant.
    assert_eq!(
        store
            .create_admin_user(bank, &new_user("ops", &["operator"]))
            .await
            .map(|_| ()),
        Err(StoreError::Conflict {
            constraint: "admin_users_username_key".into()
        })
    );
    match store
        .create_admin_user(bank, &new_user("x", &["operator", "wizard"]))
        .await
    {
        Err(StoreError::Invalid(reason)) => assert!(reason.contains("wizard"), "{reason}"),
        other => panic!("expected Invalid for an unknown role, got {other:?}"),
    }
    // Nothing of the refused user was kept.
    assert_eq!(
        store.admin_user_by_username("x").await.map(|_| ()),
        not_found("admin_user")
    );
    assert!(matches!(
        store
            .create_admin_user(TenantId::new(), &new_user("y", &["operator"]))
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn users_outside_the_subtree_are_not_found_nor_changed(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let bank_a = child(store.as_ref(), "bank-a", TenantId::DEFAULT).await;
    let bank_b = child(store.as_ref(), "bank-b", TenantId::DEFAULT).await;
    let union_user = store
        .create_admin_user(TenantId::DEFAULT, &new_user("root", &["sys_admin"]))
        .await
        .expect("create");
    let b_user = store
        .create_admin_user(bank_b, &new_user("bee", &["operator"]))
        .await
        .expect("create");
    let gone = || not_found::<()>("admin_user");
    for (within, id) in [(bank_a, union_user.id), (bank_a, b_user.id)] {
        assert_eq!(store.admin_user(within, id).await.map(|_| ()), gone());
        assert_eq!(
            store
                .update_admin_user(
                    within,
                    id,
                    &AdminUserUpdate {
                        display_name: Some("hijacked".into()),
                        roles: None,
                    },
                )
                .await
                .map(|_| ()),
            gone()
        );
        assert_eq!(
            store
                .set_admin_user_status(within, id, AdminUserStatus::Disabled)
                .await
                .map(|_| ()),
            gone()
        );
        assert_eq!(
            store.unlock_admin_user(within, id).await.map(|_| ()),
            gone()
        );
        assert_eq!(
            store
                .set_admin_password(within, id, "$argon2id$new", None)
                .await
                .map(|_| ()),
            gone()
        );
    }
    // Untouched.
    assert_eq!(
        store
            .admin_user(TenantId::DEFAULT, b_user.id)
            .await
            .expect("still there"),
        b_user
    );
    assert_eq!(
        store
            .admin_user(bank_a, AdminUserId::new())
            .await
            .map(|_| ()),
        gone()
    );
}

async fn updates_replace_roles_and_keep_what_is_not_given(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let user = store
        .create_admin_user(TenantId::DEFAULT, &new_user("ops", &["operator"]))
        .await
        .expect("create");
    let renamed = store
        .update_admin_user(
            TenantId::DEFAULT,
            user.id,
            &AdminUserUpdate {
                display_name: Some("运营 一号".into()),
                roles: None,
            },
        )
        .await
        .expect("rename");
    assert_eq!(renamed.display_name, "运营 一号");
    assert_eq!(renamed.roles, ["operator"]);
    assert!(renamed.updated_at >= user.updated_at);
    let reroled = store
        .update_admin_user(
            TenantId::DEFAULT,
            user.id,
            &AdminUserUpdate {
                display_name: None,
                roles: Some(vec!["auditor".into(), "tenant_admin".into()]),
            },
        )
        .await
        .expect("roles");
    assert_eq!(reroled.display_name, "运营 一号");
    assert_eq!(reroled.roles, ["auditor", "tenant_admin"]);
    // An unknown role changes nothing.
    assert!(matches!(
        store
            .update_admin_user(
                TenantId::DEFAULT,
                user.id,
                &AdminUserUpdate {
                    display_name: Some("other".into()),
                    roles: Some(vec!["auditor".into(), "wizard".into()]),
                },
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        store
            .admin_user(TenantId::DEFAULT, user.id)
            .await
            .expect("get"),
        reroled
    );
}

async fn failures_in_the_window_lock_and_success_or_unlock_clears(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let user = store
        .create_admin_user(TenantId::DEFAULT, &new_user("ops", &["operator"]))
        .await
        .expect("create");
    let policy = LockoutPolicy::default();
    let t0 = Utc::now();
    for n in 1..=4 {
        let after = store
            .record_login_failure(user.id, t0 + Duration::minutes(n), policy)
            .await
            .expect("failure");
        assert_eq!(after.failed_logins, n);
        assert_eq!(after.locked_until, None);
    }
    let fifth = t0 + Duration::minutes(5);
    let locked = store
        .record_login_failure(user.id, fifth, policy)
        .await
        .expect("failure");
    let until = locked.locked_until.expect("locked by the 5th failure");
    assert!(
        (until - (fifth + Duration::minutes(15)))
            .num_milliseconds()
            .abs()
            < 1
    );
    assert_eq!(locked.failed_logins, 0, "the count starts again");

    let unlocked = store
        .unlock_admin_user(TenantId::DEFAULT, user.id)
        .await
        .expect("unlock");
    assert_eq!(unlocked.locked_until, None);
    assert_eq!(unlocked.failed_logins, 0);

    store
        .record_login_failure(user.id, Utc::now(), policy)
        .await
        .expect("failure");
    let now = Utc::now();
    let ok = store
        .record_login_success(user.id, now)
        .await
        .expect("success");
    assert_eq!(ok.failed_logins, 0);
    assert_eq!(ok.first_failed_at, None);
    let last = ok.last_login_at.expect("last login");
    assert!((last - now).num_milliseconds().abs() < 1);
    assert_eq!(
        store
            .record_login_failure(AdminUserId::new(), now, policy)
            .await
            .map(|_| ()),
        not_found("admin_user")
    );
}

async fn failures_outside_the_window_start_a_new_count(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let user = store
        .create_admin_user(TenantId::DEFAULT, &new_user("ops", &["operator"]))
        .await
        .expect("create");
    let policy = LockoutPolicy::default();
    let t0 = Utc::now() - Duration::hours(2);
    for n in 0..4 {
        store
            .record_login_failure(user.id, t0 + Duration::minutes(n), policy)
            .await
            .expect("failure");
    }
    // 20 minutes after the first: the window of 15 is over, this is failure 1 of a new one.
    let later = store
        .record_login_failure(user.id, t0 + Duration::minutes(20), policy)
        .await
        .expect("failure");
    assert_eq!(later.failed_logins, 1);
    assert_eq!(later.locked_until, None);
}

async fn disabling_or_a_new_password_ends_sessions(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let user = store
        .create_admin_user(TenantId::DEFAULT, &new_user("ops", &["operator"]))
        .await
        .expect("create");
    for id in ["s1", "s2", "s3"] {
        store
            .create_admin_session(&session_row(&user, id))
            .await
            .expect("session");
    }
    let changed = store
        .set_admin_password(TenantId::DEFAULT, user.id, "$argon2id$new", Some("s2"))
        .await
        .expect("password");
    assert_eq!(changed.password_hash, "$argon2id$new");
    assert_eq!(
        store.admin_session("s1").await.map(|_| ()),
        not_found("admin_session")
    );
    store.admin_session("s2").await.expect("kept");
    let disabled = store
        .set_admin_user_status(TenantId::DEFAULT, user.id, AdminUserStatus::Disabled)
        .await
        .expect("disable");
    assert_eq!(disabled.status, AdminUserStatus::Disabled);
    assert_eq!(
        store.admin_session("s2").await.map(|_| ()),
        not_found("admin_session")
    );
    let enabled = store
        .set_admin_user_status(TenantId::DEFAULT, user.id, AdminUserStatus::Active)
        .await
        .expect("enable");
    assert_eq!(enabled.status, AdminUserStatus::Active);
}

async fn sessions_round_trip_touch_and_prune(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let user = store
        .create_admin_user(TenantId::DEFAULT, &new_user("ops", &["operator"]))
        .await
        .expect("create");
    let mut row = session_row(&user, "a".repeat(64).as_str());
    row.created_at = micros_now();
    row.last_seen_at = row.created_at;
    row.expires_at = row.created_at + Duration::hours(24);
    store.create_admin_session(&row).await.expect("create");
    let got = store.admin_session(&row.id).await.expect("get");
    assert_eq!(got.user_id, user.id);
    assert_eq!(got.tenant_id, TenantId::DEFAULT);
    assert_eq!(got.csrf_token, row.csrf_token);
    assert_eq!(got.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(got.expires_at, row.expires_at);
    let later = row.last_seen_at + Duration::minutes(5);
    store
        .touch_admin_session(&row.id, later)
        .await
        .expect("touch");
    assert_eq!(
        store
            .admin_session(&row.id)
            .await
            .expect("get")
            .last_seen_at,
        later
    );

    // One idle, one past its absolute end, one fresh.
    let mut idle = session_row(&user, "idle");
    idle.last_seen_at = Utc::now() - Duration::hours(9);
    let mut old = session_row(&user, "old");
    old.expires_at = Utc::now() - Duration::minutes(1);
    store.create_admin_session(&idle).await.expect("create");
    store.create_admin_session(&old).await.expect("create");
    let now = Utc::now();
    let pruned = store
        .prune_admin_sessions(now, now - Duration::hours(8))
        .await
        .expect("prune");
    assert_eq!(pruned, 2);
    store.admin_session(&row.id).await.expect("fresh one kept");

    store.delete_admin_session(&row.id).await.expect("delete");
    assert_eq!(
        store.admin_session(&row.id).await.map(|_| ()),
        not_found("admin_session")
    );
    store
        .delete_admin_session(&row.id)
        .await
        .expect("deleting again is fine");
}

async fn audit_entries_append_and_list_newest_first_per_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let bank = child(store.as_ref(), "bank-a", TenantId::DEFAULT).await;
    let user = AdminUserId::new();
    let entry = |tenant: TenantId, action: &str, username: &str| NewAuditEntry {
        tenant_id: tenant,
        user_id: Some(user),
        username: username.into(),
        action: action.into(),
        target: "target-1".into(),
        detail: json!({ "roles": ["auditor"], "n": 1 }),
        ip: Some("192.0.2.7".into()),
    };
    let first = store
        .append_audit(&entry(TenantId::DEFAULT, "user.create", "root"))
        .await
        .expect("append");
    assert_eq!(first.detail, json!({ "roles": ["auditor"], "n": 1 }));
    assert_eq!(first.user_id, Some(user));
    let second = store
        .append_audit(&entry(TenantId::DEFAULT, "user.disable", "root"))
        .await
        .expect("append");
    let third = store
        .append_audit(&entry(TenantId::DEFAULT, "user.create", "ops"))
        .await
        .expect("append");
    let cli = store
        .append_audit(&NewAuditEntry {
            user_id: None,
            ip: None,
            ..entry(bank, "app.create", "cli")
        })
        .await
        .expect("append");
    assert_eq!(cli.user_id, None);

    let all = AuditFilter::default();
    let (page, total) = store
        .list_audit(TenantId::DEFAULT, &all, Page::first(2))
        .await
        .expect("list");
    assert_eq!(total, 3, "exactly the tenant: the bank's entry is not here");
    assert_eq!(page, vec![third.clone(), second.clone()]);
    let (rest, _) = store
        .list_audit(
            TenantId::DEFAULT,
            &all,
            Page {
                offset: 2,
                limit: 2,
            },
        )
        .await
        .expect("list");
    assert_eq!(rest, vec![first.clone()]);

    let by_action = AuditFilter {
        action: Some("user.create".into()),
        ..AuditFilter::default()
    };
    let (creates, n) = store
        .list_audit(TenantId::DEFAULT, &by_action, Page::first(10))
        .await
        .expect("list");
    assert_eq!((creates, n), (vec![third.clone(), first.clone()], 2));
    let by_user = AuditFilter {
        username: Some("ops".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .list_audit(TenantId::DEFAULT, &by_user, Page::first(10))
            .await
            .expect("list")
            .0,
        vec![third.clone()]
    );
    let window = AuditFilter {
        from: Some(second.at),
        to: Some(third.at),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .list_audit(TenantId::DEFAULT, &window, Page::first(10))
            .await
            .expect("list")
            .0,
        vec![second],
        "from is inclusive, to exclusive"
    );
    assert_eq!(
        store
            .list_audit(bank, &all, Page::first(10))
            .await
            .expect("list"),
        (vec![cli], 1)
    );
}
