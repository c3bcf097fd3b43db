//! Where a session runs: the seam between "a request names a session" and "a handle on it".
//!
//! A request (the H5 WebSocket, an Open API call) names a session by its id; the code that
//! serves it asks a [`SessionRegistry`] where that session is, and must be ready for three
//! answers: here ([`Located::Local`], with the handle), on another node ([`Located::Remote`]), or
//! nowhere ([`Located::Unknown`]: ended, expired, or never created).
//!
//! Today's one implementation, [`LocalRegistry`], is a map in this process, so `Remote` never
//! comes back yet; callers still handle it (answer "unavailable" for now). In the active-active
//! issue an HTTP handler that gets `Remote(node)` proxies the request to that node, or redirects
//! the page there, and the registry itself learns remote sessions from the cluster (the owner
//! given by [`Members::owner_of`](crate::Members::owner_of)).
//!
//! The registry is generic over the handle type `H` so this crate stays free of the actors.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::NodeId;

/// A session's id, as requests name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionKey(pub Uuid);

impl From<Uuid> for SessionKey {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for SessionKey {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located<H> {
    /// In this process: talk to it through the handle.
    Local(H),
    /// On another node of the cluster: proxy or redirect there (never answered by
    /// [`LocalRegistry`]).
    Remote(NodeId),
    /// No node runs it: it ended, expired, or never existed.
    Unknown,
}

/// Why the registry could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A session with this id is registered already (ids are never reused).
    #[error("session {0} is already registered")]
    Duplicate(SessionKey),
    /// The registry cannot answer now (a cluster registry whose peers are unreachable).
    #[error("session registry unavailable: {0}")]
    Unavailable(String),
}

/// Finds the session a request names, wherever it runs.
///
/// Serving code holds an `Arc<dyn SessionRegistry<H>>` and handles every answer:
///
/// ```
/// # use livegate_cluster::registry::{LocalRegistry, Located, SessionKey, SessionRegistry};
/// # async fn serve(registry: &dyn SessionRegistry<String>, id: SessionKey) -> &'static str {
/// match registry.locate(id).await {
///     Ok(Located::Local(_handle)) => "talk to the session",
///     // Single node today; the active-active issue proxies or redirects to the node.
///     Ok(Located::Remote(_node)) => "503, retry",
///     Ok(Located::Unknown) => "404",
///     Err(_) => "503",
/// }
/// # }
/// ```
#[async_trait]
pub trait SessionRegistry<H>: Send + Sync {
    /// Records that the session `id` runs here with `handle`; `Duplicate` if `id` is known.
    async fn register(&self, id: SessionKey, handle: H) -> Result<(), RegistryError>;

    /// Where the session `id` runs.
    async fn locate(&self, id: SessionKey) -> Result<Located<H>, RegistryError>;

    /// Forgets the session `id` (it ended); `true` if it was registered here.
    async fn remove(&self, id: SessionKey) -> Result<bool, RegistryError>;

    /// Sessions registered on this node.
    fn len(&self) -> usize;

