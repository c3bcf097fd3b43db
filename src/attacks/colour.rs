//! The battery's colour-flash sessions: the page's side simulated, the session's real.
//!
//! A colour session (a `colour`-only scene's: no action, the flash is the whole session) runs
//! in the session actor like the others. The page is played by [`ColourPage`]: it waits for
//! the session's `FlashStarted`, starts the sequence [`PAGE_LEAD_S`] later, tags every frame
//! with the step on screen ([`SessionHandle::analyse_tagged`], as a sealed frame's header
//! would) and lights the presentation's frames the way its [`Staging`] says the screen's light
//! falls on what is in front of the camera (`models/src/flash/sim.rs`). A head is shaded by its
//! mesh, from an analyser of the battery's own (the session's analysis is not shared).
//!
//! These are simulated reflections on real frames, not phones: a figure here says what the
//! decision does with such light, not what a phone's camera sees.

use std::sync::{Arc, Mutex};

use livegate_actors::flash::{choose_sequence, FlashRules};
use livegate_actors::session::SessionEvent;
use livegate_models::flash::sim::{PageFlash, SimRng, Staging, PAGE_LEAD_S};
use livegate_models::flash::FlashStep;
use livegate_models::{AnalysisNeeds, FaceEngine, TrackState};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::broadcast::error::TryRecvError;

use super::{jpeg, AttacksError};

/// The lighting only needs the face's mesh: no iris refinement, the track is enough.
const NEEDS: AnalysisNeeds = AnalysisNeeds {
    eyes: false,
    detect: false,
};

/// A face engine shared by the colour sessions' pages (one at a time uses it).
pub type SharedEngine = Arc<Mutex<Box<dyn FaceEngine>>>;

/// The sequence a session of the default `colour` scene rule draws, from `seed` (reproducible
/// runs; the server draws from the OS's generator).
pub fn sequence(seed: u64) -> Result<Vec<FlashStep>, AttacksError> {
    choose_sequence(&FlashRules::default(), &mut StdRng::seed_from_u64(seed))
        .map_err(|e| AttacksError::Session(format!("flash rule: {e}")))
}

/// A seed from a presentation's name and the session's role, so every run stages the same.
pub fn seed(name: &str, role: u64) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike the standard hasher.
    name.bytes().fold(0xcbf2_9ce4_8422_2325 ^ role, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The page of one colour session.
pub struct ColourPage {
    page: PageFlash,
    /// How the screen's light reaches the frames; `None`: frames go as they come (an injected
    /// stream, or a recording already lit by the session it was made in).
    staging: Option<Staging>,
    rng: SimRng,
    engine: SharedEngine,
    track: TrackState,
}

impl ColourPage {
    /// The page of a session that drew `sequence`, its frames lit as `staging` says.
    pub fn new(
        sequence: &[FlashStep],
        staging: Option<Staging>,
        seed: u64,
        engine: SharedEngine,
    ) -> Self {
        let mut rng = SimRng::new(seed);
        let page = PageFlash::new(sequence, staging.unwrap_or(Staging::Live), &mut rng);
        Self {
            page,
            staging,
            rng,
            engine,
            track: TrackState::default(),
        }
    }

    /// Takes the session's events: on `FlashStarted` the page begins the sequence after its
    /// lead.
    pub fn hear(&mut self, events: &mut tokio::sync::broadcast::Receiver<SessionEvent>) {
        loop {
            match events.try_recv() {
                Ok(SessionEvent::FlashStarted { t }) => self.page.start(t + PAGE_LEAD_S),
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    /// The frame captured at `t` (`bytes`, the presentation's JPEG) as the page sends it: its
    /// flash tag and its JPEG, lit. Blocking work (decoding, lighting, maybe the face engine).
    pub fn frame(&mut self, t: f64, bytes: &[u8]) -> Result<(u8, Vec<u8>), AttacksError> {
        let light = self.page.next_frame(t);
        if self.staging.is_none() {
            return Ok((light.tag, bytes.to_vec()));
        }
        let image = image::load_from_memory(bytes)?.into_rgb8();
        let face = if self.page.needs_face(&light) {
            let mut engine = self
                .engine
                .lock()
                .map_err(|_| AttacksError::Session("the lighting's face engine failed".into()))?;
            engine.analyze(&image, t, &mut self.track, NEEDS)?.main
        } else {
            // The track is stale once frames go by unanalysed: detect afresh next time.
            self.track = TrackState::default();
            None
        };
        let lit = self
            .page
            .light(&image, face.as_ref(), &light, &mut self.rng);
        Ok((light.tag, jpeg(&lit)?))
    }
}
