//! A process's CPU and memory from `/proc`: `stat` (user + system CPU ticks) and `statm`
//! (resident pages), sampled once a second; the machine's memory from `/proc/meminfo`.
//!
//! The parsers and the arithmetic are pure functions over the files' text, so they are tested
//! without a process; [`Sampler`] is the only part that reads `/proc`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why a `/proc` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The file could not be read (the process is gone, or this is not Linux).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file did not have the expected fields.
    #[error("unexpected contents in {0}")]
    Format(&'static str),
}

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcReading {
    /// User plus system CPU time of all its threads, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// The user + system ticks from the text of `/proc/<pid>/stat`.
///
/// The command name (field 2) is in parentheses and may itself hold spaces or parentheses, so
/// the fields are counted from the last `)`: `utime` and `stime` are fields 14 and 15.
pub fn parse_stat_ticks(stat: &str) -> Result<u64, ProcError> {
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or(ProcError::Format("stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (the state): field n is fields[n - 3].
    let field = |n: usize| -> Result<u64, ProcError> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .ok_or(ProcError::Format("stat"))
    };
    Ok(field(14)? + field(15)?)
}

/// The thread (or process) name from the text of a `stat` file: between the first `(` and the
/// last `)`.
pub fn parse_stat_name(stat: &str) -> Result<&str, ProcError> {
    let open = stat.find('(').ok_or(ProcError::Format("stat"))?;
    let close = stat
        .rfind(')')
        .filter(|c| *c > open)
        .ok_or(ProcError::Format("stat"))?;
    Ok(&stat[open + 1..close])
}

/// The name prefix of the server's model-worker threads (`model-worker-0`, ...): their CPU is
/// the engines' (inference, crops, embeddings), the rest of the process's is the serving path.
pub const MODEL_THREAD_PREFIX: &str = "model-worker-";

/// User + system ticks of the threads of `pid` whose name starts with `prefix`, summed over the
/// threads alive now (a thread that has exited is no longer counted).
pub fn read_thread_ticks(pid: u32, prefix: &str) -> Result<u64, ProcError> {
    let dir = PathBuf::from(format!("/proc/{pid}/task"));
    let tasks = std::fs::read_dir(&dir).map_err(|source| ProcError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut ticks = 0;
    for task in tasks.flatten() {
        // A thread may end between the listing and the read: it is simply not counted.
        let Ok(stat) = read(task.path().join("stat")) else {
            continue;
        };
        if parse_stat_name(&stat)?.starts_with(prefix) {
            ticks += parse_stat_ticks(&stat)?;
        }
    }
    Ok(ticks)
}

/// The resident pages (the second field) from the text of `/proc/<pid>/statm`.
pub fn parse_statm_resident_pages(statm: &str) -> Result<u64, ProcError> {
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or(ProcError::Format("statm"))
}

/// `MemTotal` in bytes from the text of `/proc/meminfo`.
pub fn parse_mem_total(meminfo: &str) -> Result<u64, ProcError> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or(ProcError::Format("meminfo"))
}

/// CPU use between two readings `elapsed` apart, in % of one core (200 = two cores busy).
pub fn cpu_pct_of_core(
    before: ProcReading,
    after: ProcReading,
    elapsed: Duration,
    ticks_per_second: u64,
) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 || ticks_per_second == 0 {
        return 0.0;
    }
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    ticks / ticks_per_second as f64 / secs * 100.0
}

/// The kernel's clock ticks per second for `/proc` times (`USER_HZ`).
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a constant of the C library; it has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// The size of a memory page in bytes.
pub fn page_size() -> u64 {
    // SAFETY: as above, a constant of the C library.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
}

/// Logical CPUs of the machine (what "100 %" of the machine means).
pub fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The machine's total memory in bytes.
pub fn mem_total() -> Result<u64, ProcError> {
    parse_mem_total(&read("/proc/meminfo".into())?)
}

fn read(path: PathBuf) -> Result<String, ProcError> {
    std::fs::read_to_string(&path).map_err(|source| ProcError::Read { path, source })
}

/// Reads a process now.
pub fn read_process(pid: u32) -> Result<ProcReading, ProcError> {
    let stat = read(format!("/proc/{pid}/stat").into())?;
    let statm = read(format!("/proc/{pid}/statm").into())?;
    Ok(ProcReading {
        cpu_ticks: parse_stat_ticks(&stat)?,
        rss_bytes: parse_statm_resident_pages(&statm)? * page_size(),
    })
}

/// One second of a process's life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcPoint {
    /// Seconds from the start of sampling to the end of this interval.
    pub t: f64,
    /// CPU over the interval, in % of one core.
    pub cpu_pct_of_core: f64,
    /// RSS at the end of the interval, in bytes.
    pub rss_bytes: u64,
}

