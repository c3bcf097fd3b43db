//! Configuration as an operator meets it: defaults, the file, `LIVEGATE_*` variables, and the
//! one-line error naming the key when a value is bad. The loader takes its environment as an
//! argument, so these tests never touch the process environment.

use std::path::Path;

use livegate::config::{self, ConfigError, ConfigOverrides, LogFormat, StoreBackend, ENV_VARS};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(dir: &Path, pairs: &[(&str, &str)]) -> Result<config::Config, ConfigError> {
    config::load_from(None, dir, env(pairs), &ConfigOverrides::default())
}

fn message(result: Result<config::Config, ConfigError>) -> String {
    result.expect_err("should be refused").to_string()
}

#[test]
fn a_fresh_checkout_gets_the_documented_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = load(dir.path(), &[]).expect("defaults load");
    assert_eq!(config.server.host, "127.0.0.1");
    assert_eq!(config.server.port, 8000);
    assert_eq!(config.data_dir, Path::new("./data"));
    assert_eq!(config.store.backend, StoreBackend::Embedded);
    assert_eq!(config.models.dir, Path::new("var/models"));
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.embedded_db_path(), Path::new("./data/livegate.db"));
}

#[test]
fn file_then_env_then_flags_each_override_the_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("conf")).expect("mkdir");
    std::fs::write(
        dir.path().join("conf/livegate.toml"),
        "data_dir = \"/srv/livegate\"\n[server]\nport = 8100\nhost = \"0.0.0.0\"\n",
    )
    .expect("write");

    let from_file = load(dir.path(), &[]).expect("file");
    assert_eq!(from_file.server.port, 8100);
    assert_eq!(from_file.data_dir, Path::new("/srv/livegate"));
    assert_eq!(
        from_file.server.shutdown_timeout_secs, 30,
        "untouched default"
    );

    let from_env = load(
        dir.path(),
        &[
            ("LIVEGATE_SERVER__PORT", "9000"),
            ("LIVEGATE_DATA_DIR", "/var/lib/livegate"),
            ("LIVEGATE_MODELS_DIR", "/opt/models"),
            ("LIVEGATE_STORE__BACKEND", "postgres"),
            (
                "LIVEGATE_DATABASE_URL",
                "postgres://app:pw@db:5432/livegate",
            ),
            ("LIVEGATE_LOG__FORMAT", "json"),
            // Read by the test suites, not by the configuration: ignored here.
            ("LIVEGATE_TEST_MEDIA", "/work/shared/media"),
            ("HOME", "/root"),
        ],
    )
    .expect("env");
    assert_eq!(from_env.server.port, 9000);
    assert_eq!(from_env.server.host, "0.0.0.0");
    assert_eq!(from_env.data_dir, Path::new("/var/lib/livegate"));
    assert_eq!(from_env.models.dir, Path::new("/opt/models"));
    assert_eq!(from_env.store.backend, StoreBackend::Postgres);
    assert_eq!(
        from_env.store.url.as_ref().map(|u| u.expose()),
        Some("postgres://app:pw@db:5432/livegate")
    );
    assert!(
        !format!("{from_env:?}").contains("pw@"),
        "url redacted in Debug"
    );
    assert_eq!(from_env.log.format, LogFormat::Json);

    let from_flags = config::load_from(
        None,
        dir.path(),
        env(&[("LIVEGATE_SERVER__PORT", "9000")]),
        &ConfigOverrides {
            host: Some("::1".into()),
            port: Some(9100),
        },
    )
    .expect("flags");
    assert_eq!(
        (from_flags.server.host.as_str(), from_flags.server.port),
        ("::1", 9100)
    );
}

#[test]
fn a_port_that_is_not_a_number_names_the_key_and_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = message(load(dir.path(), &[("LIVEGATE_SERVER__PORT", "abc")]));
    assert!(
        msg.starts_with("invalid configuration: server.port: "),
        "{msg}"
    );
    assert!(msg.contains("LIVEGATE_SERVER__PORT"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn out_of_range_values_name_the_key_and_the_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        message(load(dir.path(), &[("LIVEGATE_STORE__POOL_SIZE", "0")])),
        "invalid configuration: store.pool_size: must be between 1 and 256 (got 0)"
    );
    assert_eq!(
        message(load(dir.path(), &[("LIVEGATE_SERVER__PORT", "0")])),
        "invalid configuration: server.port: must be between 1 and 65535 (got 0)"
    );
    let msg = message(load(dir.path(), &[("LIVEGATE_SERVER__PORT", "70000")]));
    assert!(
        msg.starts_with("invalid configuration: server.port: "),
        "{msg}"
    );
    let msg = message(load(dir.path(), &[("LIVEGATE_LOG__FORMAT", "xml")]));
    assert!(
        msg.starts_with("invalid configuration: log.format: "),
        "{msg}"
    );
    let msg = message(load(dir.path(), &[("LIVEGATE_STORE__BACKEND", "mysql")]));
    assert_eq!(
        msg,
        "invalid configuration: store.backend: unknown variant: found `mysql`, expected `embedded` \
         or `postgres` (from environment variable LIVEGATE_STORE__BACKEND)"
    );
}

