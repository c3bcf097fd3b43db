//! The tenant manager: one actor per node that admits new sessions within each tenant's limits.
//!
//! Every session is created through [`TenantManagerHandle::admit`], which answers with a
//! [`SessionPermit`] or a refusal. A permit holds one of the tenant's live slots until it is
//! dropped; dropping it (the session ended, its actor died, the request that asked for it was
//! abandoned) sends a release to the manager, so a slot cannot leak with its holder.
//!
//! Isolation: each tenant has its own counters and limits, checked in one message each, so a
//! tenant at its limit is refused at once and never delays another tenant's admission.
//!
//! ```text
//! sessions service ──admit(tenant)──> TenantManager ──Ok(SessionPermit) / Err(TooMany…)──>
//! SessionPermit dropped ──Release──> TenantManager (slot free again)
//! ```
//!
//! The limits are per node for now: with several nodes, each node admits up to the limit (the
//! active-active issue decides whether to share the counters or divide the limits).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A tenant as the manager knows it: the store's tenant id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantKey(pub Uuid);

impl From<Uuid> for TenantKey {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How many sessions a tenant may run and start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantLimits {
    /// Most sessions alive at once (admitted and not yet ended).
    pub max_live_sessions: u32,
    /// Most sessions admitted in any 60 seconds.
    pub max_new_per_minute: u32,
}

impl Default for TenantLimits {
    /// 100 live sessions, 300 new ones a minute.
    fn default() -> Self {
        Self {
            max_live_sessions: 100,
            max_new_per_minute: 300,
        }
    }
}

/// A limit out of range; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: must be between 1 and {max} (got {got})", max = TenantLimits::MAX)]
pub struct TenantLimitsError {
    /// The offending field.
    pub field: &'static str,
    /// Its value.
    pub got: u32,
}

impl TenantLimits {
    /// The largest value of either limit.
    pub const MAX: u32 = 1_000_000;

    /// Both limits in `1..=MAX` (a zero limit would refuse every session: remove the tenant's
    /// apps instead).
    pub fn validate(&self) -> Result<(), TenantLimitsError> {
        for (field, got) in [
            ("max_live_sessions", self.max_live_sessions),
            ("max_new_per_minute", self.max_new_per_minute),
        ] {
            if !(1..=Self::MAX).contains(&got) {
                return Err(TenantLimitsError { field, got });
            }
        }
        Ok(())
    }
}

/// A tenant's counters now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantUsage {
    /// Permits held.
    pub live: u32,
    /// Sessions admitted in the last window (60 seconds).
    pub created_last_minute: u32,
}

/// Why a session was not admitted, or the manager could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// The tenant has as many live sessions as it may.
    #[error("too many live sessions for the tenant (limit {limit})")]
    TooManyLiveSessions {
        /// The tenant's `max_live_sessions`.
        limit: u32,
    },
    /// The tenant started as many sessions in the last minute as it may.
    #[error("too many new sessions for the tenant (limit {per_minute} a minute)")]
    TooManyNewSessions {
        /// The tenant's `max_new_per_minute`.
        per_minute: u32,
    },
    /// The limits are out of range.
    #[error("invalid tenant limits: {0}")]
    InvalidLimits(#[from] TenantLimitsError),
    /// The manager failed to start.
    #[error("tenant manager failed to start: {0}")]
    Spawn(String),
    /// The manager is gone.
    #[error("tenant manager is not running")]
    Unavailable,
    /// The manager did not answer in time.
    #[error("tenant manager did not answer within {0:?}")]
    Timeout(Duration),
}

/// The right to run one session of a tenant; frees its live slot when dropped.
///
/// Keep it with the session (in the session actor's state or next to its handle): whatever ends
/// the session, the drop releases the slot.
pub struct SessionPermit {
    tenant: TenantKey,
    id: u64,
    manager: ActorRef<TenantMsg>,
}

impl SessionPermit {
    /// The tenant whose slot this is.
    pub fn tenant(&self) -> TenantKey {
        self.tenant
    }
}

impl fmt::Debug for SessionPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPermit")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        // A manager that is gone has no slot to free.
        let _ = self.manager.send_message(TenantMsg::Release {
            tenant: self.tenant,
            permit: self.id,
        });
    }
}

/// The manager's timings; the defaults are what the server runs with.
#[derive(Debug, Clone, Copy)]
pub struct TenantManagerOptions {
    /// The sliding window of `max_new_per_minute` (a minute; shorter in tests).
    pub window: Duration,
    /// Longest wait for an answer from the manager.
    pub call_timeout: Duration,
}

impl Default for TenantManagerOptions {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            call_timeout: Duration::from_secs(2),
        }
    }
}

