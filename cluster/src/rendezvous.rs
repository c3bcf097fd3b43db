//! Rendezvous (highest random weight) hashing over the live nodes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// A node's stable name in the cluster (e.g. `node-a`), unique among members.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(String);

impl NodeId {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The set of live nodes, and the owner of any key among them.
#[derive(Debug, Clone, Default)]
pub struct Members {
    nodes: BTreeSet<NodeId>,
}

impl Members {
    pub fn new(nodes: impl IntoIterator<Item = NodeId>) -> Self {
        Self {
            nodes: nodes.into_iter().collect(),
        }
    }

    pub fn add(&mut self, node: NodeId) -> bool {
        self.nodes.insert(node)
    }

    pub fn remove(&mut self, node: &NodeId) -> bool {
        self.nodes.remove(node)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node that owns `key`, or `None` when there are no members.
    ///
    /// The score is SHA-256 over node and key, so every node computes the same owner whatever
    /// its build (the standard library's hasher is not stable across Rust versions).
    pub fn owner_of(&self, key: &str) -> Option<&NodeId> {
        self.nodes.iter().max_by_key(|node| score(node, key))
    }
}

fn score(node: &NodeId, key: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(node.as_str().as_bytes());
    // A separator keeps ("ab", "c") and ("a", "bc") apart.
    hasher.update([0u8]);
    hasher.update(key.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> Members {
        Members::new(names.iter().map(|n| NodeId::new(*n)))
    }

    #[test]
    fn no_members_no_owner() {
        assert_eq!(Members::default().owner_of("s-1"), None);
    }

    #[test]
    fn owner_is_the_same_whatever_the_order_of_joining() {
        let a = members(&["n1", "n2", "n3"]);
        let b = members(&["n3", "n1", "n2"]);
        for i in 0..200 {
            let key = format!("session-{i}");
            assert_eq!(a.owner_of(&key), b.owner_of(&key));
        }
    }

    #[test]
    fn keys_spread_over_nodes() {
        let m = members(&["n1", "n2", "n3"]);
        let mut counts = std::collections::HashMap::new();
        for i in 0..3000 {
            let owner = m.owner_of(&format!("session-{i}")).cloned();
            *counts.entry(owner).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 3);
        for n in counts.values() {
            assert!((800..=1200).contains(n), "uneven spread: {counts:?}");
        }
    }

    #[test]
    fn only_the_leaving_nodes_sessions_move() {
        let before = members(&["n1", "n2", "n3"]);
        let mut after = before.clone();
        after.remove(&NodeId::new("n2"));
        for i in 0..1000 {
            let key = format!("session-{i}");
            let was = before.owner_of(&key).cloned();
            let now = after.owner_of(&key).cloned();
            if was.as_ref().map(NodeId::as_str) != Some("n2") {
                assert_eq!(was, now, "{key} moved although its owner stayed");
            } else {
                assert_ne!(now.as_ref().map(NodeId::as_str), Some("n2"));
            }
        }
    }
}
