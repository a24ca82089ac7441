//! Diagnosis: events in, findings out. Pure functions, no I/O.
//!
//! For now this holds the error-page parsers the console uses to name the
//! exception behind a 500.

pub mod django;