/// Messages of the tenant manager; callers use [`TenantManagerHandle`].
pub enum TenantMsg {
    /// Admit one session of the tenant, or refuse it.
    Admit {
        /// The tenant.
        tenant: TenantKey,
        /// The permit, or why not.
        reply: RpcReplyPort<Result<SessionPermit, TenantError>>,
    },
    /// A permit was dropped.
    Release {
        /// Its tenant.
        tenant: TenantKey,
        /// Its number.
        permit: u64,
    },
    /// Give the tenant its own limits.
    SetLimits {
        /// The tenant.
        tenant: TenantKey,
        /// Its limits.
        limits: TenantLimits,
        /// Done, or why not.
        reply: RpcReplyPort<Result<(), TenantError>>,
    },
    /// Report a tenant's counters.
    Usage {
        /// The tenant.
        tenant: TenantKey,
        /// Its counters.
        reply: RpcReplyPort<TenantUsage>,
    },
    /// Timer: forget what fell out of the window, and tenants with nothing left.
    Sweep,
}

/// The tenant manager actor; its fields are read-only configuration.
pub struct TenantManager {
    window: Duration,
}

/// One tenant's live permits and recent admissions.
#[derive(Default)]
struct Slots {
    live: HashSet<u64>,
    admitted: VecDeque<Instant>,
}

impl Slots {
    fn forget_before(&mut self, now: Instant, window: Duration) {
        while self
            .admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.admitted.pop_front();
        }
    }

    fn is_idle(&self) -> bool {
        self.live.is_empty() && self.admitted.is_empty()
    }

    fn usage(&self) -> TenantUsage {
        TenantUsage {
            live: u32::try_from(self.live.len()).unwrap_or(u32::MAX),
            created_last_minute: u32::try_from(self.admitted.len()).unwrap_or(u32::MAX),
        }
    }
}

/// The tenant manager's state.
pub struct TenantState {
    defaults: TenantLimits,
    limits: HashMap<TenantKey, TenantLimits>,
    slots: HashMap<TenantKey, Slots>,
    next_permit: u64,
    sweeper: Option<JoinHandle<()>>,
}

impl TenantState {
    fn limits_of(&self, tenant: TenantKey) -> TenantLimits {
        self.limits.get(&tenant).copied().unwrap_or(self.defaults)
    }

    fn admit(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        tenant: TenantKey,
        window: Duration,
    ) -> Result<SessionPermit, TenantError> {
        let limits = self.limits_of(tenant);
        let now = Instant::now();
        let slots = self.slots.entry(tenant).or_default();
        slots.forget_before(now, window);
        if slots.live.len() >= limits.max_live_sessions as usize {
            return Err(TenantError::TooManyLiveSessions {
                limit: limits.max_live_sessions,
            });
        }
        if slots.admitted.len() >= limits.max_new_per_minute as usize {
            return Err(TenantError::TooManyNewSessions {
                per_minute: limits.max_new_per_minute,
            });
        }
        self.next_permit += 1;
        let id = self.next_permit;
        slots.live.insert(id);
        slots.admitted.push_back(now);
        Ok(SessionPermit {
            tenant,
            id,
            manager: myself.clone(),
        })
    }
}

#[ractor::async_trait]
impl Actor for TenantManager {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = TenantLimits;

