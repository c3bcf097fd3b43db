//! `livegate attacks`: the attack battery (`docs/attacks.md`).
//!
//! Builds attack presentations from the real media folder (one module per species stager),
//! plays each to a session actor the way a recorded clip is played (every frame analysed, none
//! dropped: [`SessionHandle::analyse`]), and reads the session's own verdict: the same
//! `SessionLogic`, silent cues and injection cues as a live session, minus HTTP and sealing.
//! Each presentation is played to an action session (its challenge), a silent one and a
//! colour-flash one (`--modes`); for the colour session the page's side is simulated
//! ([`colour`]: the screen's light on the presentation, by its species' [`Staging`]).
//!
//! Prints a table in ISO/IEC 30107-3 terms (APCER per species, BPCER on the live clips, time
//! to decision), then one JSON line `{"attacks": {...}}`.
//!
//! ```text
//! stager (pixels, pure) -> JPEG frames -> SessionHandle::analyse ... end_recording -> outcome
//!                                          (SessionActor -> ModelPool -> SessionLogic)
//! ```

mod colour;
mod cutout;
mod deepfake;
mod injected;
mod live;
mod noise;
mod print;
mod replay;
mod screen;
pub mod stage;
mod swap;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;
use livegate_actors::actions::ActionKind;
use livegate_actors::actor::{PoolConfig, PoolHandle, SessionHandle, SessionOptions};
use livegate_actors::flash::colour_only_session;
use livegate_actors::injection::SeenFrames;
use livegate_actors::session::SessionConfig;
use livegate_models::flash::sim::Staging;
use livegate_models::media::{open_media, open_video, Media, MediaLimits, VideoOptions};
use livegate_models::{Analyzer, AnalyzerConfig, EngineError, FaceEngine, ModelRegistry};
use serde_json::{json, Value};

/// Frames a second the page sends (the battery samples every clip at this rate).
pub const FPS: f64 = 15.0;
/// JPEG quality of the frames, as the page's 0.8.
const JPEG_QUALITY: u8 = 80;
/// Longest stretch of a clip played: a 10 s step after settling, with room for three steps.
const MAX_CLIP_S: f64 = 14.0;

/// `livegate attacks`.
#[derive(Debug, Clone, Args)]
pub struct AttacksArgs {
    /// The real-media folder (docs/attacks.md lists what the battery takes from it).
    #[arg(long, value_name = "DIR", env = "LIVEGATE_TEST_MEDIA")]
    pub media: Option<PathBuf>,
    /// The model files (default: models.dir of the configuration).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Only these species, comma-separated (see `--species list`).
    #[arg(long, value_delimiter = ',')]
    pub species: Vec<String>,
    /// At most this many presentations per species.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Only presentations whose source names one of these, comma-separated (for example
    /// `d18,tranvanluyt`).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The sessions each presentation is played to, comma-separated.
    #[arg(long, value_delimiter = ',', default_values = ["action", "silent", "colour"])]
    pub modes: Vec<SessionKind>,
}

/// A kind of session the battery plays presentations to (a column of the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum SessionKind {
    /// The presentation's challenge of actions.
    Action,
    /// No action: silent liveness decides.
    Silent,
    /// A `colour`-only scene's session: the colour flash decides (the page simulated).
    Colour,
}

impl SessionKind {
    /// Its name in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            SessionKind::Action => "action",
            SessionKind::Silent => "silent",
            SessionKind::Colour => "colour",
        }
    }
}

/// Which presentations a stager makes: at most `limit`, and only those named by `only`.
#[derive(Debug, Clone)]
pub struct Pick {
    limit: usize,
    only: Vec<String>,
    taken: usize,
}

impl Pick {
    /// A pick of at most `limit`, among sources containing one of `only` (all when empty).
    pub fn new(limit: usize, only: Vec<String>) -> Self {
        Self {
            limit,
            only,
            taken: 0,
        }
    }

