//! The HA lab: the AWS topology of ../shared/DESIGN.md ("The HA lab") on one
//! machine, out of real parts, and a runner that rehearses its failures
//! against simulated players and reports what each player lived through.
//!
//! Topology (`lab`): `redis` (primary, replica, Sentinels), `haproxy` (the
//! ALB and the Redis primary endpoint), `forwarder` (each node's switchable
//! path to Redis), `node` (the game server processes), over `child`
//! (processes that die with the lab). `ops` is what can be done to a lab;
//! `control` serves it on a socket for `spaaace-lab up`.
//!
//! Rehearsals (`runner`): `scenario` (the five failures as scripts),
//! `crowd` (reconnecting players that record what they live through),
//! `monitor` (the rooms' snapshots in Redis), `measure` (each player's
//! outage, from the protocol), `report` and `svg` (table, JSON, picture).

pub mod child;
pub mod control;
pub mod crowd;
pub mod error;
pub mod forwarder;
pub mod haproxy;
pub mod lab;
pub mod listening;
pub mod measure;
pub mod monitor;
pub mod node;
pub mod ops;
pub mod ports;
pub mod probe;
pub mod redis;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod settings;
pub mod svg;
pub mod wait;
pub mod zone;
