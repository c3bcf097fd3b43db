//! `livegate scenes set | list | show` through the built binary, on a fresh embedded store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// A fresh working folder with its own data folder (no conf/livegate.toml in it).
struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write rules");
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_livegate"))
            .args(args)
            .current_dir(self.dir.path())
            .env("LIVEGATE_DATA_DIR", self.data_dir())
            .env("LIVEGATE_LOG__LEVEL", "warn")
            .output()
            .expect("run livegate")
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "livegate {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs a command that must fail with `code`; its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "livegate {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).expect("utf-8 stderr")
    }

    fn list(&self) -> Vec<Value> {
        self.ok(&["scenes", "list"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    fn show(&self, code: &str) -> Value {
        let out = self.ok(&["scenes", "show", code]);
        serde_json::from_str(out.trim()).expect("one JSON object")
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

const SECRET: &str = "s3cret-callback-key-0001";

fn rules_with_secret(count: u32) -> String {
    json!({
        "actions": {"pool": ["blink", "nod", "turn_left"], "count": count},
        "callback": {"url": "https://bank.example/liveness/callback", "secret": SECRET},
        "return_urls": ["https://bank.example/liveness/return"]
    })
    .to_string()
}

#[test]
fn set_creates_then_versions_and_list_masks_the_secret() {
    let w = Workdir::new();
    let file = w.write("kyc.json", &rules_with_secret(2));
    let out = w.ok(&[
        "scenes",
        "set",
        "kyc",
        "--file",
        path_str(&file),
        "--name",
        "Account opening",
    ]);
    assert_eq!(
        out.trim(),
        r#"created scene "kyc" of tenant "default" (version 1)"#
    );

    let scenes = w.list();
    assert_eq!(
        scenes.len(),
        2,
        "the seeded default scene and kyc: {scenes:?}"
    );
    assert_eq!(scenes[0]["code"], "default");
    assert_eq!(scenes[0]["config"], json!({}));
    let kyc = &scenes[1];
    assert_eq!(kyc["code"], "kyc");
    assert_eq!(kyc["name"], "Account opening");
    assert_eq!(kyc["version"], 1);
    assert_eq!(kyc["config"]["callback"]["secret"], "***");
    assert_eq!(kyc["config"]["actions"]["count"], 2);

    // The same rules again write nothing.
    let out = w.ok(&["scenes", "set", "kyc", "--file", path_str(&file)]);
    assert_eq!(
        out.trim(),
        r#"scene "kyc" of tenant "default" is unchanged (version 1)"#
    );

    // New rules make a new version and keep the name.
    let file = w.write("kyc.json", &rules_with_secret(3));
    let out = w.ok(&["scenes", "set", "kyc", "--file", path_str(&file)]);
    assert_eq!(
        out.trim(),
        r#"updated scene "kyc" of tenant "default" to version 2"#
    );
    let kyc = w.show("kyc");
    assert_eq!(kyc["version"], 2);
    assert_eq!(kyc["name"], "Account opening");
    assert_eq!(kyc["config"]["actions"]["count"], 3);
    assert_eq!(kyc["config"]["callback"]["secret"], "***");

    // The secret is stored (the session service needs it) but never printed.
    for args in [&["scenes", "list"][..], &["scenes", "show", "kyc"][..]] {
        assert!(!w.ok(args).contains(SECRET), "{args:?} printed the secret");
    }
}

#[test]
fn a_bad_rules_file_exits_2_with_the_error_and_writes_nothing() {
    let w = Workdir::new();
    let bad = w.write("bad.json", r#"{"actions": {"count": 9}}"#);
    let stderr = w.fails(&["scenes", "set", "kyc", "--file", path_str(&bad)], 2);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "livegate: {}: actions.count: must be between 1 and 6 (got 9)",
            bad.display()
        )
    );
    assert!(
        !w.data_dir().exists(),
        "nothing created for a bad rules file"
    );

    let not_json = w.write("not.json", "{actions: 2}");
    let stderr = w.fails(&["scenes", "set", "kyc", "--file", path_str(&not_json)], 2);
    assert!(stderr.contains("is not JSON"), "{stderr}");
    let stderr = w.fails(&["scenes", "set", "kyc", "--file", "missing.json"], 2);
    assert!(stderr.contains("cannot read missing.json"), "{stderr}");
    let colour = w.write("colour.json", r#"{"modes": ["colour", "silent"]}"#);
    let stderr = w.fails(&["scenes", "set", "kyc", "--file", path_str(&colour)], 2);
    assert!(
        stderr.contains(r#"modes: "colour" runs alone or with "action", not with "silent""#),
        "{stderr}"
    );
    let good = w.write("good.json", "{}");
    let stderr = w.fails(&["scenes", "set", "Bad Code", "--file", path_str(&good)], 2);
    assert!(stderr.starts_with("livegate: scene code:"), "{stderr}");
    assert!(!w.data_dir().exists());

    // A bad file over an existing scene leaves it as it was.
    w.ok(&["scenes", "set", "kyc", "--file", path_str(&good)]);
    w.fails(&["scenes", "set", "kyc", "--file", path_str(&bad)], 2);
    let kyc = w.show("kyc");
    assert_eq!(kyc["version"], 1);
    assert_eq!(kyc["config"], json!({}));
}

#[test]
fn unknown_tenants_and_scenes_are_named() {
    let w = Workdir::new();
    let good = w.write("good.json", "{}");
    let stderr = w.fails(
        &[
            "scenes",
            "set",
            "kyc",
            "--file",
            path_str(&good),
            "--tenant",
            "nope",
        ],
        1,
    );
    assert_eq!(stderr.trim_end(), r#"livegate: no tenant with code "nope""#);
    let stderr = w.fails(&["scenes", "list", "--tenant", "nope"], 1);
    assert_eq!(stderr.trim_end(), r#"livegate: no tenant with code "nope""#);
    let stderr = w.fails(&["scenes", "show", "kyc"], 1);
    assert_eq!(
        stderr.trim_end(),
        r#"livegate: no scene "kyc" in tenant "default""#
    );
    assert_eq!(w.show("default")["version"], 1);
}
