//! One page's WebSocket: hello, then sealed frames in and prompts out, until the result or a
//! breach (`docs/h5-protocol.md` §3). The loop owns no session state: everything that must
//! survive a reconnect lives in the session actor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, CloseCode, Session};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures_util::StreamExt as _;
use livegate_actors::actor::{SendError, SessionPosition};
use livegate_actors::prompts::{step_text, verdict_text, FacePart, Lang, Prompt, PromptCode};
use livegate_actors::session::{FailReason, SessionEvent};
use tokio::sync::broadcast::error::RecvError;

use super::messages::{ClientMessage, CloseReason, ServerMessage, StepView};
use super::seal::SUITES;
use crate::sessions::live::LiveSession;
use crate::sessions::{PageResult, SessionService};

/// How long the page has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings.
const PING_EVERY: Duration = Duration::from_secs(5);
/// Silence after which the page is taken for gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(15);

/// Why the loop ended, as the page is told.
struct Ending(CloseReason);

/// Tells the page why and closes; a 4xxx code is preceded by an `error` message.
async fn close(mut session: Session, reason: CloseReason) {
    if reason.code() >= 4000 {
        let _ = send(
            &mut session,
            &ServerMessage::Error {
                code: reason.code(),
                reason: reason.word(),
            },
        )
        .await;
    }
    metrics::counter!(crate::sessions::WS_CLOSED_TOTAL, "reason" => reason.word()).increment(1);
    let _ = session
        .close(Some(actix_ws::CloseReason {
            code: CloseCode::Other(reason.code()),
            description: Some(reason.word().to_owned()),
        }))
        .await;
}

async fn send(session: &mut Session, message: &ServerMessage) -> Result<(), Ending> {
    let text = serde_json::to_string(message).map_err(|_| Ending(CloseReason::InternalError))?;
    session
        .text(text)
        .await
        .map_err(|_| Ending(CloseReason::GoingAway))
}

fn result_message(result: &PageResult) -> ServerMessage {
    ServerMessage::Result {
        passed: result.passed,
        reasons: result.reasons.clone(),
        text: result.text.clone(),
        return_url: result.return_url.clone(),
    }
}

/// How long a finished session's connection waits for the page to close after the result.
const ENDED_GRACE: Duration = Duration::from_secs(3);

/// Serves a finished session's connection: the result, then a normal close; a frame sent after
/// the end is refused with `session_ended`.
pub async fn serve_ended(
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
    result: PageResult,
) {
    let _ = send(&mut session, &result_message(&result)).await;
    let reason = match tokio::time::timeout(ENDED_GRACE, stream.next()).await {
        Ok(Some(Ok(AggregatedMessage::Binary(_)))) => CloseReason::SessionEnded,
        Ok(Some(Ok(AggregatedMessage::Text(_)))) => CloseReason::BadMessage,
        _ => CloseReason::Done,
    };
    close(session, reason).await;
}

/// Serves a live session's connection to its end.
pub async fn serve_live(
    session: Session,
    stream: actix_ws::AggregatedMessageStream,
    service: SessionService,
    live: Arc<LiveSession>,
    lang: Lang,
) {
    let mut conn = Conn {
        session: session.clone(),
        lang,
        raised: BTreeMap::new(),
        shown: None,
        return_url: live.facts.return_url.clone(),
    };
    let reason = match conn.run(stream, &service, &live).await {
        Ok(()) => CloseReason::Done,
        Err(Ending(reason)) => reason,
    };
    close(session, reason).await;
}

struct Conn {
    session: Session,
    lang: Lang,
    raised: BTreeMap<PromptCode, Option<FacePart>>,
    shown: Option<PromptCode>,
    return_url: Option<String>,
}

impl Conn {
    async fn run(
        &mut self,
        mut stream: actix_ws::AggregatedMessageStream,
        service: &SessionService,
        live: &Arc<LiveSession>,
    ) -> Result<(), Ending> {
        let (client_key, client) = self.await_hello(&mut stream).await?;
        let (handle, position) = service
            .hello(live, client_key, client)
            .await
            .map_err(refusal)?;
        if let Some(verdict) = &position.verdict {
            let result = PageResult {
                passed: verdict.passed,
                reasons: reason_words(&verdict.reasons),
                text: verdict_text(verdict.passed, &verdict.reasons, self.lang),
                return_url: self.return_url.clone(),
            };
            send(&mut self.session, &result_message(&result)).await?;
            return Ok(());
        }
        let (me, mut newer) = live.take_over();
        let mut events = handle.subscribe();
        self.ready(&position).await?;
        let mut ping = tokio::time::interval(PING_EVERY);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                message = stream.next() => {
                    last_heard = Instant::now();
                    match message {
                        None => return Err(Ending(CloseReason::GoingAway)),
                        Some(Err(err)) => return Err(Ending(stream_error(&err))),
                        Some(Ok(AggregatedMessage::Binary(bytes))) => {
                            let seq = handle.send_sealed(bytes.to_vec()).await.map_err(refusal)?;
                            send(&mut self.session, &ServerMessage::Ack { seq }).await?;
                        }
                        Some(Ok(AggregatedMessage::Text(_))) => {
                            return Err(Ending(CloseReason::BadMessage));
                        }
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            let _ = self.session.pong(&bytes).await;
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => {}
                        Some(Ok(AggregatedMessage::Close(_))) => {
                            return Err(Ending(CloseReason::GoingAway));
                        }
                    }
                }
                event = events.recv() => match event {
                    Ok(event) => {
                        if self.on_event(event, position.total).await? {
                            return Ok(());
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return Err(Ending(CloseReason::InternalError)),
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > SILENCE_LIMIT {
                        return Err(Ending(CloseReason::GoingAway));
                    }
                    let _ = self.session.ping(b"").await;
                }
                changed = newer.changed() => {
                    if changed.is_err() || *newer.borrow() != me {
                        return Err(Ending(CloseReason::Superseded));
                    }
                }
            }
        }
    }

