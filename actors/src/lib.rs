//! livegate-actors
