//! The integration suites, compiled as one test binary.
//!
//! One binary instead of one per file: the crate and the harness (`common`) are compiled and
//! linked once, and the demo city is seeded once per process for every suite that asks for it
//! (`common::seeded_store`), which made up most of the CI time spent in tests. Each file stays a
//! module named after it, so `cargo test --test suite cases::` runs one file's tests. A suite that
//! uses the store harness (`use crate::common;`) runs on PostgreSQL too (see `.ci/run`).

mod common;

mod api;
mod architecture;
mod assessment;
mod assessment_demo;
mod assign_api;
mod bad_input;
mod binary;
mod cases;
mod cases_query;
mod city;
mod compressed;
mod demo_city;
mod dispatch_rules;
mod engine;
mod fuzz;
mod hardening;
mod hotspots;
mod import;
mod inspections;
mod open311;
mod oracle_postgis;
mod pg_outage;
mod photos;
mod province;
mod read_replica;
mod replicas;
mod search;
mod second_city;
mod shops;
mod store;
mod stream;
mod tiles;
mod volunteers;
