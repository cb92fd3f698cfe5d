//! `/rooms`: the rooms this process runs and how many players are connected to
//! each, for the start screen. It reveals ids and counts, nothing else. With
//! several nodes each lists only its own rooms.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;
use tokio::time::{timeout, Instant};

use crate::cluster::Registry;

/// Every listing asks each room for its stats through its command queue; a
/// page polling, or a client hammering the endpoint, gets the same answer for
/// this long instead of filling the queues that carry the players' inputs.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// A room too busy to answer within this is left out of the listing.
const STATS_LIMIT: Duration = Duration::from_millis(500);

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ListedRoom {
    pub id: String,
    /// Players connected now (not those within their reconnect grace, nor bots).
    pub players: usize,
}

#[derive(Serialize)]
struct Listing<'a> {
    rooms: &'a [ListedRoom],
}

pub struct RoomList {
    registry: Arc<Registry>,
    /// The last listing as JSON, and when it was made.
    cached: Mutex<Option<(Instant, Arc<str>)>>,
}

impl RoomList {
    pub fn new(registry: Arc<Registry>) -> RoomList {
        RoomList {
            registry,
            cached: Mutex::new(None),
        }
    }

    /// `{"rooms":[{"id":"…","players":N},…]}`, the busiest rooms first.
    pub async fn json(&self) -> Arc<str> {
        // Held across the refresh: concurrent requests wait for one listing.
        let mut cached = self.cached.lock().await;
        if let Some((at, body)) = cached.as_ref() {
            if at.elapsed() < FRESH_FOR {
                return body.clone();
            }
        }
        let rooms = self.collect().await;
        let body: Arc<str> = serde_json::to_string(&Listing { rooms: &rooms })
            .unwrap_or_else(|_| r#"{"rooms":[]}"#.into())
            .into();
        *cached = Some((Instant::now(), body.clone()));
        body
    }

    async fn collect(&self) -> Vec<ListedRoom> {
        let handles = self.registry.handles();
        let answers = futures_util::future::join_all(
            handles
                .iter()
                .map(|room| timeout(STATS_LIMIT, room.stats())),
        )
        .await;
        let mut rooms: Vec<ListedRoom> = handles
            .iter()
            .zip(answers)
            .filter_map(|(room, answer)| match answer {
                Ok(Ok(stats)) => Some(ListedRoom {
                    id: room.id().as_str().to_owned(),
                    players: stats.connected,
                }),
                // Stopped or too busy right now: listed again next time.
                _ => None,
            })
            .collect();
        rooms.sort_by(|a, b| b.players.cmp(&a.players).then_with(|| a.id.cmp(&b.id)));
        rooms
    }
}
