//! `livegate loadtest`: many H5 pages at once over the real protocol, measured.
//!
//! Each simulated page does what the H5 page does: the integrator's signed `POST
//! /open/v1/sessions`, the challenge, the WebSocket hello with a fresh X25519 key, then sealed
//! JPEG frames of a real clip at the page's rate (never more than two unacknowledged, as the page
//! does), switching clips when a `step` asks for another action, until the `result`; then the
//! integrator's signed read of the result for `frames.analysed`. Scheduling, statistics, the
//! `/proc` sampling and the report are protocol-free and live in `livegate-loadtest`; this module
//! is the protocol client and the set-up (decision 0005).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use livegate_actors::actions::ActionKind;
use livegate_loadtest::clips::{self, Capture, Clip, ClipError};
use livegate_loadtest::process::{self, ProcError, Sampler};
use livegate_loadtest::report::{Report, RunInfo, SessionOutcome};
use livegate_loadtest::schedule::{self, Load, Plan};
use livegate_loadtest::stats::Latencies;
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::h5::seal::{FrameHeader, FrameSealer, SUITE_X25519_CHACHA};
use crate::signature;

/// `livegate loadtest`.
#[derive(Debug, Clone, Args)]
pub struct LoadtestArgs {
    /// Seconds during which sessions start; running ones then get `--drain` seconds to end.
    #[arg(long, value_name = "SECONDS")]
    pub duration: u64,
    /// New sessions a second (open loop), at most `--max-in-flight` running.
    #[arg(long, value_name = "TPS", conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Pages at once, each starting its next session when the last ends (default 2).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// With `--rate`: sessions running at once, at most; starts beyond are shed (errors).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_in_flight: usize,
    /// Seconds running sessions may take to end after the window.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub drain: u64,
    /// The server's base URL (http://host:port); not with `--spawn`.
    #[arg(long, value_name = "URL", conflicts_with = "spawn")]
    pub target: Option<String>,
    /// Start the server: this binary's `serve` on a fresh folder, PostgreSQL when
    /// LIVEGATE_DATABASE_URL is set (in a schema of its own, dropped after), else the embedded
    /// store.
    #[arg(long)]
    pub spawn: bool,
    /// The API app signing the requests; without it an app is created (`apps create`) in the
    /// store the configuration names.
    #[arg(long, requires = "secret")]
    pub app_id: Option<String>,
    /// The app's secret (better from the environment than on a command line others can list).
    #[arg(long, env = "LIVEGATE_LOADTEST_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// The scene sessions are created in; set to `--actions` when the app is created here.
    #[arg(long, value_name = "CODE", default_value = "loadtest")]
    pub scene: String,
    /// The actions of the scene the tool sets up, comma-separated; every session asks for all of
    /// them in a random order (blink, mouth_open, turn_left, turn_right, nod, raise_head).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "blink"
    )]
    pub actions: Vec<String>,
    /// The real-media folder holding the clips (see docs/performance.md).
    #[arg(long, value_name = "DIR", env = "LIVEGATE_TEST_MEDIA")]
    pub clips: Option<PathBuf>,
    /// Frames a second each page sends.
    #[arg(long, default_value_t = 10)]
    pub fps: u32,
    /// Width of the frames; they are scaled to fit width x (width * 4 / 3), as the page does.
    #[arg(long, default_value_t = 480)]
    pub width: u32,
    /// The server's process id, to sample its CPU and memory once a second.
    #[arg(long, value_name = "PID", conflicts_with = "spawn")]
    pub server_pid: Option<u32>,
    /// The configuration file (for creating the app and scene when not spawning).
    #[command(flatten)]
    pub config: crate::cli::ConfigArgs,
}