/// A process sampled once a second until stopped.
pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<ProcPoint>>,
    first: ProcReading,
    first_model_ticks: Option<u64>,
    started: Instant,
    pid: u32,
}

impl Sampler {
    /// Starts sampling `pid`; fails at once when its `/proc` files cannot be read.
    pub fn start(pid: u32) -> Result<Self, ProcError> {
        let first = read_process(pid)?;
        let first_model_ticks = read_thread_ticks(pid, MODEL_THREAD_PREFIX).ok();
        let started = Instant::now();
        let (stop, mut stopped) = watch::channel(false);
        let ticks = ticks_per_second();
        let task = tokio::spawn(async move {
            let mut points = Vec::new();
            let mut last = (started, first);
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stopped.changed() => break,
                }
                // A process that exited ends the series; what was sampled stays.
                let Ok(now) = read_process(pid) else { break };
                let at = Instant::now();
                points.push(ProcPoint {
                    t: at.duration_since(started).as_secs_f64(),
                    cpu_pct_of_core: cpu_pct_of_core(last.1, now, at - last.0, ticks),
                    rss_bytes: now.rss_bytes,
                });
                last = (at, now);
            }
            points
        });
        Ok(Self {
            stop,
            task,
            first,
            first_model_ticks,
            started,
            pid,
        })
    }

    /// Stops sampling; returns the per-second points and the whole span's totals.
    pub async fn finish(self) -> ProcSeries {
        let _ = self.stop.send(true);
        let points = self.task.await.unwrap_or_default();
        let ticks = ticks_per_second() as f64;
        let model_end = read_thread_ticks(self.pid, MODEL_THREAD_PREFIX).ok();
        let model_cpu_seconds = match (self.first_model_ticks, model_end) {
            (Some(first), Some(end)) if end > 0 => Some(end.saturating_sub(first) as f64 / ticks),
            _ => None,
        };
        let total = read_process(self.pid).ok().map(|end| ProcTotal {
            cpu_seconds: end.cpu_ticks.saturating_sub(self.first.cpu_ticks) as f64 / ticks,
            model_cpu_seconds,
            wall_seconds: self.started.elapsed().as_secs_f64(),
        });
        ProcSeries { points, total }
    }
}

/// CPU time spent over a whole sampled span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcTotal {
    /// CPU seconds (user + system, all threads).
    pub cpu_seconds: f64,
    /// The part of it spent by the model-worker threads ([`MODEL_THREAD_PREFIX`]); `None` for
    /// a process without them (a server built before they had names).
    pub model_cpu_seconds: Option<f64>,
    /// Wall seconds of the span.
    pub wall_seconds: f64,
}

/// What a [`Sampler`] saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcSeries {
    /// Once a second.
    pub points: Vec<ProcPoint>,
    /// The whole span, when the process was still there at the end.
    pub total: Option<ProcTotal>,
}

impl ProcSeries {
    /// Mean CPU over the span, in % of one core.
    pub fn mean_cpu_pct_of_core(&self) -> Option<f64> {
        self.total
            .filter(|t| t.wall_seconds > 0.0)
            .map(|t| t.cpu_seconds / t.wall_seconds * 100.0)
    }

    /// The busiest second, in % of one core.
    pub fn peak_cpu_pct_of_core(&self) -> Option<f64> {
        self.points
            .iter()
            .map(|p| p.cpu_pct_of_core)
            .reduce(f64::max)
    }

