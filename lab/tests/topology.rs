//! The lab's topology itself, with real HAProxy, redis-server, Sentinels
//! and game server nodes: the load balancer pins a browser to a node with
//! its cookie and routes on /ready, the primary endpoint follows a
//! Sentinel failover, and a node's Redis path can be cut without closing.

mod common;

use std::time::Duration;

use common::{start, ScratchDir};
use gameserver::client::{Connection, GameClient};
use lab::forwarder::Link;
use lab::ops::{Operation, Reply};
use lab::wait::wait_for;
use lab::zone::Zone;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balancer_pins_a_browser_and_the_endpoint_follows_a_failover() {
    let dir = ScratchDir::new("topology");
    let lab = start(&dir).await;
    let info = lab.info().await;

    // A first visit gets a cookie naming a node; presenting it keeps that node.
    let (conn, cookie) = Connection::connect_with_cookie(&info.ws_url, None)
        .await
        .unwrap();
    drop(conn);
    let cookie = cookie.expect("the balancer sets its sticky cookie on the upgrade");
    assert!(cookie.starts_with("AWSALB="), "{cookie}");
    let pinned = cookie
        .trim_start_matches("AWSALB=")
        .split('|')
        .next()
        .unwrap()
        .to_string();
    let zone = Zone::from_letter(&pinned).expect("the cookie names a zone");
    for _ in 0..4 {
        let (_, again) = Connection::connect_with_cookie(&info.ws_url, Some(&cookie))
            .await
            .unwrap();
        // A valid cookie is not set again (it is only refreshed when its node changes).
        assert_eq!(again, None);
    }
    // Deregistered, the node gets no new connection, even a pinned one.
    lab.execute(Operation::Deregister { zone }).await.unwrap();
    let (_, moved) = Connection::connect_with_cookie(&info.ws_url, Some(&cookie))
        .await
        .unwrap();
    let moved = moved.expect("a new node, a new cookie");
    assert!(!moved.starts_with(&format!("AWSALB={pinned}|")), "{moved}");
    lab.execute(Operation::Register { zone }).await.unwrap();

    // The Redis primary dies; Sentinel promotes zone b and the endpoint follows,
    // while every node stays in the load balancer (it routes on /ready, not /health).
    let Reply::Zone { zone: killed } = lab.execute(Operation::KillRedisPrimary).await.unwrap()
    else {
        panic!("KillRedisPrimary names the zone")
    };
    assert_eq!(killed, Zone::A);
    let lowest_in_service = std::cell::Cell::new(3);
    wait_for("Sentinel to promote zone b", LIMIT, || async {
        let status = lab.status().await?;
        lowest_in_service.set(lowest_in_service.get().min(status.in_service().len()));
        Ok(status.redis_primary == Some(Zone::B))
    })
    .await
    .unwrap();
    assert_eq!(
        lowest_in_service.get(),
        3,
        "a Redis failover took nodes out of the balancer"
    );
    let endpoint = redis::Client::open(info.redis_url.as_str()).unwrap();
    wait_for(
        "the endpoint to take writes on the new primary",
        LIMIT,
        || async {
            let Ok(mut conn) = endpoint.get_multiplexed_async_connection().await else {
                return Ok(false);
            };
            Ok(redis::cmd("SET")
                .arg("probe")
                .arg(1)
                .query_async::<()>(&mut conn)
                .await
                .is_ok())
        },
    )
    .await
    .unwrap();
    // The old primary comes back as a replica, never as a second primary.
    lab.execute(Operation::RestartRedis { zone: Zone::A })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lab.status().await.unwrap().redis_primary, Some(Zone::B));

    // Players still join through the balancer.
    let client = GameClient::join(&info.ws_url, "topology", "probe", "")
        .await
        .unwrap();
    assert!(client.player_id() > 0);

    lab.execute(Operation::CutRedis { zone: Zone::C })
        .await
        .unwrap();
    let status = lab.status().await.unwrap();
    assert_eq!(status.nodes[2].redis_link, Link::Cut);
    assert_eq!(status.nodes[0].redis_link, Link::Open);
}
