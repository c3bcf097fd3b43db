//! What the tests of the `livegate` binary share: finding real media, running `livegate analyze`.
#![allow(dead_code)]

pub mod admin;
pub mod backend;
pub mod live;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A file of the shared real-media folder, or `None` (with the reason on stderr) when the folder
/// is not there.
pub fn media(rel: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("LIVEGATE_TEST_MEDIA") else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is not set (point it at the shared face media)");
        return None;
    };
    let path = Path::new(&dir).join(rel);
    if !path.is_file() {
        eprintln!(
            "skipped: {} is missing from LIVEGATE_TEST_MEDIA",
            path.display()
        );
        return None;
    }
    Some(path)
}

/// The models folder the binary should use: `LIVEGATE_MODELS_DIR`, else the workspace's `var/models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("LIVEGATE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("var/models"))
}

/// Run the `livegate` binary with `args`, killing it if it runs past `limit`.
pub fn livegate(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_livegate"))
        .args(args)
        .env("LIVEGATE_MODELS_DIR", models_dir())
        .env(
            "LIVEGATE_DATA_DIR",
            std::env::temp_dir().join("livegate-test-data"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the livegate binary starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait for livegate").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("livegate {args:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("livegate's output")
}

/// The JSON lines `livegate analyze` printed: its events and its last summary line.
pub struct Analysis {
    pub events: Vec<serde_json::Value>,
    pub summary: serde_json::Value,
}

/// Run `livegate analyze PATH [extra]` and parse its lines; panics (failing the test) when it fails.
pub fn analyze(path: &Path, extra: &[&str]) -> Analysis {
    let path = path.to_str().expect("utf-8 media path");
    let mut args = vec!["analyze", path];
    args.extend_from_slice(extra);
    let out = livegate(&args, Duration::from_secs(240));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "livegate analyze {path} failed: {stderr}"
    );
    let mut lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let last = lines.pop().expect("analyze printed at least the summary");
    let summary = last
        .get("summary")
        .cloned()
        .unwrap_or_else(|| panic!("last line is not the summary: {last}"));
    Analysis {
        events: lines,
        summary,
    }
}

/// Run `livegate analyze PATH` where it must fail: its stderr.
pub fn analyze_error(path: &Path) -> String {
    let out = livegate(
        &["analyze", path.to_str().expect("utf-8 path")],
        Duration::from_secs(60),
    );
    assert!(
        !out.status.success(),
        "livegate analyze {} should have failed",
        path.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