    /// Whether to stage the presentation made from `source` (counted when so).
    pub fn wants(&mut self, source: &str) -> bool {
        let named = self.only.is_empty() || self.only.iter().any(|o| source.contains(o.as_str()));
        if !named || self.taken >= self.limit {
            return false;
        }
        self.taken += 1;
        true
    }
}

/// `livegate attacks` with its configuration file.
#[derive(Debug, Clone, Args)]
pub struct AttacksCommand {
    /// What to run.
    #[command(flatten)]
    pub attacks: AttacksArgs,
    /// The configuration file (models.dir).
    #[command(flatten)]
    pub config: crate::cli::ConfigArgs,
}

/// Why the battery could not run (a presentation's own failure is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum AttacksError {
    /// No media folder.
    #[error("no media: give --media DIR or set LIVEGATE_TEST_MEDIA to the real-media folder")]
    NoMedia,
    /// A species name that is not one.
    #[error("unknown species {0:?} (one of: {list})", list = Species::names().join(", "))]
    UnknownSpecies(String),
    /// The models or a media file could not be read.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A frame could not be encoded or decoded.
    #[error("jpeg: {0}")]
    Encode(#[from] image::ImageError),
    /// The model pool or a session could not start.
    #[error("{0}")]
    Session(String),
    /// Writing the table failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// The species of presentation the battery stages, attacks and bona fide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Species {
    /// A printed photo held up and moved (a live still as a plane in 3-D, paper and light).
    PrintMoved,
    /// A printed photo with the eyes cut out, a live person's blinking eyes behind it.
    CutoutEyes,
    /// A live clip shown on a screen held to the camera (gamma, bezel, moiré, banding).
    ScreenReplay,
    /// The media folder's own replay clips (screens filmed by a camera).
    ReplayClips,
    /// A recorded session (challenge A done) injected into a new session asking for B.
    InjectedSession,
    /// One person settles, another does the action.
    PersonSwap,
    /// Deepfake clips and a GAN-made still, injected as the camera's stream.
    Deepfake,
    /// Moved prints and replays with adversarial-style noise on every frame.
    AdversarialNoise,
    /// Bona fide: every real-person clip.
    Live,
}

impl Species {
    /// Every species, in the table's order.
    pub const ALL: [Species; 9] = [
        Species::PrintMoved,
        Species::CutoutEyes,
        Species::ScreenReplay,
        Species::ReplayClips,
        Species::InjectedSession,
        Species::PersonSwap,
        Species::Deepfake,
        Species::AdversarialNoise,
        Species::Live,
    ];

    /// The name on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Species::PrintMoved => "print_moved",
            Species::CutoutEyes => "cutout_eyes",
            Species::ScreenReplay => "screen_replay",
            Species::ReplayClips => "replay_clips",
            Species::InjectedSession => "injected_session",
            Species::PersonSwap => "person_swap",
            Species::Deepfake => "deepfake",
            Species::AdversarialNoise => "adversarial_noise",
            Species::Live => "live",
        }
    }

    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|s| s.name()).collect()
    }

    /// Whether the species is bona fide (its errors are BPCER, not APCER).
    pub fn bona_fide(self) -> bool {
        self == Species::Live
    }

    /// How a phone screen's colour flash reaches the species' presentations (simulated; see
    /// [`Presentation::flash`]): a head is lit by the session's sequence, shaded by its shape;
    /// paper is lit evenly; a screen's own light drowns the flash but for its glass's trace;
    /// an injected stream is not lit at all.
    pub fn flash_staging(self) -> Option<Staging> {
        match self {
            // Paper held to the phone: the cut-out's eye holes are too small to matter to the
            // skin patches (forehead, nose, cheeks), which are paper.
            Species::PrintMoved | Species::CutoutEyes => Some(Staging::FlatPhoto),
            Species::ScreenReplay | Species::ReplayClips => Some(Staging::NoReaction),
            // The recorded session's light: lit live by ITS sequence, then replayed.
            Species::InjectedSession => Some(Staging::Live),
            // Two real people in front of the phone, one after the other.
            Species::PersonSwap | Species::Live => Some(Staging::Live),
            // A virtual camera's frames: the screen's light never reaches them.
            Species::Deepfake => None,
            // As their sources (prints or replays): each stager says which.
            Species::AdversarialNoise => Some(Staging::FlatPhoto),
        }
    }
}

