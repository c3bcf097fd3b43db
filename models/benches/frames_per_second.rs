//! Analysed frames per second on one core over real clips scaled to 480x640.
//!
//! `cargo bench -p livegate-models` (needs LIVEGATE_TEST_MEDIA and the model files). Prints, per
//! clip and in total: frames per second with and without decode (by CPU time of this process, so
//! a busy machine slows it less than by wall time), p50/p95 engine latency per frame, and the peak
//! resident memory of the process (VmHWM). Everything runs on one thread: one model worker.
//!
//! Then one identity embedding (dlib: 5-point alignment, chip, ResNet) against one mesh frame,
//! by CPU time, on the main face of every 10th frame of the same clips: what one continuity
//! sample costs a session, in frames of analysis.

#[path = "../tests/common/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::time::Instant;

use livegate_models::embedding::DlibIdentity;
use livegate_models::iris::IrisReuse;
use livegate_models::media::{open_video, VideoOptions};
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, FaceEngine, IdentityEngine, ModelRegistry, TrackState,
};

const CLIPS: [&str; 4] = [
    "Blink-Detector_repeating/video.mp4",
    "face_anti_spoofing_tranvanluyt2203/real.mp4",
    "eulerian-remote-heartrate-detection/face.mp4",
    "LivePortrait/d18.mp4",
];

/// Peak resident memory of this process in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Figures {
    frames: usize,
    decode_cpu: f64,
    engine_cpu: f64,
    engine_ms: Vec<f64>,
}

fn run_clip(engine: &mut Analyzer, path: &Path, needs: AnalysisNeeds) -> Figures {
    let opts = VideoOptions {
        fit: Some((480, 640)),
        max_frames: None,
    };
    let mut video = open_video(path, &opts).expect("clip opens");
    let mut track = TrackState::default();
    let mut f = Figures {
        frames: 0,
        decode_cpu: 0.0,
        engine_cpu: 0.0,
        engine_ms: Vec::new(),
    };
    loop {
        let c0 = process::cpu_seconds();
        let Some(frame) = video.next() else { break };
        let frame = frame.expect("frame decodes");
        let c1 = process::cpu_seconds();
        let w0 = Instant::now();
        engine
            .analyze(&frame.image, frame.t, &mut track, needs)
            .expect("frame analysed");
        f.engine_ms.push(w0.elapsed().as_secs_f64() * 1e3);
        let c2 = process::cpu_seconds();
        f.decode_cpu += c1 - c0;
        f.engine_cpu += c2 - c1;
        f.frames += 1;
    }
    f
}

fn main() {
    let Some(media) = std::env::var_os("LIVEGATE_TEST_MEDIA").map(PathBuf::from) else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is not set");
        return;
    };
    let registry = ModelRegistry::open_default().expect("models in place");
    let mut engine = Analyzer::new(&registry, AnalyzerConfig::default()).expect("engine loads");
    let never = AnalyzerConfig {
        iris_reuse: IrisReuse::NEVER,
        ..AnalyzerConfig::default()
    };
    let mut every_run = Analyzer::new(&registry, never).expect("engine loads");
    // Eyes on every frame is the worst case (`analyze`, or a blink step); a session refines the
    // eyes only while it needs them (turns, nods, mouth and the quality prompts need the mesh).
    // The iris model runs only where the eyes changed since its last reading, unless `no_reuse`.
    let mut report = serde_json::Map::new();
    for (mode, eyes) in [
        ("eyes_every_frame", true),
        ("eyes_every_frame_no_reuse", true),
        ("mesh_only", false),
    ] {
        let needs = AnalysisNeeds {
            eyes,
            detect: false,
        };
        println!("\n{mode}");
        let engine = if mode.ends_with("no_reuse") {
            &mut every_run
        } else {
            &mut engine
        };
        report.insert(mode.into(), run_mode(engine, &media, needs));
    }
    let mut identity = DlibIdentity::open(&registry).expect("dlib models load");
    report.insert(
        "embedding".into(),
        run_embeddings(&mut engine, &mut identity, &media),
    );
    println!(
        "peak RSS: {:.0} MB (one worker: models, decoder, frames)",
        peak_rss_mb()
    );
    report.insert("peak_rss_mb".into(), peak_rss_mb().into());
    println!("{}", serde_json::Value::Object(report));
}

