//! The frame decoder: JPEG bytes from the page into an RGB frame, off the executor.

use std::sync::Arc;

use image::RgbImage;
use livegate_models::media::{decode_image, MediaLimits};
use livegate_models::EngineError;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::session_actor::SessionMsg;

/// Messages of the decoder.
pub enum DecoderMsg {
    /// Decode one frame and answer the session with `SessionMsg::Decoded`.
    Decode {
        /// The frame's pipeline number in its session.
        seq: u64,
        /// The encoded frame.
        bytes: Arc<Vec<u8>>,
        /// Who asked.
        reply: ActorRef<SessionMsg>,
    },
}

/// Decodes a session's frames, one at a time.
pub struct FrameDecoder;

#[ractor::async_trait]
impl Actor for FrameDecoder {
    type Msg = DecoderMsg;
    type State = MediaLimits;
    type Arguments = MediaLimits;

    async fn pre_start(
        &self,
        _myself: ActorRef<DecoderMsg>,
        limits: MediaLimits,
    ) -> Result<MediaLimits, ActorProcessingErr> {
        Ok(limits)
    }

    async fn handle(
        &self,
        _myself: ActorRef<DecoderMsg>,
        DecoderMsg::Decode { seq, bytes, reply }: DecoderMsg,
        limits: &mut MediaLimits,
    ) -> Result<(), ActorProcessingErr> {
        let limits = *limits;
        // Decoding a 720p JPEG takes milliseconds: too long for an executor thread. A panic in
        // the decoder fails this actor (the session restarts it), never the executor.
        let result: Result<RgbImage, EngineError> =
            tokio::task::spawn_blocking(move || decode_image(&bytes, &limits)).await?;
        let _ = reply.send_message(SessionMsg::Decoded {
            seq,
            result: result.map(Arc::new),
        });
        Ok(())
    }
}