/// One presentation: frames as the page would send them, and the challenge an action session
/// asks of it.
pub struct Presentation {
    /// Its species.
    pub species: Species,
    /// What it was made from.
    pub name: String,
    /// Capture time and JPEG bytes, at [`FPS`].
    pub frames: Vec<(f64, Vec<u8>)>,
    /// The action session's challenge.
    pub challenge: Vec<ActionKind>,
    /// For an injected session: the challenge of the session it was recorded in, played first
    /// on the same node (its frames then count as seen).
    pub recorded_under: Option<Vec<ActionKind>>,
    /// How the colour session's page lights its frames (the simulator's [`Staging`]: the
    /// presentation's own frames, lit; `FlatPhoto` lights them evenly as a sheet, without
    /// the simulator's own warp), or `None`: sent as they are. For an injected session it is
    /// the light of the session it was recorded in, whose lit frames are then replayed.
    pub flash: Option<Staging>,
}

/// The JPEG of a frame, as the page encodes it.
pub fn jpeg(frame: &RgbImage) -> Result<Vec<u8>, AttacksError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(frame)?;
    Ok(out)
}

/// A clip's frames from its start, fitted into [`stage::FIT`], sampled at [`FPS`], for at most
/// `max_s` seconds; times from 0.
pub fn load_clip(path: &Path, max_s: f64) -> Result<Vec<(f64, RgbImage)>, AttacksError> {
    let reader = open_video(
        path,
        &VideoOptions {
            fit: Some(stage::FIT),
            max_frames: None,
        },
    )?;
    let period = 1.0 / FPS;
    let mut next_t = 0.0;
    let mut first_t = None;
    let mut out = Vec::new();
    for frame in reader {
        let frame = frame?;
        let t = frame.t - *first_t.get_or_insert(frame.t);
        if t > max_s {
            break;
        }
        // A small tolerance keeps a 30 fps clip from losing a tick to rounding.
        if t + 1e-3 < next_t {
            continue;
        }
        next_t += period;
        out.push((out.len() as f64 * period, frame.image));
    }
    if out.is_empty() {
        return Err(EngineError::BadVideo(format!("{}: no frames", path.display())).into());
    }
    Ok(out)
}

/// A still image, oriented and fitted into [`stage::FIT`].
pub fn load_still(path: &Path) -> Result<RgbImage, AttacksError> {
    match open_media(
        path,
        &VideoOptions {
            fit: Some(stage::FIT),
            max_frames: None,
        },
        &MediaLimits::default(),
    )? {
        Media::Image(image) => Ok(image),
        Media::Video(_) => {
            Err(EngineError::BadImage(format!("{}: not a still", path.display())).into())
        }
    }
}

/// Frames at [`FPS`] for `seconds`, each made by `frame(t)` and encoded.
pub fn staged(
    seconds: f64,
    mut frame: impl FnMut(usize, f64) -> Result<RgbImage, AttacksError>,
) -> Result<Vec<(f64, Vec<u8>)>, AttacksError> {
    let n = (seconds * FPS).round() as usize;
    (0..n)
        .map(|k| {
            let t = k as f64 / FPS;
            Ok((t, jpeg(&frame(k, t)?)?))
        })
        .collect()
}

/// Encodes a clip's frames.
pub fn encoded(frames: &[(f64, RgbImage)]) -> Result<Vec<(f64, Vec<u8>)>, AttacksError> {
    frames.iter().map(|(t, f)| Ok((*t, jpeg(f)?))).collect()
}

