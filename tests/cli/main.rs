//! Integration tests: the real binary on real job files.

mod harness;
mod invalid;

mod databases;
mod delivery;
mod errors;
mod escapes;
mod events;
mod failure;
mod files;
mod github;
mod html;
mod journal;
mod limits;
mod needs_and_limits;
mod output;
mod plan;
mod products;
mod programs;
mod progress;
mod quoting;
mod quoting_places;
mod quoting_property;
mod readme;
mod report;
mod schema;
mod seeds;
mod shell;
mod slurm;
mod sources;
mod state_folder;
