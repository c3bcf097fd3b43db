//! livegate-cluster
