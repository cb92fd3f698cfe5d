//! The Spaaace game server. Layers, each using only those before it:
//! `sim` (the pure game) < `protocol` (wire format, update encoder) <
//! `persist` (snapshots, leases, fenced writes in Redis) < `room` (one
//! fixed-step task per room) < `cluster` (rooms by id on this node: owned
//! under a lease, or relayed to their owner) < `net` (the WebSocket
//! endpoint) < `http` (router, health, metrics, static client).

pub mod client;
pub mod cluster;
pub mod config;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod net;
pub mod persist;
pub mod protocol;
pub mod ready;
pub mod room;
pub mod room_list;
pub mod server;
pub mod sim;
pub mod static_files;
pub mod token;