/// Why a load test could not run (a session's own failures are counted, not raised).
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    /// A flag is out of range.
    #[error("{0}")]
    Usage(String),
    /// No media folder: neither `--clips` nor LIVEGATE_TEST_MEDIA.
    #[error("no clips: give --clips DIR or set LIVEGATE_TEST_MEDIA to the real-media folder")]
    NoMedia,
    /// A clip the run needs is not in the media folder.
    #[error("clip missing: {path}")]
    MissingClip {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A clip could not be decoded or encoded.
    #[error(transparent)]
    Clip(#[from] ClipError),
    /// A helper command or the spawned server failed.
    #[error("{what}: {detail}")]
    Setup {
        /// What was being done.
        what: &'static str,
        /// What went wrong (the command's stderr, or the I/O error).
        detail: String,
    },
    /// The spawned server did not answer /readyz in time.
    #[error("the spawned server was not ready within {0} s; its log ends:\n{1}")]
    NotReady(u64, String),
    /// Interrupted (Ctrl-C) before the report; a spawned server was stopped.
    #[error("interrupted")]
    Interrupted,
    /// The PostgreSQL schema of a spawned server could not be made or dropped.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// `/proc` could not be read for a process to sample.
    #[error(transparent)]
    Proc(#[from] ProcError),
}

/// A person on real clips, and where in them they do each action.
struct Person {
    /// The clip's folder and file, under the media folder.
    clip: &'static str,
    /// Each action with the second to start the clip from: about 1.5 s before the person does
    /// it (found with `livegate analyze`), so the step's baseline is learned first, as with a
    /// person who reads the instruction and then acts.
    actions: &'static [(ActionKind, f64)],
}

/// The people the tool can play. One session is one person: the server rightly fails a session
/// whose face changes between steps (`face_changed`), so all of a scene's actions must come from
/// one clip; the first person who does every action asked for is chosen.
const PEOPLE: [Person; 3] = [
    // Blinks at 0.4 s (too early for a baseline), 1.7 s, 3.4 s...: the blink scene.
    Person {
        clip: "Blink-Detector_repeating/video.mp4",
        actions: &[(ActionKind::Blink, 0.0)],
    },
    // A portrait selfie: turn left 2.1 s, head up 3.0 s, turn right 7.5 s, nod 11.5 s, blink
    // 16.2 s.
    Person {
        clip: "face_anti_spoofing_tranvanluyt2203/real.mp4",
        actions: &[
            (ActionKind::TurnLeft, 0.5),
            (ActionKind::RaiseHead, 1.5),
            (ActionKind::TurnRight, 6.0),
            (ActionKind::Nod, 10.0),
            (ActionKind::Blink, 14.7),
        ],
    },
    // Mouth wide open at 2.1 s, a blink at 3.1 s.
    Person {
        clip: "LivePortrait/d18.mp4",
        actions: &[(ActionKind::MouthOpen, 0.5), (ActionKind::Blink, 1.6)],
    },
];

/// The scene `--scene` gets when the tool creates it: every action of `--actions`, in a random
/// order, 10 s a step.
fn scene_rules(actions: &[ActionKind]) -> Value {
    let pool: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
    json!({
        "actions": {"pool": pool, "count": actions.len()},
        "timeouts": {"step_s": 10, "session_s": 10 * actions.len() + 10}
    })
}

/// Runs the load test: prints the table, then the JSON line, on stdout.
pub async fn run(args: LoadtestArgs) -> Result<(), LoadtestError> {
    let actions = check_args(&args)?;
    let media = args.clips.clone().ok_or(LoadtestError::NoMedia)?;
    let capture = Capture {
        fps: args.fps,
        fit: (args.width, args.width * 4 / 3),
        jpeg_quality: 80,
    };
    let clips = prepare_clips(&media, &actions, &capture)?;
    let mut server = match (&args.target, args.spawn) {
        (_, true) => Server::spawn(&args, &actions).await?,
        (Some(target), false) => Server::existing(&args, &actions, target.trim_end_matches('/'))?,
        (None, false) => return Err(LoadtestError::Usage("give --target URL or --spawn".into())),
    };
    // Ctrl-C still stops a spawned server and drops its schema.
    let result = tokio::select! {
        result = measure(&args, &server, clips, &media) => result,
        _ = tokio::signal::ctrl_c() => Err(LoadtestError::Interrupted),
    };
    server.stop().await;
    let mut report = result?;
    println!("{}", report.table());
    println!("{}", report.json_line());
    Ok(())
}

/// Checks the flags; returns the actions of `--actions`, each once.
fn check_args(args: &LoadtestArgs) -> Result<Vec<ActionKind>, LoadtestError> {
    let usage = |m: &str| Err(LoadtestError::Usage(m.to_owned()));
    let mut actions = Vec::new();
    for word in &args.actions {
        match action_of(word.trim()) {
            Some(a) if ActionKind::CHALLENGE.contains(&a) => {
                if !actions.contains(&a) {
                    actions.push(a);
                }
            }
            _ => return usage(&format!("--actions: {word:?} is not a challenge action")),
        }
    }
    if actions.is_empty() {
        return usage("--actions needs at least one action");
    }
    if args.duration == 0 {
        return usage("--duration must be at least 1 second");
    }
    if !(1..=20).contains(&args.fps) {
        return usage("--fps must be 1-20 (the server refuses more than 20)");
    }
    if !(64..=1080).contains(&args.width) {
        return usage("--width must be 64-1080");
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r <= 1000.0)) {
        return usage("--rate must be above 0 and at most 1000");
    }
    if args.concurrency == Some(0) {
        return usage("--concurrency must be at least 1");
    }
    if args.target.is_none() && !args.spawn {
        return usage("give --target URL or --spawn");
    }
    if let Some(target) = &args.target {
        if !target.starts_with("http://") {
            return usage("--target must be an http:// URL (wss is not supported by the tool yet)");
        }
    }
    Ok(actions)
}

/// The clip of each action, from the first person who does them all, decoded once.
fn prepare_clips(
    media: &Path,
    actions: &[ActionKind],
    capture: &Capture,
) -> Result<BTreeMap<ActionKind, Arc<Clip>>, LoadtestError> {
    let does = |p: &Person, a: &ActionKind| p.actions.iter().any(|(b, _)| b == a);
    let person = PEOPLE
        .iter()
        .find(|p| actions.iter().all(|a| does(p, a)))
        .ok_or_else(|| {
            LoadtestError::Usage(
                "--actions: no one clip shows all of them (blink, turn_left, turn_right, nod and \
                 raise_head go together; mouth_open only with blink)"
                    .to_owned(),
            )
        })?;
    let path = media.join(person.clip);
    if !path.is_file() {
        return Err(LoadtestError::MissingClip { path });
    }
    let mut clips = BTreeMap::new();
    for (action, from_s) in person.actions {
        if actions.contains(action) {
            clips.insert(*action, Arc::new(clips::prepare(&path, *from_s, capture)?));
        }
    }
    Ok(clips)
}

/// The server under test: where it is, how requests are signed, and its process when known.
struct Server {
    base: String,
    app_id: String,
    secret: String,
    pid: Option<u32>,
    description: String,
    spawned: Option<Spawned>,
}

/// What `--spawn` made and must clean up.
struct Spawned {
    child: Child,
    dir: PathBuf,
    pg: Option<(String, String)>,
}

impl Server {
    /// A server started elsewhere; an app and the scene are made through the CLI unless given.
    fn existing(
        args: &LoadtestArgs,
        actions: &[ActionKind],
        base: &str,
    ) -> Result<Self, LoadtestError> {
        let (app_id, secret) = match (&args.app_id, &args.secret) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => {
                let env = Vec::new();
                let cwd = std::env::current_dir().map_err(|e| setup("working folder", e))?;
                let config = args.config.config.as_deref();
                create_app_and_scene(&cwd, &env, config, &args.scene, actions)?
            }
        };
        let description = match args.server_pid {
            Some(pid) => format!("started elsewhere (pid {pid}: {})", process_name(pid)),
            None => "started elsewhere (not sampled: no --server-pid)".to_owned(),
        };
        Ok(Self {
            base: base.to_owned(),
            app_id,
            secret,
            pid: args.server_pid,
            description,
            spawned: None,
        })
    }

    /// `livegate serve` from this binary on a fresh folder and port.
    async fn spawn(args: &LoadtestArgs, actions: &[ActionKind]) -> Result<Self, LoadtestError> {
        let dir = std::env::temp_dir().join(format!("livegate-loadtest-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).map_err(|e| setup("temporary folder", e))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| setup("free port", e))?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env: Vec<(String, String)> = vec![
            (
                "LIVEGATE_DATA_DIR".into(),
                dir.join("data").display().to_string(),
            ),
            ("LIVEGATE_SERVER__PUBLIC_URL".into(), base.clone()),
            ("LIVEGATE_LOG__LEVEL".into(), "warn".into()),
            // The per-tenant admission limits are a production guard against one tenant
            // starving others; one tenant is the whole load here, so they would measure the
            // guard, not the server.
            (
                "LIVEGATE_TENANTS__MAX_NEW_PER_MINUTE".into(),
                "1000000".into(),
            ),
            (
                "LIVEGATE_TENANTS__MAX_LIVE_SESSIONS".into(),
                "100000".into(),
            ),
        ];
        let mut pg = None;
        let store = match std::env::var("LIVEGATE_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let schema = format!("lg_load_{}", Uuid::new_v4().simple());
                let scoped = create_schema(&url, &schema).await?;
                env.push(("LIVEGATE_STORE__BACKEND".into(), "postgres".into()));
                env.push(("LIVEGATE_DATABASE_URL".into(), scoped));
                pg = Some((url, schema.clone()));
                format!("PostgreSQL (LIVEGATE_DATABASE_URL, schema {schema}, dropped after)")
            }
            _ => {
                env.push(("LIVEGATE_STORE__BACKEND".into(), "embedded".into()));
                "embedded SQLite (set LIVEGATE_DATABASE_URL for PostgreSQL)".to_owned()
            }
        };
        let started = start_server(args, actions, &dir, &env, port).await;
        let (child, app_id, secret) = match started {
            Ok(started) => started,
            Err(err) => {
                clean_up(&dir, pg.as_ref()).await;
                return Err(err);
            }
        };
        let pid = child.id();
        let build = if cfg!(debug_assertions) {
            "DEBUG build: not production's figures"
        } else {
            "release build"
        };
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "livegate".to_owned());
        let mut server = Self {
            base,
            app_id,
            secret,
            pid: Some(pid),
            description: format!("spawned: {exe} serve (pid {pid}, {build}), {store}"),
            spawned: Some(Spawned { child, dir, pg }),
        };
        if let Err(err) = server.wait_ready().await {
            server.stop().await;
            return Err(err);
        }
        Ok(server)
    }

    /// Waits for `/readyz`; fails early, with the end of its log, when the server exits.
    async fn wait_ready(&mut self) -> Result<(), LoadtestError> {
        const LIMIT_S: u64 = 60;
        let deadline = Instant::now() + Duration::from_secs(LIMIT_S);
        let http = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(spawned) = &mut self.spawned {
                if let Ok(Some(status)) = spawned.child.try_wait() {
                    return Err(setup(
                        "livegate serve exited",
                        format!("{status}: {}", log_tail(&spawned.dir)),
                    ));
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let log = self
            .spawned
            .as_ref()
            .map(|s| log_tail(&s.dir))
            .unwrap_or_default();
        Err(LoadtestError::NotReady(LIMIT_S, log))
    }

    /// Stops what `--spawn` started and removes its folder and schema.
    async fn stop(&mut self) {
        let Some(mut spawned) = self.spawned.take() else {
            return;
        };
        let _ = spawned.child.kill();
        let _ = spawned.child.wait();
        clean_up(&spawned.dir, spawned.pg.as_ref()).await;
    }
}

/// The app, the scene, then `serve` on `port` in `dir`, its log in `dir/serve.log`.
async fn start_server(
    args: &LoadtestArgs,
    actions: &[ActionKind],
    dir: &Path,
    env: &[(String, String)],
    port: u16,
) -> Result<(Child, String, String), LoadtestError> {
    let config = args.config.config.as_deref();
    let (app_id, secret) = create_app_and_scene(dir, env, config, &args.scene, actions)?;
    let log = std::fs::File::create(dir.join(SERVE_LOG)).map_err(|e| setup("server log", e))?;
    let exe = std::env::current_exe().map_err(|e| setup("this binary", e))?;
    let mut serve = Command::new(&exe);
    serve
        .args(["serve", "--port", &port.to_string()])
        .current_dir(dir)
        .env_remove("LIVEGATE_STORE__URL")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(config) = config {
        serve.arg("--config").arg(config);
    }
    let child = serve
        .spawn()
        .map_err(|e| setup("starting livegate serve", e))?;
    Ok((child, app_id, secret))
}

const SERVE_LOG: &str = "serve.log";

/// The last lines of a spawned server's log (read before its folder is removed).
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join(SERVE_LOG)).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Removes a spawned server's folder and drops its schema.
async fn clean_up(dir: &Path, pg: Option<&(String, String)>) {
    if let Some((url, schema)) = pg {
        if let Err(err) = drop_schema(url, schema).await {
            eprintln!("livegate loadtest: could not drop schema {schema}: {err}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn setup(what: &'static str, err: impl std::fmt::Display) -> LoadtestError {
    LoadtestError::Setup {
        what,
        detail: err.to_string(),
    }
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "not found".to_owned())
}

/// `apps create` and `scenes set` through this binary, as an operator would.
fn create_app_and_scene(
    cwd: &Path,
    env: &[(String, String)],
    config: Option<&Path>,
    scene: &str,
    actions: &[ActionKind],
) -> Result<(String, String), LoadtestError> {
    let exe = std::env::current_exe().map_err(|e| setup("this binary", e))?;
    let run = |what: &'static str, args: &[&str]| -> Result<Vec<u8>, LoadtestError> {
        let mut command = Command::new(&exe);
        command
            .args(args)
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if env.iter().any(|(k, _)| k == "LIVEGATE_DATABASE_URL") {
            command.env_remove("LIVEGATE_STORE__URL");
        }
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let out = command.output().map_err(|e| setup(what, e))?;
        if !out.status.success() {
            return Err(setup(what, String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(out.stdout)
    };
    let created = run(
        "apps create",
        &["apps", "create", "--name", "livegate loadtest"],
    )?;
    let app: Value =
        serde_json::from_slice(&created).map_err(|e| setup("apps create's output", e))?;
    let (Some(app_id), Some(secret)) = (app["app_id"].as_str(), app["secret"].as_str()) else {
        return Err(setup("apps create's output", "no app_id or secret"));
    };
    let rules = cwd.join(format!(
        "livegate-loadtest-{}.json",
        Uuid::new_v4().simple()
    ));
    std::fs::write(&rules, scene_rules(actions).to_string()).map_err(|e| setup("scene file", e))?;
    let set = run(
        "scenes set",
        &[
            "scenes",
            "set",
            scene,
            "--file",
            &rules.display().to_string(),
        ],
    );
    let _ = std::fs::remove_file(&rules);
    set?;
    Ok((app_id.to_owned(), secret.to_owned()))
}

async fn pg_admin(url: &str) -> Result<tokio_postgres::Client, LoadtestError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Creates the schema; returns the URL that puts a pool's connections in it.
async fn create_schema(url: &str, schema: &str) -> Result<String, LoadtestError> {
    pg_admin(url)
        .await?
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await?;
    let mut scoped =
        url::Url::parse(url).map_err(|e| setup("LIVEGATE_DATABASE_URL is not a URL", e))?;
    scoped
        .query_pairs_mut()
        .append_pair("options", &format!("-csearch_path={schema}"));
    Ok(scoped.to_string())
}

async fn drop_schema(url: &str, schema: &str) -> Result<(), LoadtestError> {
    pg_admin(url)
        .await?
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    Ok(())
}

/// Runs the sessions while sampling the server and this tool; adds it all up.
async fn measure(
    args: &LoadtestArgs,
    server: &Server,
    clips: BTreeMap<ActionKind, Arc<Clip>>,
    media: &Path,
) -> Result<Report, LoadtestError> {
    let load = match args.rate {
        Some(per_second) => Load::Rate {
            per_second,
            max_in_flight: args.max_in_flight,
        },
        None => Load::Concurrency(args.concurrency.unwrap_or(2)),
    };
    let plan = Plan {
        load,
        window: Duration::from_secs(args.duration),
        drain: Duration::from_secs(args.drain),
    };
    // One line per clip, naming the actions it plays.
    let mut by_clip: BTreeMap<(&Path, u64), (Vec<&str>, &Clip)> = BTreeMap::new();
    for (action, clip) in &clips {
        by_clip
            .entry((clip.path.as_path(), clip.from_s.to_bits()))
            .or_insert_with(|| (Vec::new(), clip))
            .0
            .push(action.as_str());
    }
    let clip_lines = by_clip
        .values()
        .map(|(actions, clip)| {
            let rel = clip.path.strip_prefix(media).unwrap_or(&clip.path);
            format!(
                "{}: {} from {:.1} s ({} frames at {} fps, {}x{}, {} KB a frame)",
                actions.join(", "),
                rel.display(),
                clip.from_s,
                clip.frames.len(),
                args.fps,
                clip.size.0,
                clip.size.1,
                clip.mean_frame_bytes() / 1024
            )
        })
        .collect();
    let page = Arc::new(PageClient {
        base: server.base.clone(),
        app_id: server.app_id.clone(),
        secret: server.secret.clone(),
        scene: args.scene.clone(),
        http: reqwest::Client::new(),
        clips,
        period: Duration::from_secs_f64(1.0 / f64::from(args.fps)),
    });
    let server_sampler = server.pid.map(Sampler::start).transpose()?;
    let tool_sampler = Sampler::start(std::process::id())?;
    let driven = schedule::drive(plan, move |n| {
        let page = Arc::clone(&page);
        async move { page.session(n).await }
    })
    .await;
    let server_series = match server_sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    let tool_series = tool_sampler.finish().await;
    let info = RunInfo {
        target: server.base.clone(),
        server: server.description.clone(),
        load: match load {
            Load::Concurrency(n) => format!("concurrency {n} (closed loop)"),
            Load::Rate {
                per_second,
                max_in_flight,
            } => format!("rate {per_second}/s, at most {max_in_flight} in flight (open loop)"),
        },
        clips: clip_lines,
        window: plan.window,
        cpus: process::cpu_count(),
        mem_total: process::mem_total()?,
    };
    Ok(Report::new(info, &driven, server_series, Some(tool_series)))
}

/// One simulated H5 page (and its integrator), shared by every session of the run.
struct PageClient {
    base: String,
    app_id: String,
    secret: String,
    scene: String,
    http: reqwest::Client,
    clips: BTreeMap<ActionKind, Arc<Clip>>,
    period: Duration,
}

/// A session's failure, as the error kind the report counts.
struct Failed(String);

impl Failed {
    fn new(kind: impl Into<String>) -> Self {
        Self(kind.into())
    }
}

/// A session as created: its id and the link's token.
struct Created {
    id: Uuid,
    token: String,
}

/// How long a session may take from its hello to its result before the tool gives up on it.
const SESSION_LIMIT: Duration = Duration::from_secs(120);

impl PageClient {
    /// One whole session; never fails, its failure is in the outcome.
    async fn session(&self, n: u64) -> SessionOutcome {
        let mut outcome = SessionOutcome::default();
        if let Err(Failed(kind)) = self.session_into(n, &mut outcome).await {
            outcome.error = Some(kind);
        }
        outcome
    }

    async fn session_into(&self, n: u64, outcome: &mut SessionOutcome) -> Result<(), Failed> {
        let began = Instant::now();
        let created = self.create(n).await?;
        let challenge = self.challenge(&created).await?;
        let server_key = challenge["server_key"]
            .as_str()
            .ok_or_else(|| Failed::new("challenge_malformed"))?;
        let first_action = challenge["steps"][0]["action"]
            .as_str()
            .and_then(action_of)
            .ok_or_else(|| Failed::new("challenge_malformed"))?;
        let sealer = FrameSealer::new(created.id, rand::random(), server_key)
            .map_err(|_| Failed::new("bad_server_key"))?;
        let verdict = self
            .stream(&created, &sealer, first_action, outcome)
            .await?;
        outcome.duration = Some(began.elapsed());
        let result = self.final_result(created.id).await?;
        outcome.frames_received = result["frames"]["received"].as_u64();
        outcome.frames_analysed = result["frames"]["analysed"].as_u64();
        if !verdict.passed {
            let reason = verdict.reasons.first().map_or("none", String::as_str);
            // Which step it failed at says whether the clip or the server is to blame.
            let step = result["actions"].as_array().and_then(|steps| {
                steps
                    .iter()
                    .find(|s| s["passed"] == false)
                    .and_then(|s| s["action"].as_str())
            });
            return Err(Failed(match step {
                Some(step) => format!("failed_{reason}_at_{step}"),
                None => format!("failed_{reason}"),
            }));
        }
        if result["status"] != "passed" {
            return Err(Failed::new("result_disagrees_with_page"));
        }
        Ok(())
    }

    /// `POST /open/v1/sessions`, signed.
    async fn create(&self, n: u64) -> Result<Created, Failed> {
        let body = json!({"scene": self.scene, "biz_id": format!("loadtest-{n}-{}", Uuid::now_v7().simple())});
        let (status, answer) = self
            .open_api("POST", "/open/v1/sessions", Some(&body))
            .await
            .map_err(|_| Failed::new("create_unreachable"))?;
        if status != 201 {
            return Err(Failed(format!("create_http_{status}")));
        }
        let link = answer["h5_url"]
            .as_str()
            .and_then(|u| url::Url::parse(u).ok())
            .ok_or_else(|| Failed::new("create_malformed"))?;
        let mut id = None;
        let mut token = None;
        for (k, v) in link.query_pairs() {
            match k.as_ref() {
                "sid" => id = v.parse().ok(),
                "t" => token = Some(v.into_owned()),
                _ => {}
            }
        }
        match (id, token) {
            (Some(id), Some(token)) => Ok(Created { id, token }),
            _ => Err(Failed::new("create_malformed")),
        }
    }

    async fn challenge(&self, created: &Created) -> Result<Value, Failed> {
        let response = self
            .http
            .get(format!(
                "{}/h5/v1/sessions/{}/challenge",
                self.base, created.id
            ))
            .bearer_auth(&created.token)
            .send()
            .await
            .map_err(|_| Failed::new("challenge_unreachable"))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Failed(format!("challenge_http_{status}")));
        }
        response
            .json()
            .await
            .map_err(|_| Failed::new("challenge_malformed"))
    }

    /// The WebSocket from hello to result.
    async fn stream(
        &self,
        created: &Created,
        sealer: &FrameSealer,
        first_action: ActionKind,
        outcome: &mut SessionOutcome,
    ) -> Result<Verdict, Failed> {
        let url = format!(
            "{}/h5/v1/sessions/{}/ws?t={}",
            self.base.replacen("http", "ws", 1),
            created.id,
            created.token
        );
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|_| Failed::new("ws_connect"))?;
        let (mut sink, mut inbound) = socket.split();
        let hello = json!({
            "type": "hello",
            "suite": SUITE_X25519_CHACHA,
            "client_key": sealer.public_b64(),
            "resume": false,
            "client": {"user_agent": "livegate-loadtest", "camera_label": "clip"}
        });
        sink.send(Message::text(hello.to_string()))
            .await
            .map_err(|_| Failed::new("ws_send"))?;
        let deadline = Instant::now() + SESSION_LIMIT;
        let mut clip = self.clip(first_action)?;
        let mut clip_start = Instant::now();
        let mut ticks = tokio::time::interval(self.period);
        // A tool that falls behind does not burst: a late camera frame is simply not taken.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut ready = false;
        let mut seq = 0u64;
        let mut unacked: BTreeMap<u64, Instant> = BTreeMap::new();
        let mut acks = Latencies::new();
        let mut last_frame: Option<Instant> = None;
        let verdict = loop {
            tokio::select! {
                at = ticks.tick(), if ready => {
                    // The page keeps at most two frames unacknowledged.
                    if unacked.len() >= 2 {
                        outcome.frames_skipped += 1;
                        continue;
                    }
                    // Camera time runs on: the frame shown is the one of now, not the next one.
                    let index = (at.saturating_duration_since(clip_start).as_secs_f64()
                        / self.period.as_secs_f64()) as usize;
                    let jpeg = &clip.frames[index % clip.frames.len()];
                    seq += 1;
                    let header = FrameHeader { seq, capture_ms: unix_ms(), flash: 0 };
                    let sealed = sealer.seal(header, jpeg);
                    let sent = Instant::now();
                    sink.send(Message::binary(sealed))
                        .await
                        .map_err(|_| Failed::new("ws_send"))?;
                    unacked.insert(seq, sent);
                    last_frame = Some(sent);
                    outcome.frames_sent += 1;
                }
                message = inbound.next() => {
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(frame))) => {
                            let code = frame.map_or(1005, |f| u16::from(f.code));
                            return Err(Failed(format!("ws_close_{code}")));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(_)) | None => return Err(Failed::new("ws_dropped")),
                    };
                    let message: Value = serde_json::from_str(&text)
                        .map_err(|_| Failed::new("server_message_malformed"))?;
                    let kind = message["type"].as_str();
                    // A step shown: the person starts acting on it now (its clip from the top).
                    let step = match kind {
                        Some("step") => message["action"].as_str(),
                        Some("ready") => message["step"]["action"].as_str(),
                        _ => None,
                    };
                    if let Some(action) = step.and_then(action_of) {
                        clip = self.clip(action)?;
                        clip_start = Instant::now();
                    }
                    match kind {
                        Some("ready") => ready = true,
                        Some("ack") => {
                            let Some(acked) = message["seq"].as_u64() else { continue };
                            if let Some(sent) = unacked.remove(&acked) {
                                acks.record(sent.elapsed());
                            }
                            // Acks come in order: anything older will not be acknowledged.
                            unacked.retain(|s, _| *s > acked);
                        }
                        Some("result") => {
                            outcome.verdict_after_last_frame = last_frame.map(|t| t.elapsed());
                            break Verdict {
                                passed: message["passed"].as_bool().unwrap_or(false),
                                reasons: message["reasons"]
                                    .as_array()
                                    .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                                    .unwrap_or_default(),
                            };
                        }
                        Some("error") => {
                            let code = message["code"].as_u64().unwrap_or(0);
                            return Err(Failed(format!("ws_close_{code}")));
                        }
                        _ => {}
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Err(Failed::new("timeout")),
            }
        };
        outcome.acks = acks;
        let _ = sink.close().await;
        Ok(verdict)
    }

    fn clip(&self, action: ActionKind) -> Result<Arc<Clip>, Failed> {
        self.clips
            .get(&action)
            .cloned()
            .ok_or_else(|| Failed(format!("no_clip_for_{}", action.as_str())))
    }

    /// The integrator's read of the result, waiting briefly while it is still pending.
    async fn final_result(&self, id: Uuid) -> Result<Value, Failed> {
        let path = format!("/open/v1/sessions/{id}/result");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self
                .open_api("GET", &path, None)
                .await
                .map_err(|_| Failed::new("result_unreachable"))?;
            if status != 200 {
                return Err(Failed(format!("result_http_{status}")));
            }
            if body["status"] != "pending" {
                return Ok(body);
            }
            if Instant::now() >= deadline {
                return Err(Failed::new("result_still_pending"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A signed Open API call (docs/open-api.md §2); the status and the JSON body.
    async fn open_api(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        let nonce = Uuid::new_v4().simple().to_string();
        let canonical = signature::canonical_request(method, path, "", &timestamp, &nonce, &bytes);
        let signed = signature::sign(self.secret.as_bytes(), &canonical);
        let method = if method == "POST" {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(signature::HEADER_APP_ID, &self.app_id)
            .header(signature::HEADER_TIMESTAMP, timestamp)
            .header(signature::HEADER_NONCE, nonce)
            .header(signature::HEADER_SIGNATURE, signed);
        if body.is_some() {
            request = request
                .header("Content-Type", "application/json")
                .body(bytes);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let value = response.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }
}

/// What the page was told at the end.
struct Verdict {
    passed: bool,
    reasons: Vec<String>,
}

fn action_of(word: &str) -> Option<ActionKind> {
    serde_json::from_value(Value::String(word.to_owned())).ok()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(actions: &[ActionKind]) -> Option<&'static str> {
        PEOPLE
            .iter()
            .find(|p| {
                actions
                    .iter()
                    .all(|a| p.actions.iter().any(|(b, _)| b == a))
            })
            .map(|p| p.clip)
    }

    #[test]
    fn every_challenge_action_has_a_person_and_one_session_is_one_person() {
        for action in ActionKind::CHALLENGE {
            assert!(chosen(&[action]).is_some(), "{action:?}");
        }
        // The blink scene plays the blink clip; head actions with a blink play the one person
        // who does them all; a mouth with a head turn has no one person.
        assert_eq!(
            chosen(&[ActionKind::Blink]),
            Some("Blink-Detector_repeating/video.mp4")
        );
        assert_eq!(
            chosen(&[ActionKind::TurnLeft, ActionKind::Blink, ActionKind::Nod]),
            Some("face_anti_spoofing_tranvanluyt2203/real.mp4")
        );
        assert_eq!(chosen(&[ActionKind::MouthOpen, ActionKind::TurnLeft]), None);
    }

    #[test]
    fn the_scene_asks_for_every_action_once_with_time_for_each() {
        let rules = scene_rules(&[ActionKind::Blink, ActionKind::TurnLeft]);
        assert_eq!(rules["actions"]["pool"], json!(["blink", "turn_left"]));
        assert_eq!(rules["actions"]["count"], 2);
        assert_eq!(rules["timeouts"]["session_s"], 30);
        // The rules are a scene the server accepts.
        let parsed = crate::scenes::SceneRules::from_config(
            &rules,
            &livegate_actors::thresholds::QualityThresholds::default(),
        );
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
