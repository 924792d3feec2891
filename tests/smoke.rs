//! Placeholder replaced by the behaviour suite.
