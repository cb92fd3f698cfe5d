//! The whole cycle through a proxy that makes moto behave like AWS
//! (`common::fault_proxy`): NotFound after each create, throttling, server
//! errors. `up`, a second `up`, `plan` and `down` must converge to the same
//! end state as without faults: exactly the desired resources, nothing
//! else, then nothing at all.

use crate::common::fault_proxy::{FaultProxy, Faults};
use crate::common::{on_moto, session_at, Moto};
use std::collections::BTreeMap;

/// (kind, name) → how many exist, of what the environment owns.
async fn owned(endpoint: &str, env: &str) -> BTreeMap<(String, String), usize> {
    let session = session_at(endpoint, on_moto(env)).await;
    let mut seen = BTreeMap::new();
    for o in session.everything().await.unwrap() {
        if o.owned {
            *seen
                .entry((o.kind.to_string(), o.display_name().to_string()))
                .or_insert(0) += 1;
        }
    }
    seen
}

async fn cycle(env: &str) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port(), Faults::aws_like());
    let faulty = &proxy.endpoint;
    let report = |what: &str| format!("{env} {what}; faults:\n{}\n", proxy.log());

    let first = session_at(faulty, on_moto(env)).await;
    first
        .up()
        .await
        .unwrap_or_else(|e| panic!("{}error: {e}", report("up")));

    let second = session_at(faulty, on_moto(env)).await;
    let plan = second
        .up()
        .await
        .unwrap_or_else(|e| panic!("{}error: {e}", report("second up")));
    assert!(plan.is_empty(), "{}:\n{plan}", report("second up planned"));
    assert_eq!(
        second.calls().mutating,
        0,
        "{}",
        report("second up mutated")
    );
    let plan = session_at(faulty, on_moto(env))
        .await
        .plan()
        .await
        .unwrap_or_else(|e| panic!("{}error: {e}", report("plan")));
    assert!(
        plan.is_empty(),
        "{}:\n{plan}",
        report("plan through faults")
    );

    // The end state, read without faults: exactly one of each desired
    // resource, and a plan with nothing to do.
    let clean = session_at(&moto.endpoint, on_moto(env)).await;
    let plan = clean.plan().await.unwrap();
    assert!(plan.is_empty(), "{}:\n{plan}", report("drift after up"));
    let wanted: BTreeMap<(String, String), usize> = clean
        .stack
        .resources
        .iter()
        .map(|r| ((r.key().kind.to_string(), r.key().name), 1))
        .collect();
    assert_eq!(
        owned(&moto.endpoint, env).await,
        wanted,
        "{}",
        report("end state")
    );

    let last = session_at(faulty, on_moto(env)).await;
    last.down()
        .await
        .unwrap_or_else(|e| panic!("{}error: {e}", report("down")));
    assert!(
        owned(&moto.endpoint, env).await.is_empty(),
        "{}",
        report("left after down")
    );

    let injected = proxy.injected();
    assert!(
        injected.throttled > 0 && injected.not_found > 0 && injected.server_errors > 0,
        "{env}: the cycle met no faults: {injected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dev_converges_through_throttling_errors_and_eventual_consistency() {
    cycle("dev").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prod_converges_through_throttling_errors_and_eventual_consistency() {
    cycle("prod").await;
}
