//! `livegate analyze PATH`: the engine over one video or image, as JSON lines.
//!
//! One line per event (an action seen, a prompt raised) with its time in seconds, then a last
//! `{"summary": {...}}` line. The same models and the same session logic as live sessions, in
//! observe mode (`livegate_actors::observe`): no challenge, every action and prompt counted.
//! With `--verdict`, silent liveness (`livegate_models::silent`) listens to every analysed
//! frame and a last `{"verdict": {...}}` line follows the summary.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use image::RgbImage;
use livegate_actors::observe::{observe_frames, observe_still};
use livegate_actors::session::ObservedEvent;
use livegate_actors::thresholds::QualityThresholds;
use livegate_models::embedding::DlibIdentity;
use livegate_models::media::{open_media, Media, MediaLimits, VideoOptions};
use livegate_models::silent::SilentLiveness;
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, EngineError, FaceEngine, FrameAnalysis, ModelRegistry,
    TrackState,
};
use serde_json::json;

/// `livegate analyze`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// A video (mp4/H.264, MPEG-1/2, webm/VP8/VP9, mov) or an image (JPEG, PNG).
    pub path: PathBuf,
    /// Scale frames down so that they fit inside WxH (a phone's stream is 480x640 or less).
    #[arg(long, value_name = "WxH", default_value = "640x640", value_parser = parse_fit)]
    pub fit: (u32, u32),
    /// The model files (default: models.dir of the configuration).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Run silent liveness too and end with a `{"verdict": {...}}` line (docs/attacks.md).
    #[arg(long)]
    pub verdict: bool,
}

/// The engine with silent liveness, when asked for, listening to every frame it analyses.
struct Listened<'a> {
    engine: &'a mut Analyzer,
    silent: Option<SilentLiveness>,
}

impl FaceEngine for Listened<'_> {
    fn analyze(
        &mut self,
        frame: &RgbImage,
        t: f64,
        track: &mut TrackState,
        needs: AnalysisNeeds,
    ) -> Result<FrameAnalysis, EngineError> {
        let analysis = self.engine.analyze(frame, t, track, needs)?;
        if let Some(silent) = self.silent.as_mut() {
            silent.observe(&analysis, Some(frame));
        }
        Ok(analysis)
    }
}

fn parse_fit(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("expected WxH such as 480x640, got {s:?}"))?;
    let side = |v: &str| match v.parse::<u32>() {
        Ok(n) if (16..=4096).contains(&n) => Ok(n),
        _ => Err(format!("each side must be 16..=4096 pixels, got {s:?}")),
    };
    Ok((side(w)?, side(h)?))
}

/// Why `analyze` stopped.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The models could not be loaded, or the input cannot be read or is not something the
    /// engine takes.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// Writing the JSON lines failed (for example a closed pipe).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs the engine over `args.path`, writing JSON lines to `out`.
pub fn run(
    args: &AnalyzeArgs,
    models_dir: &Path,
    thresholds: &QualityThresholds,
    out: &mut impl Write,
) -> Result<(), AnalyzeError> {
    let options = VideoOptions {
        fit: Some(args.fit),
        max_frames: None,
    };
    let media = open_media(&args.path, &options, &MediaLimits::default())?;
    let registry = ModelRegistry::open(models_dir)?;
    let mut analyzer = Analyzer::new(&registry, AnalyzerConfig::from_env()?)?;
    let mut engine = Listened {
        engine: &mut analyzer,
        silent: args.verdict.then(SilentLiveness::new),
    };

    // Events are written as they happen; the first write error is kept and stops the output.
    let mut write_error = None;
    let mut emit = |event: &ObservedEvent| {
        if write_error.is_none() {
            let line = serde_json::to_string(event).map_err(std::io::Error::other);
            if let Err(e) = line.and_then(|l| writeln!(out, "{l}")) {
                write_error = Some(e);
            }
        }
    };
    let summary = match media {
        Media::Image(image) => observe_still(&mut engine, &image, thresholds, &mut emit)?,
        Media::Video(video) => {
            let mut identity = DlibIdentity::open(&registry)?;
            let frames = video.map(|f| f.map(|f| (f.t, f.image)));
            observe_frames(&mut engine, &mut identity, frames, thresholds, &mut emit)?
        }
    };
    if let Some(e) = write_error {
        return Err(e.into());
    }
    writeln!(out, "{}", json!({ "summary": summary }))?;
    if let Some(silent) = engine.silent.as_ref() {
        writeln!(out, "{}", json!({ "verdict": silent.verdict() }))?;
    }
    out.flush()?;
    Ok(())
}
