//! Keeps this node's leases: renews all of them in one round trip every
//! third of the lease TTL (or at once when a room that woke from a pause
//! asks), tells each room whether it still owns its world, and tries to take
//! the lease of rooms started while Redis did not answer.
//!
//! Redis unreachable is not superseded: a failed round changes nothing, and
//! rooms play on. Only Redis saying another node took a room over (a renewal
//! or a write refused) stops it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{watch, Notify};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::names::RoomId;
use crate::persist::{Acquired, Fence, RedisStore};
use crate::room::Lease;

pub struct Keeper {
    store: RedisStore,
    fence: Fence,
    metrics: Arc<Metrics>,
    leases: Mutex<HashMap<RoomId, watch::Sender<Lease>>>,
    wake: Notify,
}

impl Keeper {
    pub fn spawn(
        store: RedisStore,
        fence: Fence,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> Arc<Keeper> {
        let keeper = Arc::new(Keeper {
            store,
            fence,
            metrics,
            leases: Mutex::default(),
            wake: Notify::new(),
        });
        tokio::spawn(keeper.clone().run(stop));
        keeper
    }

    /// Starts keeping `room`'s lease, taken under `epoch` just now.
    pub fn hold(&self, room: RoomId, epoch: u64) -> watch::Receiver<Lease> {
        self.keep(
            room,
            Lease::Held {
                epoch,
                confirmed: Instant::now(),
            },
        )
    }

    /// A room started while Redis did not answer: its lease is asked for
    /// (only if nothing of it is saved) at every round.
    pub fn provisional(&self, room: RoomId) -> watch::Receiver<Lease> {
        self.keep(room, Lease::Provisional)
    }

    fn keep(&self, room: RoomId, lease: Lease) -> watch::Receiver<Lease> {
        let (tx, rx) = watch::channel(lease);
        self.lock().insert(room, tx);
        rx
    }

    /// The room stopped: stop renewing its lease. Its last state.
    pub fn forget(&self, room: &RoomId) -> Option<Lease> {
        self.lock().remove(room).map(|tx| *tx.borrow())
    }

    /// Redis refused a write of `room` under `epoch`: another node owns it.
    pub fn refused(&self, room: &RoomId, epoch: u64) {
        if let Some(tx) = self.lock().get(room) {
            if matches!(*tx.borrow(), Lease::Held { epoch: e, .. } if e == epoch) {
                self.metrics.lease_losses.add(1);
                tx.send_replace(Lease::Lost);
            }
        }
    }

    /// Renew at once (a room woke from a pause and must know).
    pub fn confirm(&self) {
        self.wake.notify_one();
    }

    /// The rooms held now and their epochs.
    pub fn held(&self) -> Vec<(RoomId, u64)> {
        self.lock()
            .iter()
            .filter_map(|(room, tx)| match *tx.borrow() {
                Lease::Held { epoch, .. } => Some((room.clone(), epoch)),
                _ => None,
            })
            .collect()
    }

    /// Gives every held room up (drain); returns those released.
    pub async fn release_all(&self) -> Vec<(RoomId, u64)> {
        let held = self.held();
        let mut released = Vec::with_capacity(held.len());
        for (room, epoch) in held {
            match self.store.release(&self.fence, room.as_str(), epoch).await {
                Ok(true) => released.push((room, epoch)),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(room = %room, error = %e, "lease not released; it runs out by itself")
                }
            }
        }
        self.lock().clear();
        released
    }

    async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut interval = tokio::time::interval(self.fence.lease_ttl / 3);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = interval.tick() => {}
                _ = self.wake.notified() => {}
            }
            self.round().await;
        }
    }

    async fn round(&self) {
        let sent = Instant::now();
        let (held, provisional) = self.split();
        if held.is_empty() && provisional.is_empty() {
            // Renewals are writes, so they notice a demoted primary; a node
            // that only relays asks instead, or its messages would go to a
            // replica nobody else listens to.
            if self.metrics.players_relayed_out.get() > 0 {
                let _ = self.store.check_primary().await;
            }
            return;
        }
        if !held.is_empty() {
            match self.store.renew(&self.fence, &held).await {
                Ok(results) => self.renewed(&held, &results, sent),
                Err(e) => tracing::debug!(error = %e, "lease renewal failed; rooms play on"),
            }
        }
        for room in provisional {
            self.try_take(room, sent).await;
        }
    }

    fn split(&self) -> (Vec<(String, u64)>, Vec<RoomId>) {
        let mut held = Vec::new();
        let mut provisional = Vec::new();
        for (room, tx) in self.lock().iter() {
            match *tx.borrow() {
                Lease::Held { epoch, .. } => held.push((room.as_str().to_string(), epoch)),
                Lease::Provisional => provisional.push(room.clone()),
                Lease::Unfenced | Lease::Lost => {}
            }
        }
        (held, provisional)
    }

    fn renewed(&self, held: &[(String, u64)], results: &[bool], sent: Instant) {
        let leases = self.lock();
        for ((room, epoch), &ok) in held.iter().zip(results) {
            let Some(tx) = RoomId::parse(room).ok().and_then(|id| leases.get(&id)) else {
                continue;
            };
            if !matches!(*tx.borrow(), Lease::Held { epoch: e, .. } if e == *epoch) {
                continue;
            }
            if ok {
                self.metrics.lease_renewals.add(1);
                tx.send_replace(Lease::Held {
                    epoch: *epoch,
                    confirmed: sent,
                });
            } else {
                self.metrics.lease_losses.add(1);
                tracing::warn!(room, epoch, "lease lost: another node owns the room now");
                tx.send_replace(Lease::Lost);
            }
        }
    }

    /// A provisional room takes its lease once Redis answers, unless Redis
    /// holds the room already (saved, or owned elsewhere): then it yields.
    async fn try_take(&self, room: RoomId, sent: Instant) {
        let lease = match self
            .store
            .acquire(&self.fence, room.as_str(), 0, true)
            .await
        {
            Ok(Acquired::Won { epoch }) => {
                tracing::info!(room = %room, epoch, "room started without Redis now owns its lease");
                Lease::Held {
                    epoch,
                    confirmed: sent,
                }
            }
            Ok(Acquired::Saved | Acquired::Held { .. }) => {
                tracing::warn!(room = %room, "room started without Redis yields to the saved or owned one");
                Lease::Lost
            }
            Err(_) => return,
        };
        if let Some(tx) = self.lock().get(&room) {
            if *tx.borrow() == Lease::Provisional {
                tx.send_replace(lease);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RoomId, watch::Sender<Lease>>> {
        // Nothing panics while holding this lock; recover the map if anything ever did.
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }
}
