//! The built `livegate` binary, run as an operator would: bad configuration, `migrate`, and
//! `serve` on a fresh folder until SIGTERM.

mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_binary_stops_on_bad_config_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_livegate"))
        .arg("serve")
        .current_dir(dir.path())
        .env("LIVEGATE_STORE__POOL_SIZE", "0")
        .output()
        .expect("run livegate");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        "livegate: invalid configuration: store.pool_size: must be between 1 and 256 (got 0)"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing created before the configuration is valid"
    );
}

#[test]
fn serve_refuses_to_start_when_a_model_file_is_missing_or_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).expect("models folder");
    let serve = || {
        Command::new(env!("CARGO_BIN_EXE_livegate"))
            .args(["serve", "--port", "1"])
            .current_dir(dir.path())
            .env("LIVEGATE_MODELS_DIR", &models)
            .output()
            .expect("run livegate")
    };
    let output = serve();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("face_detection_short_range.tflite")
            && stderr.contains("scripts/fetch-models"),
        "names the missing file and the fix: {stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing created without the models"
    );

    // Every file present but one altered: the hash check names it.
    for entry in std::fs::read_dir(common::models_dir()).expect("the real models folder") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, models.join(path.file_name().expect("file name"))).expect("copy");
        }
    }
    std::fs::write(models.join("iris_landmark.tflite"), b"not the model").expect("alter");
    let stderr = String::from_utf8_lossy(&serve().stderr).into_owned();
    assert!(
        stderr.contains("iris_landmark.tflite") && stderr.contains("sha-256"),
        "names the altered file: {stderr}"
    );
}

#[test]
fn migrate_creates_the_embedded_store_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_livegate"))
            .arg("migrate")
            .current_dir(dir.path())
            .env("LIVEGATE_DATA_DIR", dir.path().join("state"))
            .env("LIVEGATE_LOG__LEVEL", "warn")
            .output()
            .expect("run livegate")
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    let applied: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        applied.first().copied(),
        Some("applied 0001_init to the embedded store"),
        "{stdout}"
    );
    assert!(
        applied
            .iter()
            .all(|line| line.starts_with("applied ") && line.ends_with(" to the embedded store")),
        "{stdout}"
    );
    assert!(dir.path().join("state/livegate.db").is_file());
    assert!(dir.path().join("state/evidence").is_dir());
    let second = run();
    assert!(second.status.success(), "{second:?}");
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        "embedded store is up to date\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_fresh_folder_migrates_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A free port: bind 0, read it, release it for the server.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_livegate"))
        .args(["serve", "--port", &port.to_string()])
        .current_dir(dir.path())
        .env("LIVEGATE_LOG__LEVEL", "warn")
        .env("LIVEGATE_SERVER__SHUTDOWN_TIMEOUT_SECS", "5")
        .env("LIVEGATE_MODELS_DIR", common::models_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start livegate serve");

    // Ready once the store is migrated and the models are compiled (a few seconds); until then
    // /readyz answers 503 and says what it waits for.
    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        match reqwest::get(&url).await {
            Ok(response) if response.status().as_u16() == 200 => break response,
            Ok(response) if Instant::now() < deadline => {
                let body = response.text().await.unwrap_or_default();
                assert!(
                    body.contains("\"models\":\"loading\""),
                    "not ready for another reason: {body}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(response) => {
                let _ = child.kill();
                panic!("serve never became ready: {}", response.status());
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => {
                let _ = child.kill();
                panic!("serve never answered: {err}");
            }
        }
    };
    assert_eq!(ready.status().as_u16(), 200);
    assert!(
        dir.path().join("data/livegate.db").is_file(),
        "./data created"
    );
    assert!(dir.path().join("data/evidence").is_dir());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send sigterm");
    assert!(killed.success());
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "exit after sigterm: {:?} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
