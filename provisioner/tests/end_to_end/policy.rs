//! The least-privilege policy in docs/ci.md against the calls the
//! provisioner really makes: every call of a full life (up, a second up,
//! plan, status, outputs, the lock, the image check, the wait for the game,
//! down; dev, and prod with its Redis AUTH token) needs an action the
//! policy allows, and every action the policy allows is either called or
//! listed below with the reason the run does not reach it.

use crate::common::{session_at, Moto};
use provisioner::lock;
use provisioner::session::Session;
use std::collections::BTreeSet;
use std::time::Duration;

/// Actions the policy must allow although this run does not call them,
/// each with why.
const NOT_REACHED: &[(&str, &str)] = &[
    (
        "iam:PassRole",
        "implied: the launch template and the task definition hand roles to EC2 and ECS",
    ),
    (
        "ec2:RunInstances",
        "implied: an Auto Scaling group from a launch template",
    ),
    (
        "iam:CreateServiceLinkedRole",
        "implied: ECS, Auto Scaling, ELB and ElastiCache create theirs in a new account",
    ),
    (
        "ec2:CreateTags",
        "implied by tags on creation; drift repair",
    ),
    (
        "elasticloadbalancing:AddTags",
        "implied by tags on creation; drift repair",
    ),
    (
        "elasticache:AddTagsToResource",
        "implied by tags on creation; drift repair",
    ),
    (
        "ecs:TagResource",
        "implied by tags on creation; drift repair",
    ),
    ("iam:TagRole", "implied by tags on creation; drift repair"),
    (
        "iam:TagInstanceProfile",
        "implied by tags on creation; drift repair",
    ),
    (
        "ssm:AddTagsToResource",
        "implied by tags on creation; drift repair",
    ),
    (
        "ecr:TagResource",
        "implied by tags on creation; drift repair",
    ),
    (
        "ecs:DescribeTasks",
        "only when tasks stopped; moto runs none",
    ),
    (
        "elasticache:CreateCacheParameterGroup",
        "moto 5.2.5 has no parameter groups",
    ),
    (
        "elasticache:DescribeCacheParameterGroups",
        "moto 5.2.5 has no parameter groups",
    ),
    (
        "elasticache:DescribeCacheParameters",
        "moto 5.2.5 has no parameter groups",
    ),
    (
        "elasticache:ModifyCacheParameterGroup",
        "moto 5.2.5 has no parameter groups",
    ),
    (
        "elasticache:DeleteCacheParameterGroup",
        "moto 5.2.5 has no parameter groups",
    ),
    (
        "elasticache:DeleteCacheSubnetGroup",
        "moto 5.2.5 does not implement it",
    ),
    (
        "elasticache:DeleteReplicationGroup",
        "moto never finishes deleting a group; the run deletes none",
    ),
    ("elasticache:ModifyReplicationGroup", "drift repair only"),
    ("elasticache:ModifyCacheSubnetGroup", "drift repair only"),
    (
        "ec2:CreateLaunchTemplateVersion",
        "a new AMI or instance type only",
    ),
    (
        "ec2:ModifyLaunchTemplate",
        "a new AMI or instance type only",
    ),
    (
        "autoscaling:StartInstanceRefresh",
        "a new AMI or instance type only",
    ),
    ("autoscaling:UpdateAutoScalingGroup", "drift repair only"),
    ("autoscaling:CreateOrUpdateTags", "drift repair only"),
    ("ec2:DeleteTags", "drift repair only"),
    ("ec2:ReplaceRoute", "drift repair only"),
    ("ec2:DeleteRoute", "drift repair only"),
    ("ec2:ReplaceRouteTableAssociation", "drift repair only"),
    ("elasticloadbalancing:ModifyListener", "drift repair only"),
    (
        "elasticloadbalancing:ModifyTargetGroup",
        "drift repair only",
    ),
    ("elasticloadbalancing:SetSubnets", "drift repair only"),
    (
        "elasticloadbalancing:SetSecurityGroups",
        "drift repair only",
    ),
    ("ecs:UpdateCapacityProvider", "drift repair only"),
    ("iam:UpdateAssumeRolePolicy", "drift repair only"),
    ("ecr:PutImageScanningConfiguration", "drift repair only"),
];

/// The actions the policy in docs/ci.md allows.
fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ci.md"))
        .expect("docs/ci.md");
    let start = doc
        .find("```json")
        .expect("docs/ci.md holds the policy in a ```json block")
        + "```json".len();
    let end = doc[start..].find("```").expect("the block ends") + start;
    let policy: serde_json::Value =
        serde_json::from_str(&doc[start..end]).expect("the policy is JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        match &statement["Action"] {
            serde_json::Value::String(a) => {
                actions.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                actions.extend(list.iter().map(|a| a.as_str().unwrap().to_string()))
            }
            other => panic!("an Action that is neither a string nor a list: {other}"),
        }
    }
    assert!(
        !actions.iter().any(|a| a.ends_with(":*") || a == "*"),
        "the policy allows a whole service: {actions:?}"
    );
    actions
}

/// What one session called.
fn called(s: &Session) -> BTreeSet<String> {
    s.calls().iam_actions()
}

/// A full life of one environment on moto; the calls it made.
async fn life(moto: &Moto, env: &str, cache: bool) -> BTreeSet<String> {
    let profile = crate::common::moto_profile(env, cache, true);
    let mut all = BTreeSet::new();
    let up = session_at(&moto.endpoint, profile.clone()).await;
    let held = lock::acquire(&up.ctx, "policy-test", Duration::ZERO)
        .await
        .unwrap();
    up.up().await.unwrap();
    held.release(&up.ctx).await.unwrap();
    all.extend(called(&up));

    let again = session_at(&moto.endpoint, profile.clone()).await;
    again.up().await.unwrap();
    again.status().await.unwrap();
    again.outputs().await.unwrap();
    // The game never answers on moto: one look, then why.
    let mut quick = again.ctx.clone();
    quick.wait.timeout = Duration::ZERO;
    let _ = provisioner::workload::rollout::wait_reachable(&quick, &quick.wait, false).await;
    all.extend(called(&again));

    if !cache {
        let down = session_at(&moto.endpoint, profile).await;
        down.down().await.unwrap();
        all.extend(called(&down));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_policy_allows_exactly_what_the_provisioner_calls() {
    let moto = Moto::start();
    let mut calls = life(&moto, "dev", false).await;
    calls.extend(life(&moto, "prod", true).await);
    // The image check of an environment that runs its repository's image.
    let ecr = session_at(
        &moto.endpoint,
        crate::common::moto_profile("dev", false, false),
    )
    .await;
    ecr.image_missing().await.unwrap();
    calls.extend(called(&ecr));

    let policy = documented();
    let missing: Vec<&String> = calls.iter().filter(|a| !policy.contains(*a)).collect();
    assert!(missing.is_empty(), "docs/ci.md's policy lacks {missing:?}");
    let reasons: BTreeSet<&str> = NOT_REACHED.iter().map(|(a, _)| *a).collect();
    let reached_anyway: Vec<&&str> = reasons.iter().filter(|a| calls.contains(**a)).collect();
    assert!(
        reached_anyway.is_empty(),
        "called after all, drop from NOT_REACHED: {reached_anyway:?}"
    );
    let unused: Vec<&String> = policy
        .iter()
        .filter(|a| !calls.contains(*a) && !reasons.contains(a.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "the policy allows what nothing calls: {unused:?}"
    );
}