    /// The largest RSS seen, in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        self.points.iter().map(|p| p.rss_bytes).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real line of /proc/<pid>/stat, with a command name holding a space and a parenthesis.
    const STAT: &str = "4242 (livegate (x) y) S 1 4242 4242 0 -1 4194560 51234 0 12 0 \
                        1530 247 0 0 20 0 9 0 123456 912345088 40960 18446744073709551615 \
                        1 1 0 0 0 0 0 4096 17918 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn stat_ticks_are_utime_plus_stime_counted_past_the_name() {
        assert_eq!(parse_stat_ticks(STAT).unwrap(), 1530 + 247);
        assert!(parse_stat_ticks("4242 (cut").is_err());
        assert!(parse_stat_ticks("4242 (x) S 1 2").is_err());
    }

    #[test]
    fn cpu_pct_from_two_stat_samples() {
        // 1777 ticks, then 1957: 180 ticks at 100 a second over 1 s is 1.8 cores busy.
        let before = ProcReading {
            cpu_ticks: parse_stat_ticks(STAT).unwrap(),
            rss_bytes: 0,
        };
        let later = STAT.replace(" 1530 247 ", " 1650 307 ");
        let after = ProcReading {
            cpu_ticks: parse_stat_ticks(&later).unwrap(),
            rss_bytes: 0,
        };
        let pct = cpu_pct_of_core(before, after, Duration::from_secs(1), 100);
        assert!((pct - 180.0).abs() < 1e-9, "{pct}");
        // Over two seconds the same ticks are half the rate.
        let pct = cpu_pct_of_core(before, after, Duration::from_secs(2), 100);
        assert!((pct - 90.0).abs() < 1e-9, "{pct}");
        // No time, or a counter that went back (another process with the pid): 0, not garbage.
        assert_eq!(cpu_pct_of_core(before, after, Duration::ZERO, 100), 0.0);
        assert_eq!(
            cpu_pct_of_core(after, before, Duration::from_secs(1), 100),
            0.0
        );
    }

    #[test]
    fn thread_names_are_read_between_the_outer_parentheses() {
        assert_eq!(
            parse_stat_name("4242 (model-worker-1) S 1 2").unwrap(),
            "model-worker-1"
        );
        assert_eq!(parse_stat_name("7 (a (b) c) R 1").unwrap(), "a (b) c");
        assert!(parse_stat_name("no name").is_err());
    }

    #[test]
    fn this_process_has_no_model_threads_until_it_names_one() {
        let pid = std::process::id();
        assert_eq!(read_thread_ticks(pid, MODEL_THREAD_PREFIX).unwrap(), 0);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (busy, done) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name(format!("{MODEL_THREAD_PREFIX}7"))
            .spawn(move || {
                // Spin until the kernel has charged this thread a few ticks.
                let start = std::time::Instant::now();
                let mut x = 0u64;
                while start.elapsed() < Duration::from_millis(150) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                std::hint::black_box(x);
                let _ = busy.send(());
                let _ = released.recv();
            })
            .unwrap();
        done.recv().unwrap();
        assert!(read_thread_ticks(pid, MODEL_THREAD_PREFIX).unwrap() > 0);
        assert_eq!(read_thread_ticks(pid, "no-such-thread-").unwrap(), 0);
        release.send(()).unwrap();
        worker.join().unwrap();
    }

    #[test]
    fn statm_and_meminfo() {
        assert_eq!(
            parse_statm_resident_pages("222743 40960 6002 1 0 60012 0").unwrap(),
            40960
        );
        assert!(parse_statm_resident_pages("").is_err());
        let meminfo = "MemTotal:       24684544 kB\nMemFree:        17309312 kB\n";
        assert_eq!(parse_mem_total(meminfo).unwrap(), 24684544 * 1024);
        assert!(parse_mem_total("MemFree: 1 kB\n").is_err());
    }

    #[test]
    fn series_mean_is_cpu_time_over_wall_time() {
        let series = ProcSeries {
            points: vec![
                ProcPoint {
                    t: 1.0,
                    cpu_pct_of_core: 50.0,
                    rss_bytes: 10,
                },
                ProcPoint {
                    t: 2.0,
                    cpu_pct_of_core: 150.0,
                    rss_bytes: 30,
                },
            ],
            total: Some(ProcTotal {
                cpu_seconds: 2.0,
                model_cpu_seconds: None,
                wall_seconds: 2.0,
            }),
        };
        assert_eq!(series.mean_cpu_pct_of_core(), Some(100.0));
        assert_eq!(series.peak_cpu_pct_of_core(), Some(150.0));
        assert_eq!(series.peak_rss(), Some(30));
    }

    #[tokio::test]
    async fn this_process_can_be_read() {
        let me = read_process(std::process::id()).unwrap();
        assert!(me.rss_bytes > 0);
        assert!(mem_total().unwrap() > me.rss_bytes);
    }
}
