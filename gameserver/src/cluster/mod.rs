//! Several nodes, one world per room (../shared/DESIGN.md, "Several nodes").
//!
//! - `registry`: this node's rooms by id, the entry point of every join;
//! - `slot`: one room's life on this node: owner, relay, or taking over;
//! - `keeper`: this node's leases, renewed together, and their state;
//! - `relay`: a room owned elsewhere, served to this node's sockets;
//! - `bus`: pub/sub between nodes (one subscriber connection, one publisher);
//! - `wire`: what nodes say to each other;
//! - `node_id`: what this node is called.
//!
//! Without Redis there is no cluster: every room runs here, unfenced.

mod bus;
mod keeper;
pub mod node_id;
mod registry;
mod relay;
mod slot;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use registry::{Registry, RestoreError, Role};

use bus::{Bus, Publisher};
use keeper::Keeper;
use wire::{events_channel, FromOwner};

use crate::metrics::Metrics;
use crate::names::RoomId;
use crate::persist::{
    self, Fence, OnRefused, Presence, RedisStore, SnapshotWriter, StoreError, Taken, WriterOptions,
};
use crate::room::NodeName;

/// How a node takes part.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub node: String,
    pub lease_ttl: Duration,
    /// Reconnect grace given to players restored from a snapshot.
    pub grace: Duration,
    /// false: a room taken by this node starts fresh whatever is saved.
    pub hydrate: bool,
}

/// What every room and relay of this node shares.
pub struct Cluster {
    pub node: NodeName,
    pub fence: Fence,
    pub store: RedisStore,
    pub writer: SnapshotWriter,
    keeper: Arc<Keeper>,
    bus: Arc<Bus>,
    publisher: Publisher,
    metrics: Arc<Metrics>,
    grace: Duration,
    hydrate: bool,
    stop: CancellationToken,
}

impl Cluster {
    /// Starts the lease keeper, the snapshot writer and the pub/sub bus.
    pub fn start(
        store: RedisStore,
        settings: ClusterSettings,
        metrics: Arc<Metrics>,
    ) -> Arc<Cluster> {
        let stop = CancellationToken::new();
        let presence = Presence::spawn(store.clone(), settings.node.clone(), stop.clone());
        let fence = Fence {
            node: settings.node.clone(),
            lease_ttl: settings.lease_ttl,
            presence: Some(presence),
        };
        let keeper = Keeper::spawn(store.clone(), fence.clone(), metrics.clone(), stop.clone());
        let on_refused: OnRefused = {
            let keeper = keeper.clone();
            let metrics = metrics.clone();
            Arc::new(move |room, epoch| {
                metrics.fenced_writes_refused.add(1);
                if let Ok(room) = RoomId::parse(room) {
                    keeper.refused(&room, epoch);
                }
            })
        };
        let (writer, _) = SnapshotWriter::spawn(
            store.clone(),
            fence.clone(),
            WriterOptions::default(),
            on_refused,
        );
        tracing::info!(node = %settings.node, lease_ttl_ms = settings.lease_ttl.as_millis() as u64, "cluster node");
        Arc::new(Cluster {
            node: NodeName::from(settings.node.as_str()),
            bus: Bus::spawn(store.clone(), metrics.clone(), stop.clone()),
            publisher: Publisher::spawn(store.clone(), metrics.clone()),
            fence,
            store,
            writer,
            keeper,
            metrics,
            grace: settings.grace,
            hydrate: settings.hydrate,
            stop,
        })
    }

    /// Takes `room` for this node (loading its snapshot when hydration is
    /// on) unless another node holds it.
    pub async fn take(&self, room: &RoomId) -> Result<Taken, StoreError> {
        let (store, fence) = (&self.store, &self.fence);
        persist::take(store, fence, room.as_str(), self.grace, self.hydrate).await
    }

    /// The end of a drain: the final snapshots land, then every lease goes
    /// at once and the nodes relaying those rooms hear so (they take over
    /// without waiting for the leases to run out).
    pub async fn drain(&self, flush_limit: Duration) {
        match self.writer.close(flush_limit).await {
            Ok(()) => tracing::info!("shutdown: final snapshots written"),
            Err(e) => tracing::error!(error = %e, "shutdown: final snapshots lost"),
        }
        let released = self.keeper.release_all().await;
        let messages: Vec<_> = released
            .iter()
            .map(|(room, epoch)| {
                let released = FromOwner::Released { epoch: *epoch };
                (events_channel(room), released.encode())
            })
            .collect();
        if !messages.is_empty() {
            if let Err(e) = self.store.publish(&messages).await {
                tracing::warn!(error = %e, "shutdown: other nodes not told the rooms are free; they notice when the leases run out");
            }
        }
        tracing::info!(rooms = released.len(), "shutdown: leases released");
        self.stop.cancel();
    }
}