    async fn pre_start(
        &self,
        myself: ActorRef<TenantMsg>,
        defaults: TenantLimits,
    ) -> Result<TenantState, ActorProcessingErr> {
        defaults.validate()?;
        let sweeper = myself.send_interval(self.window, || TenantMsg::Sweep);
        Ok(TenantState {
            defaults,
            limits: HashMap::new(),
            slots: HashMap::new(),
            next_permit: 0,
            sweeper: Some(sweeper),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<TenantMsg>,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(sweeper) = state.sweeper.take() {
            sweeper.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<TenantMsg>,
        msg: TenantMsg,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::Admit { tenant, reply } => {
                let answer = state.admit(&myself, tenant, self.window);
                // If the caller gave up waiting, the permit comes back here and is dropped,
                // which queues its release: the slot does not leak.
                let _ = reply.send(answer);
            }
            TenantMsg::Release { tenant, permit } => {
                if let Some(slots) = state.slots.get_mut(&tenant) {
                    slots.live.remove(&permit);
                }
            }
            TenantMsg::SetLimits {
                tenant,
                limits,
                reply,
            } => {
                let answer = limits.validate().map_err(TenantError::from).map(|()| {
                    state.limits.insert(tenant, limits);
                });
                let _ = reply.send(answer);
            }
            TenantMsg::Usage { tenant, reply } => {
                let usage = match state.slots.get_mut(&tenant) {
                    Some(slots) => {
                        slots.forget_before(Instant::now(), self.window);
                        slots.usage()
                    }
                    None => TenantUsage::default(),
                };
                let _ = reply.send(usage);
            }
            TenantMsg::Sweep => {
                let now = Instant::now();
                state.slots.retain(|_, slots| {
                    slots.forget_before(now, self.window);
                    !slots.is_idle()
                });
            }
        }
        Ok(())
    }
}

/// A cloneable, typed handle on the node's tenant manager.
#[derive(Clone)]
pub struct TenantManagerHandle {
    actor: ActorRef<TenantMsg>,
    call_timeout: Duration,
}

impl TenantManagerHandle {
    /// Start the manager; tenants without limits of their own get `defaults`.
    pub async fn start(defaults: TenantLimits) -> Result<Self, TenantError> {
        Self::start_with(defaults, TenantManagerOptions::default()).await
    }

    /// Start the manager with other timings (a short window in tests).
    pub async fn start_with(
        defaults: TenantLimits,
        options: TenantManagerOptions,
    ) -> Result<Self, TenantError> {
        defaults.validate()?;
        let manager = TenantManager {
            window: options.window,
        };
        let (actor, _join) = Actor::spawn(None, manager, defaults)
            .await
            .map_err(|e| TenantError::Spawn(e.to_string()))?;
        Ok(Self {
            actor,
            call_timeout: options.call_timeout,
        })
    }

    /// A permit for one new session of `tenant`, or `TooManyLiveSessions` /
    /// `TooManyNewSessions`.
    pub async fn admit(&self, tenant: TenantKey) -> Result<SessionPermit, TenantError> {
        self.call(|reply| TenantMsg::Admit { tenant, reply })
            .await?
    }

    /// Give `tenant` its own limits (they apply to the next admission; live sessions above a
    /// lowered limit run on).
    pub async fn set_limits(
        &self,
        tenant: TenantKey,
        limits: TenantLimits,
    ) -> Result<(), TenantError> {
        limits.validate()?;
        self.call(|reply| TenantMsg::SetLimits {
            tenant,
            limits,
            reply,
        })
        .await?
    }

    /// The tenant's counters now.
    pub async fn usage(&self, tenant: TenantKey) -> Result<TenantUsage, TenantError> {
        self.call(|reply| TenantMsg::Usage { tenant, reply }).await
    }

    /// Stop the manager and wait for it.
    pub async fn stop(&self) {
        let _ = self
            .actor
            .stop_and_wait(None, Some(self.call_timeout))
            .await;
    }

    /// The manager actor (for supervision trees and liveness checks).
    pub fn actor(&self) -> &ActorRef<TenantMsg> {
        &self.actor
    }

    async fn call<T: Send + 'static>(
        &self,
        msg: impl FnOnce(RpcReplyPort<T>) -> TenantMsg,
    ) -> Result<T, TenantError> {
        match self.actor.call(msg, Some(self.call_timeout)).await {
            Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
            Ok(ractor::rpc::CallResult::Timeout) => Err(TenantError::Timeout(self.call_timeout)),
            Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(TenantError::Unavailable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    fn tenant(n: u128) -> TenantKey {
        TenantKey(Uuid::from_u128(n))
    }

    /// Polls `usage` of `tenant` until `ok` holds, or fails after [`WAIT`].
    async fn until_usage(
        manager: &TenantManagerHandle,
        tenant: TenantKey,
        ok: impl Fn(TenantUsage) -> bool,
    ) {
        let start = Instant::now();
        loop {
            let usage = manager.usage(tenant).await.expect("usage");
            if ok(usage) {
                return;
            }
            assert!(start.elapsed() < WAIT, "usage never matched: {usage:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn limits(live: u32, per_minute: u32) -> TenantLimits {
        TenantLimits {
            max_live_sessions: live,
            max_new_per_minute: per_minute,
        }
    }

    #[tokio::test]
    async fn live_limit_refuses_until_a_permit_is_dropped() {
        let manager = TenantManagerHandle::start(limits(2, 100))
            .await
            .expect("start");
        let a = tenant(1);
        let first = manager.admit(a).await.expect("first");
        let _second = manager.admit(a).await.expect("second");
        assert_eq!(
            manager.admit(a).await.expect_err("third is over the limit"),
            TenantError::TooManyLiveSessions { limit: 2 }
        );
        assert_eq!(
            manager.usage(a).await.expect("usage"),
            TenantUsage {
                live: 2,
                created_last_minute: 2
            },
            "a refusal is not counted"
        );
        drop(first);
        until_usage(&manager, a, |u| u.live == 1).await;
        let third = manager.admit(a).await.expect("a slot is free again");
        assert_eq!(third.tenant(), a);
        manager.stop().await;
    }

    #[tokio::test]
    async fn a_tenant_at_its_limits_does_not_block_another() {
        let manager = TenantManagerHandle::start(limits(1, 1))
            .await
            .expect("start");
        let (a, b) = (tenant(1), tenant(2));
        let _held = manager.admit(a).await.expect("a's only slot");
        for _ in 0..20 {
            assert!(manager.admit(a).await.is_err());
        }
        let for_b = manager.admit(b).await.expect("b is unaffected by a");
        assert_eq!(manager.usage(b).await.expect("usage").live, 1);
        drop(for_b);

        // Own limits for one tenant change nothing for the others.
        manager.set_limits(b, limits(5, 5)).await.expect("limits");
        let _b1 = manager.admit(b).await.expect("b 1");
        let _b2 = manager.admit(b).await.expect("b 2");
        assert_eq!(
            manager.admit(a).await.expect_err("a keeps the defaults"),
            TenantError::TooManyLiveSessions { limit: 1 }
        );
        manager.stop().await;
    }

    #[tokio::test]
    async fn new_sessions_are_limited_over_a_sliding_window() {
        let options = TenantManagerOptions {
            window: Duration::from_millis(300),
            ..TenantManagerOptions::default()
        };
        let manager = TenantManagerHandle::start_with(limits(10, 2), options)
            .await
            .expect("start");
        let a = tenant(1);
        drop(manager.admit(a).await.expect("first"));
        drop(manager.admit(a).await.expect("second"));
        assert_eq!(
            manager.admit(a).await.expect_err("two a window"),
            TenantError::TooManyNewSessions { per_minute: 2 },
            "refused although none is live"
        );
        let _b = manager
            .admit(tenant(2))
            .await
            .expect("b has its own window");
        until_usage(&manager, a, |u| u.created_last_minute == 0).await;
        let _again = manager
            .admit(a)
            .await
            .expect("the window slid past the first two");
        manager.stop().await;
    }

    #[tokio::test]
    async fn a_permit_held_by_an_actor_that_dies_frees_its_slot() {
        struct Holder;
        #[ractor::async_trait]
        impl Actor for Holder {
            type Msg = ();
            type State = SessionPermit;
            type Arguments = SessionPermit;
            async fn pre_start(
                &self,
                _myself: ActorRef<()>,
                permit: SessionPermit,
            ) -> Result<SessionPermit, ActorProcessingErr> {
                Ok(permit)
            }
            async fn handle(
                &self,
                _myself: ActorRef<()>,
                _msg: (),
                _state: &mut SessionPermit,
            ) -> Result<(), ActorProcessingErr> {
                panic!("the session actor crashes");
            }
        }

        let manager = TenantManagerHandle::start(limits(1, 100))
            .await
            .expect("start");
        let a = tenant(7);
        let permit = manager.admit(a).await.expect("permit");
        let (holder, join) = Actor::spawn(None, Holder, permit).await.expect("holder");
        assert!(manager.admit(a).await.is_err(), "the holder has the slot");
        holder.send_message(()).expect("send");
        join.await.expect("holder ended");
        until_usage(&manager, a, |u| u.live == 0).await;
        let _next = manager.admit(a).await.expect("the slot came back");
        manager.stop().await;
    }

    #[tokio::test]
    async fn bad_limits_are_refused_naming_the_field() {
        let err = TenantManagerHandle::start(limits(0, 10))
            .await
            .err()
            .expect("zero live sessions");
        assert_eq!(
            err.to_string(),
            "invalid tenant limits: max_live_sessions: must be between 1 and 1000000 (got 0)"
        );
        let manager = TenantManagerHandle::start(TenantLimits::default())
            .await
            .expect("start");
        let err = manager
            .set_limits(tenant(1), limits(10, 0))
            .await
            .expect_err("zero a minute");
        assert!(
            matches!(
                err,
                TenantError::InvalidLimits(TenantLimitsError {
                    field: "max_new_per_minute",
                    got: 0
                })
            ),
            "{err:?}"
        );
        manager.stop().await;
        assert_eq!(
            manager.admit(tenant(1)).await.expect_err("stopped"),
            TenantError::Unavailable
        );
    }

    #[test]
    fn limits_read_from_json_with_defaults_and_no_unknown_fields() {
        let parsed: TenantLimits =
            serde_json::from_str(r#"{"max_live_sessions": 5}"#).expect("partial");
        assert_eq!(parsed, limits(5, 300));
        assert!(serde_json::from_str::<TenantLimits>(r#"{"max_live": 5}"#).is_err());
        assert_eq!(TenantLimits::default().validate(), Ok(()));
    }
}
