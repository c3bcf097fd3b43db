//! Which node owns which session.
//!
//! Every node agrees on a session's owner without asking anyone: the owner is the live node with
//! the highest rendezvous score for the session's key (see [`rendezvous`]). When a node leaves,
//! only the sessions it owned move; when one joins, only the sessions it now wins move to it.
//!
//! ```text
//!   membership (add / remove) ──> Members ──owner_of(session)──> NodeId
//!   request naming a session ──> SessionRegistry::locate ──> Local(handle) | Remote(node) | Unknown
//! ```
//!
//! Today Livegate runs one node; this crate is the seam where the registry of issue 3 and the
//! active-active cluster plug in, so that no code assumes a session lives in the process that
//! received the request naming it.

pub mod registry;
pub mod rendezvous;

pub use registry::{LocalRegistry, Located, RegistryError, SessionKey, SessionRegistry};
pub use rendezvous::{Members, NodeId};
