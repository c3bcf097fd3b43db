//! `livegate loadtest` end to end, kept small: a spawned server, two pages for a few seconds on
//! the real blink clip, and the last JSON line read as a script would read it.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{media, models_dir};
use serde_json::Value;

/// Runs `livegate loadtest ARGS` with the media and models, `extra_env` added; kills it past
/// `limit`.
fn loadtest(args: &[&str], extra_env: &[(&str, &str)], limit: Duration) -> Output {
    let media_dir = std::env::var_os("LIVEGATE_TEST_MEDIA").unwrap_or_default();
    let mut command = Command::new(env!("CARGO_BIN_EXE_livegate"));
    command
        .arg("loadtest")
        .args(args)
        .env("LIVEGATE_MODELS_DIR", models_dir())
        .env("LIVEGATE_TEST_MEDIA", media_dir)
        // The embedded store unless a test asks for PostgreSQL.
        .env_remove("LIVEGATE_DATABASE_URL")
        .env_remove("LIVEGATE_STORE__URL")
        .env_remove("LIVEGATE_STORE__BACKEND")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("livegate loadtest starts");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("livegate loadtest {args:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// The last line of stdout, parsed, and the whole stdout.
fn last_json(out: &Output) -> (Value, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "loadtest failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("some output");
    let value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last:?}"));
    (value, stdout)
}

/// What every successful small run must show.
fn assert_clean_run(json: &Value, stdout: &str) {
    let load = &json["load"];
    assert!(load["sessions"].as_u64().unwrap_or(0) > 0, "{stdout}");
    assert_eq!(load["errors"], 0, "{stdout}");
    assert!(load["tps"].as_f64().unwrap_or(0.0) > 0.0, "{stdout}");
    // Every frame was acknowledged at some latency, and the server analysed frames.
    assert!(load["p95_ms"].as_f64().is_some_and(|p| p > 0.0), "{stdout}");
    assert!(
        load["frames_analysed_per_session"]
            .as_f64()
            .is_some_and(|f| f >= 5.0),
        "{stdout}"
    );
    // The spawned server was sampled: a live server uses some CPU and memory.
    assert!(
        load["cpu_pct"].as_f64().is_some_and(|c| c > 0.0),
        "{stdout}"
    );
    assert!(
        load["mem_pct"].as_f64().is_some_and(|m| m > 0.0),
        "{stdout}"
    );
    assert!(stdout.contains("frame sent -> ack"), "{stdout}");
}

#[test]
fn a_small_spawned_run_passes_every_session_and_ends_with_a_json_line() {
    if media("Blink-Detector_repeating/video.mp4").is_none() {
        return;
    }
    let out = loadtest(
        &["--duration", "5", "--concurrency", "2", "--spawn"],
        &[],
        Duration::from_secs(120),
    );
    let (json, stdout) = last_json(&out);
    assert_clean_run(&json, &stdout);
    assert!(stdout.contains("embedded SQLite"), "{stdout}");
}

#[test]
fn a_spawned_run_on_postgres_uses_a_schema_of_its_own_and_drops_it() {
    if media("Blink-Detector_repeating/video.mp4").is_none() {
        return;
    }
    let Ok(pg) = std::env::var("LIVEGATE_TEST_PG_URL") else {
        eprintln!("skipped: LIVEGATE_TEST_PG_URL not set");
        return;
    };
    let out = loadtest(
        &["--duration", "3", "--concurrency", "1", "--spawn"],
        &[("LIVEGATE_DATABASE_URL", &pg)],
        Duration::from_secs(120),
    );
    let (json, stdout) = last_json(&out);
    assert_clean_run(&json, &stdout);
    let schema = stdout
        .split("schema ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .expect("the table names the schema")
        .to_owned();
    assert!(schema.starts_with("lg_load_"), "{schema}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let left = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&pg, tokio_postgres::NoTls)
            .await
            .expect("postgres");
        tokio::spawn(connection);
        client
            .query(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1",
                &[&schema],
            )
            .await
            .expect("query")
            .len()
    });
    assert_eq!(left, 0, "schema {schema} was dropped after the run");
}

#[test]
fn flags_out_of_range_are_refused_before_anything_starts() {
    let out = loadtest(
        &["--duration", "5", "--fps", "50", "--spawn"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--fps"), "{stderr}");
    let out = loadtest(&["--duration", "5"], &[], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--target URL or --spawn"));
    // An action that is not a step, and actions no one person on the clips does together.
    let no_media = [("LIVEGATE_TEST_MEDIA", "/nonexistent")];
    for actions in ["eyes_closed", "mouth_open,turn_left"] {
        let args = ["--duration", "5", "--spawn", "--actions", actions];
        let out = loadtest(&args, &no_media, Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(2), "{actions}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--actions"), "{actions}: {stderr}");
    }
}