    /// Whether no session is registered on this node.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The one-node registry: a map in this process behind a lock.
///
/// The lock is held only for a map operation, never across an `.await`.
pub struct LocalRegistry<H> {
    sessions: RwLock<HashMap<SessionKey, H>>,
}

impl<H> Default for LocalRegistry<H> {
    fn default() -> Self {
        Self {
            sessions: RwLock::new(HashMap::new()),
        }
    }
}

impl<H> LocalRegistry<H> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps only the sessions whose handle passes `keep` (e.g. whose actor is alive); returns
    /// how many were dropped. A periodic sweep with it catches sessions whose end was never
    /// reported.
    pub fn retain(&self, mut keep: impl FnMut(&SessionKey, &H) -> bool) -> usize {
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let before = sessions.len();
        sessions.retain(|id, handle| keep(id, handle));
        before - sessions.len()
    }
}

// A poisoned lock only means another thread panicked between two map operations; the map itself
// is still consistent, so it is used as it is.
#[async_trait]
impl<H: Clone + Send + Sync> SessionRegistry<H> for LocalRegistry<H> {
    async fn register(&self, id: SessionKey, handle: H) -> Result<(), RegistryError> {
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match sessions.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => Err(RegistryError::Duplicate(id)),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(handle);
                Ok(())
            }
        }
    }

    async fn locate(&self, id: SessionKey) -> Result<Located<H>, RegistryError> {
        let sessions = self.sessions.read().unwrap_or_else(PoisonError::into_inner);
        Ok(sessions
            .get(&id)
            .cloned()
            .map_or(Located::Unknown, Located::Local))
    }

    async fn remove(&self, id: SessionKey) -> Result<bool, RegistryError> {
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(sessions.remove(&id).is_some())
    }

    fn len(&self) -> usize {
        self.sessions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn key(n: u128) -> SessionKey {
        SessionKey(Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn a_registered_session_is_found_here_until_removed() {
        let registry: Arc<dyn SessionRegistry<String>> = Arc::new(LocalRegistry::new());
        assert!(registry.is_empty());
        assert_eq!(registry.locate(key(1)).await, Ok(Located::Unknown));

        registry
            .register(key(1), "handle-1".to_owned())
            .await
            .expect("register");
        assert_eq!(
            registry.locate(key(1)).await,
            Ok(Located::Local("handle-1".to_owned()))
        );
        assert_eq!(registry.locate(key(2)).await, Ok(Located::Unknown));
        assert_eq!(registry.len(), 1);

        assert_eq!(registry.remove(key(1)).await, Ok(true));
        assert_eq!(registry.remove(key(1)).await, Ok(false), "already gone");
        assert_eq!(registry.locate(key(1)).await, Ok(Located::Unknown));
        assert!(registry.is_empty());
    }

    #[tokio::test]
    async fn a_duplicate_id_is_refused_and_keeps_the_first_handle() {
        let registry = LocalRegistry::new();
        registry.register(key(1), 10u32).await.expect("first");
        assert_eq!(
            registry.register(key(1), 20).await,
            Err(RegistryError::Duplicate(key(1)))
        );
        assert_eq!(registry.locate(key(1)).await, Ok(Located::Local(10)));
        assert_eq!(
            RegistryError::Duplicate(key(1)).to_string(),
            "session 00000000-0000-0000-0000-000000000001 is already registered"
        );
    }

    #[tokio::test]
    async fn concurrent_registrations_of_one_id_have_one_winner() {
        let registry = Arc::new(LocalRegistry::new());
        let mut tasks = Vec::new();
        for n in 0..32u32 {
            let registry = registry.clone();
            tasks.push(tokio::spawn(async move {
                let shared = registry.register(key(1), n).await.is_ok();
                let own = registry.register(key(100 + u128::from(n)), n).await;
                (shared, own)
            }));
        }
        let mut winners = 0;
        for task in tasks {
            let (shared, own) = task.await.expect("task");
            winners += usize::from(shared);
            assert_eq!(own, Ok(()));
        }
        assert_eq!(winners, 1);
        assert_eq!(registry.len(), 33);
    }

    #[tokio::test]
    async fn retain_drops_sessions_that_fail_the_check() {
        let registry = LocalRegistry::new();
        for n in 0..6u32 {
            registry.register(key(n.into()), n).await.expect("register");
        }
        assert_eq!(registry.retain(|_, alive| alive % 2 == 0), 3);
        assert_eq!(registry.len(), 3);
        assert_eq!(registry.locate(key(1)).await, Ok(Located::Unknown));
        assert_eq!(registry.locate(key(2)).await, Ok(Located::Local(2)));
    }

    #[test]
    fn session_keys_read_and_print_as_uuids() {
        let text = "0190f5a4-7b7e-7cc0-8000-000000000001";
        let id: SessionKey = text.parse().expect("uuid");
        assert_eq!(id.to_string(), text);
        assert!("not-a-uuid".parse::<SessionKey>().is_err());
    }
}