    async fn await_hello(
        &mut self,
        stream: &mut actix_ws::AggregatedMessageStream,
    ) -> Result<(Vec<u8>, serde_json::Value), Ending> {
        let first = tokio::time::timeout(HELLO_TIMEOUT, async {
            loop {
                match stream.next().await {
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        let _ = self.session.pong(&bytes).await;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    other => return other,
                }
            }
        })
        .await
        .map_err(|_| Ending(CloseReason::HandshakeTimeout))?;
        let text = match first {
            Some(Ok(AggregatedMessage::Text(text))) => text,
            Some(Err(err)) => return Err(Ending(stream_error(&err))),
            None | Some(Ok(AggregatedMessage::Close(_))) => {
                return Err(Ending(CloseReason::GoingAway))
            }
            Some(Ok(_)) => return Err(Ending(CloseReason::BadMessage)),
        };
        let ClientMessage::Hello {
            suite,
            client_key,
            resume: _,
            client,
        } = serde_json::from_str(&text).map_err(|_| Ending(CloseReason::BadMessage))?;
        if !SUITES.contains(&suite.as_str()) {
            return Err(Ending(CloseReason::UnsupportedSuite));
        }
        let key = URL_SAFE_NO_PAD
            .decode(client_key.trim_end_matches('='))
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or(Ending(CloseReason::BadKey))?;
        Ok((key, client))
    }

    async fn ready(&mut self, position: &SessionPosition) -> Result<(), Ending> {
        let step = position.step.map(|(index, action)| StepView {
            index,
            action,
            text: step_text(action, self.lang).to_owned(),
        });
        send(
            &mut self.session,
            &ServerMessage::Ready {
                next_seq: position.last_seq + 1,
                done: position.done,
                total: position.total,
                step,
            },
        )
        .await
    }

    /// Tells the page about one session event; `true` once the result was sent.
    async fn on_event(&mut self, event: SessionEvent, total: usize) -> Result<bool, Ending> {
        let message = match event {
            SessionEvent::PromptRaised { code, part, .. } => {
                self.raised.insert(code, part);
                self.top_prompt()
            }
            SessionEvent::PromptCleared { code, .. } => {
                self.raised.remove(&code);
                self.top_prompt()
            }
            // Every attempt draws as many steps from the scene's pool: the total stays.
            SessionEvent::StepStarted { index, action, .. } => Some(ServerMessage::Step {
                index,
                action,
                text: step_text(action, self.lang).to_owned(),
                done: index,
                total,
            }),
            SessionEvent::StepPassed { index, action, .. } => Some(ServerMessage::StepPassed {
                index,
                action,
                done: index + 1,
                total,
            }),
            SessionEvent::Finished { verdict } => {
                let message = ServerMessage::Result {
                    passed: verdict.passed,
                    reasons: reason_words(&verdict.reasons),
                    text: verdict_text(verdict.passed, &verdict.reasons, self.lang),
                    return_url: self.return_url.clone(),
                };
                send(&mut self.session, &message).await?;
                return Ok(true);
            }
            SessionEvent::AttemptFailed {
                attempt,
                of,
                reasons,
                ..
            } => Some(ServerMessage::Retry {
                attempt,
                of,
                reasons: reason_words(&reasons),
                text: retry_text(&reasons, self.lang),
            }),
            SessionEvent::FlashStarted { .. } => Some(ServerMessage::Flash {
                text: livegate_actors::prompts::flash_text(self.lang).to_owned(),
            }),
            SessionEvent::Progress { .. }
            | SessionEvent::ActionSeen { .. }
            | SessionEvent::FramesDropped { .. } => None,
        };
        if let Some(message) = message {
            send(&mut self.session, &message).await?;
        }
        Ok(false)
    }

    /// The prompt message when the most important raised prompt changed.
    fn top_prompt(&mut self) -> Option<ServerMessage> {
        let top = self.raised.iter().next().map(|(c, p)| (*c, *p));
        let code = top.map(|(c, _)| c);
        if code == self.shown {
            return None;
        }
        self.shown = code;
        Some(match top {
            Some((code, part)) => ServerMessage::Prompt {
                code: Some(code.as_str().to_owned()),
                text: Prompt { code, part }.text(self.lang),
            },
            None => ServerMessage::Prompt {
                code: None,
                text: String::new(),
            },
        })
    }
}

/// Reason words as in results (`timeout`, `face_changed`).
fn reason_words(reasons: &[FailReason]) -> Vec<String> {
    reasons.iter().map(|r| r.as_str().to_owned()).collect()
}

/// What the person hears when an attempt failed and another begins.
fn retry_text(reasons: &[FailReason], lang: Lang) -> String {
    let failed = verdict_text(false, reasons, lang);
    match lang {
        Lang::ZhCn => format!("{failed}，请再试一次"),
        Lang::En => format!("{failed}. Please try again"),
    }
}

fn refusal(err: SendError) -> Ending {
    match err {
        SendError::Refused(refused) => Ending(refused.into()),
        SendError::Session(_) => Ending(CloseReason::InternalError),
    }
}

fn stream_error(err: &actix_ws::ProtocolError) -> CloseReason {
    match err {
        actix_ws::ProtocolError::Overflow => CloseReason::FrameTooLarge,
        _ => CloseReason::BadMessage,
    }
}
