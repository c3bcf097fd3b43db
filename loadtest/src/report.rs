//! What one session measured, what a run adds up to, the table and the last JSON line.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::process::ProcSeries;
use crate::schedule::Driven;
use crate::stats::{ErrorCounts, Latencies};

/// What one session measured, from the creation of the session to its verdict.
#[derive(Debug, Clone, Default)]
pub struct SessionOutcome {
    /// Why it did not end with a pass, as an error kind (`create_http_429`, `ws_close_4007`,
    /// `timeout`, `failed_timeout`...); `None` for a pass. A real person's clip failing under
    /// load is a wrong verdict, so a fail is an error too.
    pub error: Option<String>,
    /// Frame sent → its `ack`, one sample per acknowledged frame.
    pub acks: Latencies,
    /// The last frame sent before the `result` message → that message.
    pub verdict_after_last_frame: Option<Duration>,
    /// Creation → `result` message.
    pub duration: Option<Duration>,
    /// Frames sealed and sent.
    pub frames_sent: u64,
    /// Frame periods skipped because two frames were unacknowledged (the page does the same).
    pub frames_skipped: u64,
    /// The result's `frames.received`, when the result was read.
    pub frames_received: Option<u64>,
    /// The result's `frames.analysed`, when the result was read.
    pub frames_analysed: Option<u64>,
}

/// How the run was set up, for the table's head.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The server's base URL.
    pub target: String,
    /// What the server is: spawned or not, build, store.
    pub server: String,
    /// The load: `concurrency 4` or `rate 2/s (max 64 in flight)`.
    pub load: String,
    /// The clips and frames: `Blink-Detector_repeating/video.mp4: 140 frames 480x854 ...`.
    pub clips: Vec<String>,
    /// The window sessions started in.
    pub window: Duration,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// The machine's memory in bytes.
    pub mem_total: u64,
}

/// A run added up.
#[derive(Debug, Clone)]
pub struct Report {
    info: RunInfo,
    started: u64,
    passed: u64,
    passed_in_window: u64,
    errors: ErrorCounts,
    acks: Latencies,
    verdicts: Latencies,
    durations: Latencies,
    frames_sent: Latencies,
    frames_skipped: u64,
    frames_received: Latencies,
    frames_analysed: Latencies,
    elapsed: Duration,
    server: Option<ProcSeries>,
    tool: Option<ProcSeries>,
}

fn per_session(value: Option<u64>, into: &mut Latencies) {
    if let Some(v) = value {
        into.record_ms(v as f64);
    }
}

impl Report {
    /// Adds up a run; `server` and `tool` are the sampled server process and this process.
    pub fn new(
        info: RunInfo,
        driven: &Driven<SessionOutcome>,
        server: Option<ProcSeries>,
        tool: Option<ProcSeries>,
    ) -> Self {
        let mut report = Self {
            started: driven.started,
            passed: 0,
            passed_in_window: 0,
            errors: ErrorCounts::default(),
            acks: Latencies::new(),
            verdicts: Latencies::new(),
            durations: Latencies::new(),
            frames_sent: Latencies::new(),
            frames_skipped: 0,
            frames_received: Latencies::new(),
            frames_analysed: Latencies::new(),
            elapsed: driven.elapsed,
            server,
            tool,
            info,
        };
        for f in &driven.finished {
            let o = &f.outcome;
            match &o.error {
                Some(kind) => report.errors.add(kind),
                None => {
                    report.passed += 1;
                    if f.finished_at <= report.info.window {
                        report.passed_in_window += 1;
                    }
                }
            }
            report.acks.merge(&o.acks);
            if let Some(d) = o.verdict_after_last_frame {
                report.verdicts.record(d);
            }
            if let Some(d) = o.duration {
                report.durations.record(d);
            }
            report.frames_sent.record_ms(o.frames_sent as f64);
            report.frames_skipped += o.frames_skipped;
            per_session(o.frames_received, &mut report.frames_received);
            per_session(o.frames_analysed, &mut report.frames_analysed);
        }
        for _ in 0..driven.unfinished {
            report.errors.add("unfinished_after_drain");
        }
        for _ in 0..driven.shed {
            report.errors.add("shed_at_max_in_flight");
        }
        report
    }

    /// Passed sessions that ended inside the window, per second of window.
    pub fn tps(&self) -> f64 {
        let secs = self.info.window.as_secs_f64();
        if secs > 0.0 {
            self.passed_in_window as f64 / secs
        } else {
            0.0
        }
    }

    /// Server CPU over the run, in % of the whole machine (100 = every core busy).
    pub fn server_cpu_pct(&self) -> Option<f64> {
        self.server
            .as_ref()
            .and_then(ProcSeries::mean_cpu_pct_of_core)
            .map(|p| p / self.info.cpus.max(1) as f64)
    }

    /// The server's peak RSS in % of the machine's memory.
    pub fn server_mem_pct(&self) -> Option<f64> {
        let rss = self.server.as_ref().and_then(ProcSeries::peak_rss)?;
        (self.info.mem_total > 0).then(|| rss as f64 / self.info.mem_total as f64 * 100.0)
    }