/// How one session of a presentation ended.
#[derive(Debug, Clone)]
pub struct Played {
    /// Whether the session accepted the presentation as live.
    pub accepted: bool,
    /// Its reasons.
    pub reasons: Vec<String>,
    /// Seconds of frames (capture time) until the decision.
    pub decision_s: f64,
    /// The silent and injection scores.
    pub scores: Value,
}

/// Where the battery plays its sessions.
struct Bench {
    pool: PoolHandle,
    /// The colour sessions' pages' own face engine (for the mesh that shades a lit head);
    /// `None` when no colour session is played.
    lamp_engine: Option<colour::SharedEngine>,
}

/// What a colour session is sent: the frames and how its page treats them.
struct ColourPlay<'a> {
    frames: &'a [(f64, Vec<u8>)],
    staging: Option<Staging>,
    seed: u64,
    /// Light and keep every frame, past the session's decision (a recording made in it).
    record_all: bool,
}

impl Bench {
    /// Starts a session of `config` on the node whose seen-frames set is `seen`.
    async fn start(
        &self,
        config: SessionConfig,
        seen: &Arc<SeenFrames>,
    ) -> Result<SessionHandle, AttacksError> {
        let options = SessionOptions {
            seen_frames: Some(Arc::clone(seen)),
            ..SessionOptions::default()
        };
        SessionHandle::start(config, self.pool.clone(), options)
            .await
            .map_err(|e| AttacksError::Session(e.to_string()))
    }

    /// Plays `frames` to a new session of `config`; `seen` is the node's seen-frames set.
    async fn play(
        &self,
        config: SessionConfig,
        frames: &[(f64, Vec<u8>)],
        seen: &Arc<SeenFrames>,
    ) -> Result<Played, AttacksError> {
        let handle = self.start(config, seen).await?;
        let mut decision_s = frames.last().map_or(0.0, |(t, _)| *t);
        for (t, bytes) in frames {
            let finished = handle
                .analyse(*t, bytes.clone())
                .await
                .map_err(|e| AttacksError::Session(e.to_string()))?;
            if finished {
                decision_s = *t;
                break;
            }
        }
        Self::ended(&handle, decision_s).await
    }

    /// Plays a colour session of `sequence`: the page (simulated) hears the session ask for the
    /// flash, then tags and lights the frames. Returns how it ended and the frames it sent.
    async fn play_colour(
        &self,
        sequence: Vec<livegate_models::flash::FlashStep>,
        play: ColourPlay<'_>,
        seen: &Arc<SeenFrames>,
    ) -> Result<(Played, Vec<(f64, Vec<u8>)>), AttacksError> {
        let engine = self
            .lamp_engine
            .clone()
            .ok_or_else(|| AttacksError::Session("no engine for the colour sessions".into()))?;
        let mut page = colour::ColourPage::new(&sequence, play.staging, play.seed, engine);
        let handle = self.start(colour_only_session(sequence), seen).await?;
        let mut events = handle.subscribe();
        let mut decision = None;
        let mut sent = Vec::with_capacity(play.frames.len());
        for (t, bytes) in play.frames {
            page.hear(&mut events);
            // Decoding, lighting and the mesh are blocking work: off the runtime's threads.
            let (t, bytes) = (*t, bytes.clone());
            let (back, lit) = tokio::task::spawn_blocking(move || {
                let lit = page.frame(t, &bytes);
                (page, lit)
            })
            .await
            .map_err(|e| AttacksError::Session(format!("lighting a frame: {e}")))?;
            page = back;
            let (tag, lit) = lit?;
            if decision.is_none() {
                let finished = handle
                    .analyse_tagged(t, lit.clone(), tag)
                    .await
                    .map_err(|e| AttacksError::Session(e.to_string()))?;
                if finished {
                    decision = Some(t);
                }
            }
            sent.push((t, lit));
            if decision.is_some() && !play.record_all {
                break;
            }
        }
        let last = play.frames.last().map_or(0.0, |(t, _)| *t);
        let played = Self::ended(&handle, decision.unwrap_or(last)).await?;
        Ok((played, sent))
    }

