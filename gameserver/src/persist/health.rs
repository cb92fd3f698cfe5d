//! The seed's `/health` contract: 200 `{"status":"healthy","redis":"connected"}`
//! while Redis answers, 503 `{"status":"unhealthy","redis":"disconnected"}`
//! when it does not; with Redis disabled the game alone decides, so 200 with
//! `"redis":"disabled"`.

use std::time::Duration;

use super::store::RedisStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisHealth {
    Disabled,
    Connected,
    Disconnected,
}

impl RedisHealth {
    /// Asks Redis (PING) and waits at most `limit` for the answer.
    pub async fn probe(store: Option<&RedisStore>, limit: Duration) -> RedisHealth {
        let Some(store) = store else {
            return RedisHealth::Disabled;
        };
        match tokio::time::timeout(limit, store.ping()).await {
            Ok(Ok(())) => RedisHealth::Connected,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "health probe: Redis does not answer");
                RedisHealth::Disconnected
            }
            Err(_) => RedisHealth::Disconnected,
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            RedisHealth::Disabled | RedisHealth::Connected => 200,
            RedisHealth::Disconnected => 503,
        }
    }

    pub fn body(self) -> &'static str {
        match self {
            RedisHealth::Disabled => r#"{"status":"healthy","redis":"disabled"}"#,
            RedisHealth::Connected => r#"{"status":"healthy","redis":"connected"}"#,
            RedisHealth::Disconnected => r#"{"status":"unhealthy","redis":"disconnected"}"#,
        }
    }
}
