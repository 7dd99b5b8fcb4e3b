//! Octet's execution service: the last stage of the order path.
//!
//! - [`engine`]: the order state machine, last-line limits and the paper venue. Pure and
//!   deterministic: the same commands in the same order give the same reports.
//! - [`journal`]: the write-ahead journal of commands, fsynced per group of commands; replaying it
//!   through the engine rebuilds every order, fill, position and report after a crash.
//! - [`service`]: the gRPC service (tonic) over both.
//! - [`auth`]: bearer tokens with read / trade / control permissions, checked on every call.
//! - [`metrics`]: Prometheus counters and latency histograms on an HTTP port.

pub mod pb {
    tonic::include_proto!("octet.exec.v1");
}

pub mod auth;
pub mod config;
pub mod engine;
pub mod journal;
pub mod metrics;
pub mod service;
pub mod snapshot;
pub mod store;
