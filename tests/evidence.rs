//! The local evidence store as its callers see it: files under a folder, by tenant and record.

use std::sync::Arc;

use livegate::evidence::{EvidenceError, EvidenceKey, EvidenceStore, LocalEvidence};
use livegate::store::{RecordId, TenantId};

fn jpeg(fill: u8, len: usize) -> Vec<u8> {
    let mut bytes = vec![fill; len];
    bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    bytes
}

#[tokio::test]
async fn put_get_list_and_delete_a_records_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalEvidence::new(dir.path().join("evidence"));
    let (tenant, record) = (TenantId::new(), RecordId::new());

    let best = store
        .put(tenant, record, "best.jpg", jpeg(1, 1000))
        .await
        .expect("put best");
    store
        .put(tenant, record, "step_0.jpg", jpeg(2, 10))
        .await
        .expect("put step");
    store
        .put(tenant, record, "summary.json", b"{\"frames\":2}".to_vec())
        .await
        .expect("put json");

    assert_eq!(best.to_string(), format!("{tenant}/{record}/best.jpg"));
    assert!(dir
        .path()
        .join(format!("evidence/{tenant}/{record}/best.jpg"))
        .is_file());
    assert_eq!(store.get(tenant, &best).await.expect("get"), jpeg(1, 1000));
    let names: Vec<String> = store
        .list(tenant, record)
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["best.jpg", "step_0.jpg", "summary.json"]);

    // A put of the same name replaces it whole.
    store
        .put(tenant, record, "best.jpg", jpeg(3, 20))
        .await
        .expect("replace");
    assert_eq!(store.get(tenant, &best).await.expect("get"), jpeg(3, 20));

    store.delete_record(tenant, record).await.expect("delete");
    assert!(store.list(tenant, record).await.expect("list").is_empty());
    assert_eq!(store.get(tenant, &best).await, Err(EvidenceError::NotFound));
    store
        .delete_record(tenant, record)
        .await
        .expect("deleting nothing is fine");
}

#[tokio::test]
async fn another_tenants_key_is_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalEvidence::new(dir.path());
    let (a, b, record) = (TenantId::new(), TenantId::new(), RecordId::new());
    let key = store
        .put(a, record, "best.jpg", jpeg(1, 100))
        .await
        .expect("put");
    assert_eq!(store.get(b, &key).await, Err(EvidenceError::NotFound));
    // Rewriting the key's tenant reaches B's (empty) folder, never A's file.
    let forged = EvidenceKey {
        tenant: b,
        ..key.clone()
    };
    assert_eq!(store.get(b, &forged).await, Err(EvidenceError::NotFound));
    assert!(store.list(b, record).await.expect("list").is_empty());
    store
        .delete_record(b, record)
        .await
        .expect("b deletes its own");
    assert!(
        store.get(a, &key).await.is_ok(),
        "a's evidence is untouched"
    );
}

#[tokio::test]
async fn bad_names_are_refused_before_touching_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalEvidence::new(dir.path().join("evidence"));
    for name in [
        "../../etc/passwd.jpg",
        "best.png",
        "Best.jpg",
        "",
        "a/b.json",
        ".tmp-x.jpg",
    ] {
        let err = store
            .put(TenantId::new(), RecordId::new(), name, vec![1])
            .await
            .expect_err(name);
        assert!(
            matches!(err, EvidenceError::InvalidName(_)),
            "{name}: {err}"
        );
    }
    assert!(!dir.path().join("evidence").exists());
    assert!("not/a/key.jpg".parse::<EvidenceKey>().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_never_sees_a_torn_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalEvidence::new(dir.path()));
    let (tenant, record) = (TenantId::new(), RecordId::new());
    let big = 2 * 1024 * 1024;
    let key = store
        .put(tenant, record, "best.jpg", jpeg(0, big))
        .await
        .expect("first put");
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for fill in 1..=20u8 {
                store
                    .put(tenant, record, "best.jpg", jpeg(fill, big))
                    .await
                    .expect("put");
            }
        })
    };
    while !writer.is_finished() {
        let bytes = store.get(tenant, &key).await.expect("get");
        assert_eq!(bytes.len(), big, "a torn file was read");
        let fill = bytes[big - 1];
        assert!(
            bytes[3..].iter().all(|&b| b == fill),
            "a mixed file was read"
        );
    }
    writer.await.expect("writer");
    // No temporary file is left behind, and none is listed.
    assert_eq!(store.list(tenant, record).await.expect("list").len(), 1);
    let files = std::fs::read_dir(dir.path().join(tenant.to_string()).join(record.to_string()))
        .expect("dir")
        .count();
    assert_eq!(files, 1);
}
