//! Result callbacks: the outbox's delivery worker.
//!
//! When a session ends, its result is enqueued with [`CallbackDelivery::enqueue`]: a `pending`
//! row in the store's outbox (`store::callbacks`), written before anyone is told, so a restart
//! loses none. One worker per node (a tokio task) then delivers it:
//!
//! ```text
//! enqueue ─ store.enqueue_callback ─ notify ─┐
//!                                           ▼
//!   worker loop: claim_due_callbacks (lease) ─ per callback, at once up to batch_size:
//!     CallbackSecrets (tenant, scene) ─ sign ─ POST url ─ record_attempt (history + next state)
//!       2xx → delivered · else → retry at backoff with jitter · max attempts or no secret → failed
//!   sleeps poll_interval (or until its earliest retry, or an enqueue wakes it); stops on shutdown
//! ```
//!
//! Several nodes may run workers on one PostgreSQL: a claim leases a callback, so only one sends
//! it at a time. Delivery is at least once: a node that dies mid-send leaves its lease to expire
//! and the callback is sent again. Neither the secret nor the body is ever logged.

pub mod policy;
pub mod secrets;
pub mod send;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

pub use policy::DeliveryPolicy;
pub use secrets::{CallbackSecret, CallbackSecrets, SceneConfigSecrets, SecretError};
pub use send::{http_client, SendFailure};

use crate::store::callbacks::later;
use crate::store::{
    now_micros, Attempt, AttemptNext, Callback, CallbackId, NewCallback, Store, StoreError,
    TenantId,
};

/// Counter: callbacks delivered (a 2xx answer).
pub const CALLBACKS_DELIVERED_TOTAL: &str = "livegate_callbacks_delivered_total";
/// Counter: tries that did not deliver, by `reason` (`http_status`, `timeout`, `connection`,
/// `request`, `bad_url`, `no_secret`).
pub const CALLBACK_ATTEMPTS_FAILED_TOTAL: &str = "livegate_callback_attempts_failed_total";
/// Counter: callbacks given up as `failed`, by `reason` (`max_attempts`, `bad_url`,
/// `no_secret`).
pub const CALLBACKS_GIVEN_UP_TOTAL: &str = "livegate_callbacks_given_up_total";

/// Describes the callback metrics (called by `metrics::install`).
pub fn describe_metrics() {
    metrics::describe_counter!(
        CALLBACKS_DELIVERED_TOTAL,
        metrics::Unit::Count,
        "result callbacks delivered with a 2xx answer"
    );
    metrics::describe_counter!(
        CALLBACK_ATTEMPTS_FAILED_TOTAL,
        metrics::Unit::Count,
        "callback tries that did not deliver, by reason"
    );
    metrics::describe_counter!(
        CALLBACKS_GIVEN_UP_TOTAL,
        metrics::Unit::Count,
        "callbacks given up as failed, by reason"
    );
}

/// The handle to a node's callback worker: enqueue a callback, wake the worker. Cheap to clone.
#[derive(Clone)]
pub struct CallbackDelivery {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
}

impl CallbackDelivery {
    /// Starts the worker as a tokio task; it runs until `shutdown` completes, then lets the
    /// sends in flight finish (each is bounded by the policy's timeout) and ends. Await the
    /// returned handle to know it has.
    pub fn start(
        store: Arc<dyn Store>,
        client: reqwest::Client,
        secrets: Arc<dyn CallbackSecrets>,
        policy: DeliveryPolicy,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (Self, JoinHandle<()>) {
        let wake = Arc::new(Notify::new());
        let worker = Worker {
            store: Arc::clone(&store),
            client,
            secrets,
            policy,
            wake: Arc::clone(&wake),
        };
        let task = tokio::spawn(worker.run(shutdown));
        (Self { store, wake }, task)
    }

    /// Writes the callback to the outbox, then wakes the worker to send it at once. Once this
    /// returns `Ok` the callback survives a restart.
    pub async fn enqueue(
        &self,
        tenant: TenantId,
        new: NewCallback,
    ) -> Result<CallbackId, StoreError> {
        let callback = self.store.enqueue_callback(tenant, &new).await?;
        tracing::debug!(
            callback_id = %callback.id,
            record_id = %callback.record_id,
            "callback enqueued"
        );
        self.notify();
        Ok(callback.id)
    }

    /// Wakes the worker to look for due callbacks now (after a replay, say).
    pub fn notify(&self) {
        self.wake.notify_one();
    }
}

/// The worker task's parts.
struct Worker {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    secrets: Arc<dyn CallbackSecrets>,
    policy: DeliveryPolicy,
    wake: Arc<Notify>,
}

impl Worker {
    async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let worker = Arc::new(self);
        tokio::pin!(shutdown);
        tracing::info!(
            batch_size = worker.policy.batch_size,
            max_attempts = worker.policy.max_attempts,
            "callback delivery started"
        );
        loop {
            let (claimed, earliest_retry) = worker.deliver_due().await;
            let full = claimed >= worker.policy.batch_size as usize;
            // A full batch: more may be due already. Otherwise sleep until the poll, this
            // node's own earliest retry, or an enqueue.
            let pause = if full {
                Duration::ZERO
            } else {
                earliest_retry
                    .and_then(|at| (at - Utc::now()).to_std().ok())
                    .map_or(worker.policy.poll_interval, |until| {
                        until.min(worker.policy.poll_interval)
                    })
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = worker.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("callback delivery stopped");
    }

    /// Claims what is due and sends it all at once; returns how many it claimed and the earliest
    /// retry it scheduled.
    async fn deliver_due(self: &Arc<Self>) -> (usize, Option<DateTime<Utc>>) {
        let claimed = match self
            .store
            .claim_due_callbacks(now_micros(), self.policy.batch_size, self.policy.lease())
            .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim due callbacks");
                return (0, None);
            }
        };
        let count = claimed.len();
        let mut sends = JoinSet::new();
        for callback in claimed {
            let worker = Arc::clone(self);
            sends.spawn(async move { worker.deliver(callback).await });
        }
        let mut earliest: Option<DateTime<Utc>> = None;
        while let Some(done) = sends.join_next().await {
            match done {
                Ok(Some(at)) => earliest = Some(earliest.map_or(at, |e| e.min(at))),
                Ok(None) => {}
                Err(err) => tracing::error!(error = %err, "callback send task failed"),
            }
        }
        (count, earliest)
    }