    /// Frames the server analysed, summed over the sessions whose result was read.
    fn frames_analysed_total(&self) -> Option<f64> {
        Some(self.frames_analysed.mean()? * self.frames_analysed.count() as f64)
    }

    /// Server CPU milliseconds per frame the server analysed (sessions whose result was read).
    pub fn server_cpu_ms_per_analysed_frame(&self) -> Option<f64> {
        let cpu = self.server.as_ref()?.total?.cpu_seconds;
        let frames = self.frames_analysed_total()?;
        (frames > 0.0).then(|| cpu * 1000.0 / frames)
    }

    /// The model-worker threads' share of [`Self::server_cpu_ms_per_analysed_frame`]: the
    /// engines' milliseconds per analysed frame (inference, crops, embeddings); the rest is
    /// decoding, the silent cues, the protocol and the store.
    pub fn model_cpu_ms_per_analysed_frame(&self) -> Option<f64> {
        let cpu = self.server.as_ref()?.total?.model_cpu_seconds?;
        let frames = self.frames_analysed_total()?;
        (frames > 0.0).then(|| cpu * 1000.0 / frames)
    }

    /// Frames the server analysed per second of the run.
    pub fn analysed_per_second(&self) -> Option<f64> {
        let frames = self.frames_analysed_total()?;
        let secs = self.elapsed.as_secs_f64();
        (secs > 0.0).then(|| frames / secs)
    }

    /// Errors of every kind.
    pub fn errors(&self) -> u64 {
        self.errors.total()
    }

    /// Sessions that passed (in the window or during the drain).
    pub fn passed(&self) -> u64 {
        self.passed
    }

    /// The table, many lines.
    pub fn table(&mut self) -> String {
        let mut out = String::new();
        let i = &self.info;
        let _ = writeln!(out, "livegate loadtest");
        let _ = writeln!(out, "  target        {}", i.target);
        let _ = writeln!(out, "  server        {}", i.server);
        let _ = writeln!(
            out,
            "  load          {} for {:.0} s (then up to the drain for running sessions)",
            i.load,
            i.window.as_secs_f64()
        );
        for clip in &i.clips {
            let _ = writeln!(out, "  clip          {clip}");
        }
        let _ = writeln!(
            out,
            "  machine       {} CPUs, {:.1} GiB",
            i.cpus,
            i.mem_total as f64 / (1u64 << 30) as f64
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "sessions      started {}  passed {} ({} in the window)  errors {}  elapsed {:.1} s",
            self.started,
            self.passed,
            self.passed_in_window,
            self.errors.total(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "throughput    {:.2} passed sessions/s in the window",
            self.tps()
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>8} {:>8} {:>8} {:>8}",
            "latency (ms)", "n", "p50", "p95", "p99", "max"
        );
        for (name, l) in [
            ("frame sent -> ack", &mut self.acks),
            ("last frame -> verdict", &mut self.verdicts),
            ("create -> verdict", &mut self.durations),
        ] {
            let _ = writeln!(
                out,
                "{:<28} {:>7} {:>8} {:>8} {:>8} {:>8}",
                name,
                l.count(),
                fmt_opt(l.percentile(0.5)),
                fmt_opt(l.percentile(0.95)),
                fmt_opt(l.percentile(0.99)),
                fmt_opt(l.max())
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>8} {:>8} {:>8}",
            "frames per session", "n", "mean", "p50", "max"
        );
        for (name, l) in [
            ("sent", &mut self.frames_sent),
            ("received (result)", &mut self.frames_received),
            ("analysed (result)", &mut self.frames_analysed),
        ] {
            let _ = writeln!(
                out,
                "{:<28} {:>7} {:>8} {:>8} {:>8}",
                name,
                l.count(),
                fmt_opt(l.mean()),
                fmt_opt(l.percentile(0.5)),
                fmt_opt(l.max())
            );
        }
        let _ = writeln!(
            out,
            "skipped (2 unacknowledged)   {:>7}",
            self.frames_skipped
        );
        let _ = writeln!(out);
        match &self.server {
            Some(series) => {
                let _ = writeln!(
                    out,
                    "server        cpu mean {} % of the machine (peak second {} % of one core), \
                     rss peak {} MiB = {} % of memory",
                    fmt_opt(self.server_cpu_pct()),
                    fmt_opt(series.peak_cpu_pct_of_core()),
                    fmt_opt(series.peak_rss().map(|b| b as f64 / (1u64 << 20) as f64)),
                    fmt_opt(self.server_mem_pct())
                );
                let _ = writeln!(
                    out,
                    "              {} frames analysed/s, {} ms server CPU per analysed frame \
                     ({} ms of it in the model workers)",
                    fmt_opt(self.analysed_per_second()),
                    fmt_opt(self.server_cpu_ms_per_analysed_frame()),
                    fmt_opt(self.model_cpu_ms_per_analysed_frame())
                );
                let _ = writeln!(
                    out,
                    "  {:>6} {:>10} {:>9}",
                    "t (s)", "cpu % core", "rss MiB"
                );
                for p in &series.points {
                    let _ = writeln!(
                        out,
                        "  {:>6.0} {:>10.0} {:>9.0}",
                        p.t,
                        p.cpu_pct_of_core,
                        p.rss_bytes as f64 / (1u64 << 20) as f64
                    );
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "server        not sampled (give --server-pid, or --spawn)"
                );
            }
        }
        if let Some(tool) = &self.tool {
            let _ = writeln!(
                out,
                "this tool     cpu mean {} % of one core (it shares the machine with the server)",
                fmt_opt(tool.mean_cpu_pct_of_core())
            );
        }
        if self.errors.total() > 0 {
            let _ = writeln!(out);
            let _ = writeln!(out, "errors by kind");
            for (kind, n) in self.errors.iter() {
                let _ = writeln!(out, "  {kind:<30} {n}");
            }
        }
        out
    }