    /// Ends a played session (a step still open times out) and reads its outcome.
    async fn ended(handle: &SessionHandle, decision_s: f64) -> Result<Played, AttacksError> {
        let verdict = handle
            .end_recording()
            .await
            .map_err(|e| AttacksError::Session(e.to_string()))?;
        let outcome = handle
            .outcome()
            .await
            .map_err(|e| AttacksError::Session(e.to_string()))?;
        let _ = handle.finish().await;
        let scores = outcome.map_or(Value::Null, |o| {
            let mut scores = json!({
                "silent": o.cues.silent.map(|s| s.scores),
                "injection": o.cues.injection,
            });
            if let Some(flash) = o.cues.flash {
                scores["flash"] = json!(flash);
            }
            scores
        });
        Ok(Played {
            accepted: verdict.passed,
            reasons: verdict
                .reasons
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            decision_s,
            scores,
        })
    }

    /// Plays a presentation to one session of `kind`.
    async fn run(&self, p: &Presentation, kind: SessionKind) -> Result<Played, AttacksError> {
        // Each presentation has a node of its own, except that an injected session's node saw
        // the session it was recorded in.
        let seen = Arc::new(SeenFrames::for_node());
        match kind {
            SessionKind::Action | SessionKind::Silent => {
                let config = |challenge: &[ActionKind]| match kind {
                    SessionKind::Silent => SessionConfig::silent(),
                    _ => SessionConfig::new(challenge.to_vec()),
                };
                if let Some(recorded) = &p.recorded_under {
                    self.play(config(recorded), &p.frames, &seen).await?;
                }
                self.play(config(&p.challenge), &p.frames, &seen).await
            }
            SessionKind::Colour => {
                let asked = colour::sequence(colour::seed(&p.name, 0))?;
                if p.recorded_under.is_none() {
                    let play = ColourPlay {
                        frames: &p.frames,
                        staging: p.flash,
                        seed: colour::seed(&p.name, 1),
                        record_all: false,
                    };
                    return Ok(self.play_colour(asked, play, &seen).await?.0);
                }
                // The recorded session flashed its own sequence on the person; its frames,
                // lit by it, are fed to the new session, whose page tags them with its own.
                let recorded = colour::sequence(colour::seed(&p.name, 2))?;
                let play = ColourPlay {
                    frames: &p.frames,
                    staging: p.flash,
                    seed: colour::seed(&p.name, 3),
                    record_all: true,
                };
                let (_, recording) = self.play_colour(recorded, play, &seen).await?;
                let play = ColourPlay {
                    frames: &recording,
                    staging: None,
                    seed: colour::seed(&p.name, 1),
                    record_all: false,
                };
                Ok(self.play_colour(asked, play, &seen).await?.0)
            }
        }
    }
}

