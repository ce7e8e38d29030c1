//! batchrun: run batch jobs declared in YAML.
pub mod config;
pub mod diagnostic;
