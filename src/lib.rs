//! wangge (网格): urban grid management (网格化城市管理) for Chinese cities.
//!
//! See the README's architecture section for the map of this crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assessment;
pub mod assign;
pub mod bootstrap;
pub mod cache;
pub mod calendar;
pub mod cases;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod demo_cases;
pub mod domain;
pub mod hotspot;
pub mod hotspots;
pub mod http;
pub mod import;
pub mod inspections;
pub mod live;
pub mod open311;
pub mod photos;
pub mod search;
pub mod security;
pub mod server;
pub mod shops;
pub mod store;
pub mod tile_cache;
pub mod tiles;
