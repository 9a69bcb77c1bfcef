//! livedesk: customer-service live chat. See docs/architecture.md for the map.

pub mod chat;
pub mod cli;
pub mod config;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod resources;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod webhooks;
pub mod ws;