    /// One try of one claimed callback; returns when it is due again, if it is to be retried.
    async fn deliver(&self, callback: Callback) -> Option<DateTime<Utc>> {
        let started_at = now_micros();
        let clock = Instant::now();
        let outcome = match self
            .secrets
            .callback_secret(callback.tenant_id, callback.scene_id)
            .await
        {
            Ok(secret) => send::send(&self.client, &callback, &secret, self.policy.timeout)
                .await
                .map_err(TryFailure::from),
            Err(SecretError::Missing(why)) => Err(TryFailure {
                reason: "no_secret",
                http_status: None,
                error: why,
                hopeless: true,
            }),
            Err(err @ SecretError::Unavailable(_)) => {
                // Not the integrator's fault and not a try: the lease runs out and the callback
                // comes back then.
                tracing::warn!(callback_id = %callback.id, error = %err, "callback postponed");
                return None;
            }
        };
        let number = callback.attempts + 1;
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (attempt, next) = match outcome {
            Ok(status) => {
                metrics::counter!(CALLBACKS_DELIVERED_TOTAL).increment(1);
                tracing::info!(
                    callback_id = %callback.id,
                    record_id = %callback.record_id,
                    attempt = number,
                    status,
                    "callback delivered"
                );
                let attempt = Attempt {
                    started_at,
                    duration_ms,
                    http_status: Some(status),
                    error: None,
                };
                (attempt, AttemptNext::Delivered)
            }
            Err(failure) => {
                metrics::counter!(CALLBACK_ATTEMPTS_FAILED_TOTAL, "reason" => failure.reason)
                    .increment(1);
                let next = self.after_failure(&callback, number, &failure);
                let attempt = Attempt {
                    started_at,
                    duration_ms,
                    http_status: failure.http_status,
                    error: Some(failure.error),
                };
                (attempt, next)
            }
        };
        if let Err(err) = self
            .store
            .record_attempt(callback.tenant_id, callback.id, &attempt, next)
            .await
        {
            // The lease runs out and the callback is sent again: at least once, as documented.
            tracing::error!(
                callback_id = %callback.id,
                error = %err,
                "cannot record callback attempt"
            );
            return None;
        }
        match next {
            AttemptNext::RetryAt(at) => Some(at),
            AttemptNext::Delivered | AttemptNext::GiveUp => None,
        }
    }

    /// Retry with backoff, or give up when the failure is hopeless or the tries are used up.
    fn after_failure(&self, callback: &Callback, number: u32, failure: &TryFailure) -> AttemptNext {
        let give_up = if failure.hopeless {
            Some(failure.reason)
        } else if self.policy.exhausted(number) {
            Some("max_attempts")
        } else {
            None
        };
        if let Some(reason) = give_up {
            metrics::counter!(CALLBACKS_GIVEN_UP_TOTAL, "reason" => reason).increment(1);
            tracing::warn!(
                callback_id = %callback.id,
                record_id = %callback.record_id,
                attempt = number,
                reason,
                error = %failure.error,
                "callback given up"
            );
            return AttemptNext::GiveUp;
        }
        let delay = self.policy.delay(number, rand::rng().random::<f64>());
        tracing::info!(
            callback_id = %callback.id,
            record_id = %callback.record_id,
            attempt = number,
            error = %failure.error,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "callback try failed"
        );
        AttemptNext::RetryAt(later(now_micros(), delay))
    }
}

/// A try that did not deliver, as the history and the metrics keep it.
struct TryFailure {
    /// Metrics label.
    reason: &'static str,
    http_status: Option<u16>,
    /// The history's text; never the body or the secret.
    error: String,
    /// Retrying cannot help (no secret, a bad url): give up now.
    hopeless: bool,
}

impl From<SendFailure> for TryFailure {
    fn from(failure: SendFailure) -> Self {
        Self {
            reason: failure.reason(),
            http_status: failure.http_status(),
            hopeless: matches!(failure, SendFailure::BadUrl(_)),
            error: failure.to_string(),
        }
    }
}