/// One table over every clip with these needs; returns the totals as JSON.
fn run_mode(engine: &mut Analyzer, media: &Path, needs: AnalysisNeeds) -> serde_json::Value {
    println!(
        "{:<46} {:>6} {:>10} {:>10} {:>8} {:>8}",
        "clip (480x640)", "frames", "fps+dec", "fps", "p50 ms", "p95 ms"
    );
    let mut all = Figures {
        frames: 0,
        decode_cpu: 0.0,
        engine_cpu: 0.0,
        engine_ms: Vec::new(),
    };
    for clip in CLIPS {
        let path = media.join(clip);
        if !path.is_file() {
            eprintln!("skipped {clip}: not in LIVEGATE_TEST_MEDIA");
            continue;
        }
        let mut f = run_clip(engine, &path, needs);
        f.engine_ms.sort_by(f64::total_cmp);
        print_row(clip, &f);
        all.frames += f.frames;
        all.decode_cpu += f.decode_cpu;
        all.engine_cpu += f.engine_cpu;
        all.engine_ms.extend(f.engine_ms);
    }
    all.engine_ms.sort_by(f64::total_cmp);
    print_row("all clips", &all);
    serde_json::json!({"frames": all.frames,
        "fps_with_decode": all.frames as f64 / (all.decode_cpu + all.engine_cpu),
        "fps_engine": all.frames as f64 / all.engine_cpu,
        "p50_ms": percentile(&all.engine_ms, 0.5), "p95_ms": percentile(&all.engine_ms, 0.95)})
}

/// Embeds the main face of every 10th frame (mesh only in between, as a session's frames run)
/// and compares the CPU time of one embedding with that of one mesh frame; returns the totals.
fn run_embeddings(
    engine: &mut Analyzer,
    identity: &mut DlibIdentity,
    media: &Path,
) -> serde_json::Value {
    const EVERY: usize = 10;
    let needs = AnalysisNeeds {
        eyes: false,
        detect: false,
    };
    let opts = VideoOptions {
        fit: Some((480, 640)),
        max_frames: None,
    };
    let (mut frames, mut frame_cpu) = (0usize, 0.0);
    let mut embed_ms = Vec::new();
    for clip in CLIPS {
        let path = media.join(clip);
        if !path.is_file() {
            continue;
        }
        let mut video = open_video(&path, &opts).expect("clip opens");
        let mut track = TrackState::default();
        for (i, frame) in video.by_ref().enumerate() {
            let frame = frame.expect("frame decodes");
            let c0 = process::cpu_seconds();
            let analysis = engine
                .analyze(&frame.image, frame.t, &mut track, needs)
                .expect("frame analysed");
            frame_cpu += process::cpu_seconds() - c0;
            frames += 1;
            let Some(main) = analysis.main.as_ref().filter(|_| i % EVERY == 0) else {
                continue;
            };
            let c1 = process::cpu_seconds();
            let embedding = identity.embed(&frame.image, main).expect("embedding runs");
            if embedding.is_some() {
                embed_ms.push((process::cpu_seconds() - c1) * 1e3);
            }
        }
    }
    embed_ms.sort_by(f64::total_cmp);
    let frame_ms = frame_cpu * 1e3 / frames.max(1) as f64;
    let mean_ms = embed_ms.iter().sum::<f64>() / embed_ms.len().max(1) as f64;
    println!(
        "\nembedding (dlib, one core): {} faces, mean {:.2} ms, p50 {:.2} ms, p95 {:.2} ms of CPU; \
         one mesh frame {:.2} ms: an embedding costs {:.1} frames",
        embed_ms.len(),
        mean_ms,
        percentile(&embed_ms, 0.5),
        percentile(&embed_ms, 0.95),
        frame_ms,
        mean_ms / frame_ms
    );
    serde_json::json!({"embeddings": embed_ms.len(), "mean_ms": mean_ms,
        "p50_ms": percentile(&embed_ms, 0.5), "p95_ms": percentile(&embed_ms, 0.95),
        "mesh_frame_ms": frame_ms, "frames_per_embedding": mean_ms / frame_ms})
}

fn print_row(name: &str, f: &Figures) {
    println!(
        "{:<46} {:>6} {:>10.1} {:>10.1} {:>8.2} {:>8.2}",
        name,
        f.frames,
        f.frames as f64 / (f.decode_cpu + f.engine_cpu),
        f.frames as f64 / f.engine_cpu,
        percentile(&f.engine_ms, 0.5),
        percentile(&f.engine_ms, 0.95)
    );
}