#[test]
fn report_only_cues_name_switchable_cues_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = load(
        dir.path(),
        &[("LIVEGATE_ENGINE__REPORT_ONLY_CUES", r#"["border"]"#)],
    )
    .expect("border may be reported only");
    assert_eq!(config.engine.report_only_cues, vec!["border".to_string()]);
    assert!(load(dir.path(), &[])
        .expect("defaults")
        .engine
        .report_only_cues
        .is_empty());
    // The positive cue cannot be switched off, nor can a misspelt one slip through.
    for bad in [r#"["planar_motion"]"#, r#"["boarder"]"#] {
        let msg = message(load(
            dir.path(),
            &[("LIVEGATE_ENGINE__REPORT_ONLY_CUES", bad)],
        ));
        assert!(
            msg.starts_with("invalid configuration: engine.report_only_cues: ")
                && msg.contains("one of: glare, border"),
            "{msg}"
        );
    }
}

#[test]
fn trusted_camera_labels_are_a_list_of_real_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = load(
        dir.path(),
        &[(
            "LIVEGATE_ENGINE__TRUSTED_CAMERA_LABELS",
            r#"["fake_device_0", "Kiosk Capture"]"#,
        )],
    )
    .expect("a list of labels");
    assert_eq!(
        config.engine.trusted_camera_labels,
        vec!["fake_device_0".to_string(), "Kiosk Capture".to_string()]
    );
    assert!(load(dir.path(), &[])
        .expect("defaults")
        .engine
        .trusted_camera_labels
        .is_empty());
    let msg = message(load(
        dir.path(),
        &[("LIVEGATE_ENGINE__TRUSTED_CAMERA_LABELS", r#"[" "]"#)],
    ));
    assert!(
        msg.starts_with("invalid configuration: engine.trusted_camera_labels: "),
        "{msg}"
    );
    let msg = message(load(
        dir.path(),
        &[("LIVEGATE_ENGINE__REPLAY_CHECK_MINUTES", "61")],
    ));
    assert_eq!(
        msg,
        "invalid configuration: engine.replay_check_minutes: must be between 0 and 60 (got 61)"
    );
}

#[test]
fn postgres_needs_a_url_and_a_bad_url_is_not_echoed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = message(load(dir.path(), &[("LIVEGATE_STORE__BACKEND", "postgres")]));
    assert!(
        msg.starts_with("invalid configuration: store.url: required"),
        "{msg}"
    );
    let msg = message(load(
        dir.path(),
        &[
            ("LIVEGATE_STORE__BACKEND", "postgres"),
            ("LIVEGATE_DATABASE_URL", "mysql://root:hunter2@db/x"),
        ],
    ));
    assert!(
        msg.starts_with("invalid configuration: store.url: "),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "password leaked: {msg}");
}

#[test]
fn unknown_keys_in_the_file_and_unknown_variables_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("custom.toml");
    std::fs::write(&file, "[server]\nprot = 9000\n").expect("write");
    let msg = config::load_from(
        Some(&file),
        dir.path(),
        env(&[]),
        &ConfigOverrides::default(),
    )
    .expect_err("typo")
    .to_string();
    assert!(
        msg.starts_with("invalid configuration: server.prot: unknown key"),
        "{msg}"
    );
    assert!(msg.contains("custom.toml"), "names the file: {msg}");

    assert_eq!(
        message(load(dir.path(), &[("LIVEGATE_SERVER__PROT", "9000")])),
        "invalid configuration: unknown environment variable LIVEGATE_SERVER__PROT (see docs/configuration.md)"
    );

    let missing = dir.path().join("nope.toml");
    let msg = config::load_from(
        Some(&missing),
        dir.path(),
        env(&[]),
        &ConfigOverrides::default(),
    )
    .expect_err("missing file")
    .to_string();
    assert!(
        msg.contains("nope.toml") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn every_configuration_variable_is_documented() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .expect("docs/configuration.md");
    for var in ENV_VARS {
        assert!(
            doc.contains(var.name),
            "{} missing from docs/configuration.md",
            var.name
        );
        if let Some(key) = var.key {
            assert!(
                doc.contains(&format!("`{key}`")),
                "{key} missing from docs/configuration.md"
            );
        }
    }
}

#[test]
fn paths_and_hosts_from_the_environment_stay_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = load(
        dir.path(),
        &[
            ("LIVEGATE_DATA_DIR", "2026"),
            ("LIVEGATE_MODELS_DIR", "true"),
            ("LIVEGATE_SERVER__HOST", "10.0.0.7"),
        ],
    )
    .expect("text values");
    assert_eq!(config.data_dir, Path::new("2026"));
    assert_eq!(config.models.dir, Path::new("true"));
    assert_eq!(config.server.host, "10.0.0.7");
}