    /// The last line: `{"load": {"tps", "cpu_pct", "mem_pct", "p95_ms", "errors", ...}}`;
    /// `null` for what was not measured.
    pub fn json_line(&mut self) -> String {
        let round = |v: Option<f64>| v.map(|v| (v * 100.0).round() / 100.0);
        json!({
            "load": {
                "tps": round(Some(self.tps())),
                "cpu_pct": round(self.server_cpu_pct()),
                "mem_pct": round(self.server_mem_pct()),
                "p95_ms": round(self.acks.percentile(0.95)),
                "errors": self.errors.total(),
                "sessions": self.passed,
                "started": self.started,
                "verdict_p95_ms": round(self.verdicts.percentile(0.95)),
                "frames_analysed_per_session": round(self.frames_analysed.mean()),
                "server_cpu_ms_per_analysed_frame": round(self.server_cpu_ms_per_analysed_frame()),
                "model_cpu_ms_per_analysed_frame": round(self.model_cpu_ms_per_analysed_frame()),
                "error_kinds": self.errors.iter().map(|(k, n)| (k.to_owned(), n)).collect::<std::collections::BTreeMap<_, _>>(),
            }
        })
        .to_string()
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{ProcPoint, ProcTotal};
    use crate::schedule::Finished;

    fn passed(at_s: u64, analysed: u64) -> Finished<SessionOutcome> {
        let mut acks = Latencies::new();
        acks.record_ms(20.0);
        Finished {
            started_at: Duration::ZERO,
            finished_at: Duration::from_secs(at_s),
            outcome: SessionOutcome {
                acks,
                frames_sent: analysed + 2,
                frames_analysed: Some(analysed),
                frames_received: Some(analysed + 2),
                ..SessionOutcome::default()
            },
        }
    }

    #[test]
    fn tps_counts_passes_inside_the_window_and_errors_count_every_kind() {
        let mut failed = passed(3, 30);
        failed.outcome.error = Some("failed_timeout".into());
        let driven = Driven {
            finished: vec![passed(2, 30), passed(9, 30), passed(11, 30), failed],
            started: 5,
            shed: 0,
            unfinished: 1,
            elapsed: Duration::from_secs(12),
        };
        let info = RunInfo {
            window: Duration::from_secs(10),
            cpus: 2,
            mem_total: 1000 << 20,
            ..RunInfo::default()
        };
        let server = ProcSeries {
            points: vec![ProcPoint {
                t: 1.0,
                cpu_pct_of_core: 150.0,
                rss_bytes: 250 << 20,
            }],
            total: Some(ProcTotal {
                cpu_seconds: 12.0,
                model_cpu_seconds: Some(9.0),
                wall_seconds: 12.0,
            }),
        };
        let mut report = Report::new(info, &driven, Some(server), None);
        // Two passes ended inside the 10 s window; the one at 11 s counts as passed, not in tps.
        assert!((report.tps() - 0.2).abs() < 1e-9);
        assert_eq!(report.passed(), 3);
        assert_eq!(report.errors(), 2);
        // One core busy out of two is 50 % of the machine; 250 MiB of 1000 MiB is 25 %.
        assert_eq!(report.server_cpu_pct(), Some(50.0));
        assert_eq!(report.server_mem_pct(), Some(25.0));
        // 12 CPU seconds over 120 analysed frames.
        assert_eq!(report.server_cpu_ms_per_analysed_frame(), Some(100.0));
        // 9 of them in the model workers.
        assert_eq!(report.model_cpu_ms_per_analysed_frame(), Some(75.0));
        let line: serde_json::Value = serde_json::from_str(&report.json_line()).unwrap();
        assert_eq!(line["load"]["errors"], 2);
        assert_eq!(line["load"]["error_kinds"]["unfinished_after_drain"], 1);
        assert_eq!(line["load"]["p95_ms"], 20.0);
        assert!(report.table().contains("failed_timeout"));
    }
}
