//! The HA lab: the AWS topology of ../shared/DESIGN.md ("The HA lab") on one
//! machine, out of real parts, and a runner that rehearses its failures
//! against simulated players and reports what each player lived through.
//!
//! Topology (`lab`): `redis` (primary, replica, Sentinels), `haproxy` (the
//! ALB and the Redis primary endpoint), `forwarder` (each node's switchable
//! path to Redis), `node` (the game server processes), over `child`
//! (processes that die with the lab). `ops` is what can be done to a lab;
//! `control` serves it on a socket for `spaaace-lab up`.

pub mod child;
pub mod error;
pub mod forwarder;
pub mod haproxy;
pub mod lab;
pub mod listening;
pub mod node;
pub mod ops;
pub mod ports;
pub mod probe;
pub mod redis;
pub mod settings;
pub mod wait;
pub mod zone;