/// One row's figures for one mode.
#[derive(Debug, Default, Clone)]
struct Tally {
    n: usize,
    accepted: usize,
    decision_s: Vec<f64>,
    reasons: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, p: &Played) {
        self.n += 1;
        if p.accepted {
            self.accepted += 1;
        }
        self.decision_s.push(p.decision_s);
        for r in &p.reasons {
            *self.reasons.entry(r.clone()).or_default() += 1;
        }
    }

    /// The error rate: accepted attacks (APCER), or refused bona fide presentations (BPCER).
    fn errors(&self, bona_fide: bool) -> usize {
        if bona_fide {
            self.n - self.accepted
        } else {
            self.accepted
        }
    }

    fn median_s(&self) -> Option<f64> {
        let mut v = self.decision_s.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    fn json(&self, bona_fide: bool) -> Value {
        let errors = self.errors(bona_fide);
        let rate = if self.n == 0 {
            Value::Null
        } else {
            json!(round3(errors as f64 / self.n as f64))
        };
        json!({
            "presentations": self.n,
            "accepted": self.accepted,
            if bona_fide { "bpcer" } else { "apcer" }: rate,
            "median_decision_s": self.median_s().map(round3),
            "reasons": self.reasons,
        })
    }

    fn cell(&self, bona_fide: bool) -> String {
        if self.n == 0 {
            return "–".into();
        }
        let e = self.errors(bona_fide);
        format!(
            "{} {e}/{} = {:.0}%",
            if bona_fide { "BPCER" } else { "APCER" },
            self.n,
            100.0 * e as f64 / self.n as f64
        )
    }

    fn top_reasons(&self) -> String {
        let mut v: Vec<(&String, &usize)> = self.reasons.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let s: Vec<String> = v.iter().take(3).map(|(r, n)| format!("{r} {n}")).collect();
        if s.is_empty() {
            "–".into()
        } else {
            s.join(", ")
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The species asked for.
fn chosen(args: &AttacksArgs) -> Result<Vec<Species>, AttacksError> {
    if args.species.is_empty() {
        return Ok(Species::ALL.to_vec());
    }
    args.species
        .iter()
        .map(|name| {
            Species::ALL
                .iter()
                .copied()
                .find(|s| s.name() == name.trim())
                .ok_or_else(|| AttacksError::UnknownSpecies(name.clone()))
        })
        .collect()
}

/// The presentations of one species (at most `limit`).
fn stage_species(
    species: Species,
    media: &Path,
    registry: &ModelRegistry,
    mut pick: Pick,
) -> Result<Vec<Presentation>, AttacksError> {
    let pick = &mut pick;
    match species {
        Species::PrintMoved => print::stage(media, pick),
        Species::CutoutEyes => cutout::stage(media, registry, pick),
        Species::ScreenReplay => screen::stage(media, pick),
        Species::ReplayClips => replay::stage(media, pick),
        Species::InjectedSession => injected::stage(media, pick),
        Species::PersonSwap => swap::stage(media, pick),
        Species::Deepfake => deepfake::stage(media, pick),
        Species::AdversarialNoise => noise::stage(media, pick),
        Species::Live => live::stage(media, pick),
    }
}

/// Runs the battery: stages every species asked for, plays each presentation, prints the table
/// and the JSON line to `out` (progress goes to stderr).
pub async fn run(
    args: &AttacksArgs,
    models_dir: &Path,
    out: &mut (impl std::io::Write + Send),
) -> Result<(), AttacksError> {
    let species = chosen(args)?;
    let media = args.media.clone().ok_or(AttacksError::NoMedia)?;
    let registry = ModelRegistry::open(models_dir)?;
    // One worker: the battery plays one session at a time, frame after frame.
    let pool = PoolHandle::start(
        crate::models::engine_factory(registry.clone()),
        PoolConfig {
            workers: 1,
            queue_capacity: 16,
        },
    )
    .await
    .map_err(|e| AttacksError::Session(format!("model pool: {e}")))?;
    let modes = chosen_modes(args);
    let lamp_engine = if modes.contains(&SessionKind::Colour) {
        let engine: Box<dyn FaceEngine> =
            Box::new(Analyzer::new(&registry, AnalyzerConfig::from_env()?)?);
        Some(Arc::new(std::sync::Mutex::new(engine)))
    } else {
        None
    };
    let bench = Bench { pool, lamp_engine };
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut rows: Vec<(Species, Vec<Tally>)> = Vec::new();
    for s in species {
        let media = media.clone();
        let registry = registry.clone();
        let pick = Pick::new(limit, args.only.clone());
        // Staging decodes clips and warps pixels: blocking work, off the runtime's threads.
        let presentations =
            tokio::task::spawn_blocking(move || stage_species(s, &media, &registry, pick))
                .await
                .map_err(|e| AttacksError::Session(format!("staging {}: {e}", s.name())))??;
        let mut tallies = vec![Tally::default(); modes.len()];
        for p in &presentations {
            let mut line = format!("{} {}:", s.name(), p.name);
            for (kind, tally) in modes.iter().zip(tallies.iter_mut()) {
                let played = bench.run(p, *kind).await?;
                let _ = write!(
                    line,
                    " {} {} {:?} at {:.1} s {};",
                    kind.name(),
                    if played.accepted {
                        "accepted"
                    } else {
                        "refused"
                    },
                    played.reasons,
                    played.decision_s,
                    played.scores,
                );
                tally.add(&played);
            }
            eprintln!("{}", line.trim_end_matches(';'));
        }
        rows.push((s, tallies));
    }
    bench.pool.stop().await;
    write_report(&modes, &rows, out)?;
    Ok(())
}

/// The session kinds asked for, each once, in the table's order.
fn chosen_modes(args: &AttacksArgs) -> Vec<SessionKind> {
    let mut modes = args.modes.clone();
    modes.sort();
    modes.dedup();
    modes
}

fn write_report(
    modes: &[SessionKind],
    rows: &[(Species, Vec<Tally>)],
    out: &mut impl std::io::Write,
) -> Result<(), AttacksError> {
    let names: Vec<&str> = modes.iter().map(|m| m.name()).collect();
    let mut table = String::from("| species | presentations |");
    for name in &names {
        let _ = write!(table, " {name} session |");
    }
    let _ = write!(table, " median time to decision ({}) |", names.join(" / "));
    for name in &names {
        let _ = write!(table, " reasons ({name}) |");
    }
    let _ = writeln!(table);
    let _ = writeln!(table, "|---|---|{}", "---|".repeat(2 * modes.len() + 1));
    let mut json_rows = serde_json::Map::new();
    for (s, tallies) in rows {
        let bf = s.bona_fide();
        let median = |t: &Tally| t.median_s().map_or("–".into(), |m| format!("{m:.1} s"));
        let n = tallies.first().map_or(0, |t| t.n);
        let _ = write!(table, "| {} | {n} |", s.name());
        for t in tallies {
            let _ = write!(table, " {} |", t.cell(bf));
        }
        let medians: Vec<String> = tallies.iter().map(median).collect();
        let _ = write!(table, " {} |", medians.join(" / "));
        for t in tallies {
            let _ = write!(table, " {} |", t.top_reasons());
        }
        let _ = writeln!(table);
        let mut row = serde_json::Map::new();
        row.insert("bona_fide".into(), json!(bf));
        for (kind, t) in modes.iter().zip(tallies) {
            row.insert(kind.name().into(), t.json(bf));
        }
        json_rows.insert(s.name().into(), Value::Object(row));
    }
    write!(out, "{table}")?;
    writeln!(out, "{}", json!({ "attacks": json_rows }))?;
    out.flush()?;
    Ok(())
}

/// The media clips `rels` (those the pick wants and the folder has) played as the camera's
/// stream, each a presentation of `species` asking the challenge `challenge_of` gives its clip.
pub fn clips_as_stream(
    media: &Path,
    pick: &mut Pick,
    rels: &[&str],
    species: Species,
    challenge_of: impl Fn(&str) -> Vec<ActionKind>,
) -> Result<Vec<Presentation>, AttacksError> {
    let mut out = Vec::new();
    for rel in rels {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        out.push(Presentation {
            species,
            name: (*rel).to_owned(),
            frames: encoded(&load_clip(&path, MAX_CLIP_S)?)?,
            challenge: challenge_of(rel),
            recorded_under: None,
            flash: species.flash_staging(),
        });
    }
    Ok(out)
}

/// The media file `rel`, or `None` (reported, not counted) when the folder lacks it.
pub fn media_file(media: &Path, rel: &str) -> Option<PathBuf> {
    let path = media.join(rel);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("missing, not counted: {rel}");
        None
    }
}
