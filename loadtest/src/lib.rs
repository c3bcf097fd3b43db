//! livegate-loadtest
