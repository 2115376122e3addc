//! wangge (网格): urban grid management (网格化城市管理) for Chinese cities.
#![forbid(unsafe_code)]

pub mod cli;
pub mod generate;
