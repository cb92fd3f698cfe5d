//! ElastiCache against SDK-level fakes: what moto 5.2.5 lacks (parameter
//! groups, DeleteCacheSubnetGroup, TestFailover, the transitional states
//! creating, modifying, snapshotting, deleting, create-failed).

use crate::support::{change, ctx, meta, naming, network, observed, Fakes};
use aws_smithy_mocks::{mock, Rule};
use provisioner::engine::{self, Kind, Refs, Resource};
use provisioner::tags::Naming;
use provisioner::workload::*;

use aws_sdk_elasticache::operation as ec_op;
use aws_sdk_elasticache::types as ec_ty;

/// The group as AWS describes it, with every attribute the profile wants.
fn group(status: &str) -> ec_ty::ReplicationGroup {
    ec_ty::ReplicationGroup::builder()
        .replication_group_id("spaaace-dev-redis")
        .status(status)
        .cache_node_type("cache.t4g.micro")
        .automatic_failover(ec_ty::AutomaticFailoverStatus::Enabled)
        .multi_az(ec_ty::MultiAzStatus::Enabled)
        .snapshot_retention_limit(7)
        .snapshot_window("03:00-04:00")
        .at_rest_encryption_enabled(true)
        .transit_encryption_enabled(true)
        .auth_token_enabled(true)
        .arn("arn:aws:elasticache:us-east-1:1:replicationgroup:spaaace-dev-redis")
        .member_clusters("spaaace-dev-redis-001")
        .member_clusters("spaaace-dev-redis-002")
        .node_groups(
            ec_ty::NodeGroup::builder()
                .node_group_id("0001")
                .primary_endpoint(
                    ec_ty::Endpoint::builder()
                        .address("master.redis.test")
                        .port(6379)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn describe_group(statuses: &[&'static str]) -> Rule {
    let mut seq = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .match_requests(|r| r.replication_group_id() == Some("spaaace-dev-redis"))
        .sequence();
    for s in statuses {
        let s = *s;
        seq = seq.output(move || {
            ec_op::describe_replication_groups::DescribeReplicationGroupsOutput::builder()
                .replication_groups(group(s))
                .build()
        });
    }
    seq.build()
}

fn redis(encryption: bool) -> replication_group::ReplicationGroup {
    replication_group::ReplicationGroup {
        naming: Naming::new("spaaace", "dev"),
        network: network(),
        node_type: "cache.t4g.micro".into(),
        engine_version: "7.1".into(),
        parameter_group: Some(cache_parameter_group::key(&naming())),
        parameter_family: "redis7".into(),
        replicas: 1,
        snapshot_retention_days: 7,
        snapshot_window: "03:00-04:00".into(),
        encryption,
    }
}

/// The group's tags as ListTagsForResource answers them: the managed four.
fn group_tags() -> Rule {
    mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .match_requests(|r| {
            r.resource_name()
                .is_some_and(|n| n.ends_with(":spaaace-dev-redis"))
        })
        .then_output(|| {
            let mut out = ec_op::list_tags_for_resource::ListTagsForResourceOutput::builder();
            for (k, v) in naming().tags("spaaace-dev-redis") {
                out = out.tag_list(ec_ty::Tag::builder().key(k).value(v).build());
            }
            out.build()
        })
}

#[tokio::test]
async fn a_snapshotting_group_is_waited_for_then_modified_then_waited_for() {
    let before = describe_group(&["snapshotting", "snapshotting", "available"]);
    let modify = mock!(aws_sdk_elasticache::Client::modify_replication_group)
        .match_requests(|r| {
            r.replication_group_id() == Some("spaaace-dev-redis")
                && r.snapshot_retention_limit() == Some(7)
                && r.apply_immediately() == Some(true)
                && r.cache_node_type().is_none()
        })
        .then_output(|| {
            ec_op::modify_replication_group::ModifyReplicationGroupOutput::builder().build()
        });
    let after = describe_group(&["modifying", "modifying", "available"]);
    let c = ctx(Fakes {
        elasticache: vec![&before, &modify, &after],
        ..Fakes::default()
    });
    let current = observed(
        replication_group::KIND,
        "master.redis.test:6379",
        "spaaace-dev-redis",
    );
    redis(false)
        .update(
            &c,
            &current,
            &[change("snapshot_retention_days", "1", "7")],
            &Refs::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (before.num_calls(), modify.num_calls(), after.num_calls()),
        (3, 1, 3)
    );
}

#[tokio::test]
async fn encryption_cannot_change_in_place_and_nothing_is_called() {
    let c = ctx(Fakes::default());
    let current = observed(
        replication_group::KIND,
        "master.redis.test:6379",
        "spaaace-dev-redis",
    );
    let err = redis(true)
        .update(
            &c,
            &current,
            &[change("transit_encryption", "false", "true")],
            &Refs::default(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spaaace-dev-redis") && err.contains("transit_encryption"),
        "{err}"
    );
}

#[tokio::test]
async fn creation_sends_the_token_from_ssm_reads_the_group_back_through_creating_and_keeps_the_token_out(
) {
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    let token = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| {
            r.name() == Some("/spaaace/dev/redis-auth-token") && r.with_decryption() == Some(true)
        })
        .then_output(|| {
            aws_sdk_ssm::operation::get_parameter::GetParameterOutput::builder()
                .parameter(
                    aws_sdk_ssm::types::Parameter::builder()
                        .value(TOKEN)
                        .build(),
                )
                .build()
        });
    let create = mock!(aws_sdk_elasticache::Client::create_replication_group)
        .match_requests(|r| {
            r.auth_token() == Some(TOKEN)
                && r.transit_encryption_enabled() == Some(true)
                && r.at_rest_encryption_enabled() == Some(true)
                && r.multi_az_enabled() == Some(true)
                && r.automatic_failover_enabled() == Some(true)
                && r.replicas_per_node_group() == Some(1)
                && r.cache_parameter_group_name() == Some("spaaace-dev-redis-params")
                && r.cache_subnet_group_name() == Some("spaaace-dev-redis")
                && r.security_group_ids() == ["sg-redis"]
                && r.snapshot_retention_limit() == Some(7)
        })
        .then_output(|| {
            ec_op::create_replication_group::CreateReplicationGroupOutput::builder().build()
        });
    // Read back once, then polled until available: creating, creating,
    // available, each with its tags.
    let (d1, d2, d3) = (
        describe_group(&["creating"]),
        describe_group(&["creating"]),
        describe_group(&["available"]),
    );
    let (t1, t2, t3) = (group_tags(), group_tags(), group_tags());
    let c = ctx(Fakes {
        elasticache: vec![&create, &d1, &t1, &d2, &t2, &d3, &t3],
        ssm: vec![&token],
        ..Fakes::default()
    });
    let mut refs = Refs::default();
    refs.set(
        cache_subnet_group::key(&naming()),
        "spaaace-dev-redis".into(),
    );
    refs.set(
        cache_parameter_group::key(&naming()),
        "spaaace-dev-redis-params".into(),
    );
    refs.set(network().redis_security_group, "sg-redis".into());
    refs.set(
        auth_token::key(&naming()),
        "arn:aws:ssm:us-east-1:1:parameter/spaaace/dev/redis-auth-token".into(),
    );
    let o = engine::reconcile(&c, &redis(true), None, &refs)
        .await
        .unwrap();
    assert_eq!(
        o.id, "master.redis.test:6379",
        "the engine id is the primary endpoint"
    );
    assert!(o.is_ready());
    assert!(
        !format!("{o:?}").contains(TOKEN),
        "the token leaked into the observed group"
    );
    assert_eq!((token.num_calls(), create.num_calls()), (1, 1));
    assert_eq!(
        [
            d1.num_calls(),
            d2.num_calls(),
            d3.num_calls(),
            t3.num_calls()
        ],
        [1, 1, 1, 1]
    );
}

#[tokio::test]
async fn down_deletes_the_group_waits_until_it_is_gone_then_retries_the_subnet_group_while_in_use()
{
    let first = describe_group(&["available"]);
    let delete = mock!(aws_sdk_elasticache::Client::delete_replication_group)
        .match_requests(|r| r.replication_group_id() == Some("spaaace-dev-redis"))
        .then_output(|| {
            ec_op::delete_replication_group::DeleteReplicationGroupOutput::builder().build()
        });
    let deleting = describe_group(&["deleting", "deleting"]);
    let gone = mock!(aws_sdk_elasticache::Client::describe_replication_groups).then_error(|| {
        ec_op::describe_replication_groups::DescribeReplicationGroupsError::generic(meta(
            "ReplicationGroupNotFoundFault",
        ))
    });
    let in_use = mock!(aws_sdk_elasticache::Client::delete_cache_subnet_group)
        .match_requests(|r| r.cache_subnet_group_name() == Some("spaaace-dev-redis"))
        .sequence()
        .error(|| {
            ec_op::delete_cache_subnet_group::DeleteCacheSubnetGroupError::generic(meta(
                "CacheSubnetGroupInUse",
            ))
        })
        .times(2)
        .output(|| {
            ec_op::delete_cache_subnet_group::DeleteCacheSubnetGroupOutput::builder().build()
        })
        .build();
    let c = ctx(Fakes {
        elasticache: vec![&first, &delete, &deleting, &gone, &in_use],
        ..Fakes::default()
    });
    let mut rg = observed(
        replication_group::KIND,
        "master.redis.test:6379",
        "spaaace-dev-redis",
    );
    rg.details
        .insert("group_id".into(), "spaaace-dev-redis".into());
    replication_group::ReplicationGroupKind
        .delete(&c, &[rg])
        .await
        .unwrap();
    let subnets = observed(
        cache_subnet_group::KIND,
        "spaaace-dev-redis",
        "spaaace-dev-redis",
    );
    cache_subnet_group::CacheSubnetGroupKind
        .delete(&c, &[subnets])
        .await
        .unwrap();
    assert_eq!(
        delete.num_calls(),
        1,
        "one delete request, then only waiting"
    );
    assert_eq!((deleting.num_calls(), gone.num_calls()), (2, 1));
    assert_eq!(in_use.num_calls(), 3);
}

/// "InvalidReplicationGroupState: The requested replication group is not in
/// the available state." (ElastiCache API reference, DeleteReplicationGroup).
fn not_available() -> ec_op::delete_replication_group::DeleteReplicationGroupError {
    ec_op::delete_replication_group::DeleteReplicationGroupError::generic(crate::support::answer(
        "InvalidReplicationGroupState",
        "The requested replication group is not in the available state.",
    ))
}

#[tokio::test]
async fn a_group_still_creating_is_asked_again_until_aws_accepts_the_delete() {
    let creating = describe_group(&["creating"]);
    let refused =
        mock!(aws_sdk_elasticache::Client::delete_replication_group).then_error(not_available);
    let available = describe_group(&["available"]);
    let delete = mock!(aws_sdk_elasticache::Client::delete_replication_group).then_output(|| {
        ec_op::delete_replication_group::DeleteReplicationGroupOutput::builder().build()
    });
    let gone = mock!(aws_sdk_elasticache::Client::describe_replication_groups).then_error(|| {
        ec_op::describe_replication_groups::DescribeReplicationGroupsError::generic(meta(
            "ReplicationGroupNotFoundFault",
        ))
    });
    let c = ctx(Fakes {
        elasticache: vec![&creating, &refused, &available, &delete, &gone],
        ..Fakes::default()
    });
    let rg = observed(
        replication_group::KIND,
        "spaaace-dev-redis",
        "spaaace-dev-redis",
    );
    replication_group::ReplicationGroupKind
        .delete(&c, &[rg])
        .await
        .unwrap();
    assert_eq!(
        [refused.num_calls(), delete.num_calls(), gone.num_calls()],
        [1, 1, 1]
    );
}

#[tokio::test]
async fn a_group_that_failed_to_create_is_deleted_not_waited_for() {
    let failed = describe_group(&["create-failed"]);
    let delete = mock!(aws_sdk_elasticache::Client::delete_replication_group)
        .match_requests(|r| r.replication_group_id() == Some("spaaace-dev-redis"))
        .then_output(|| {
            ec_op::delete_replication_group::DeleteReplicationGroupOutput::builder().build()
        });
    let deleting = describe_group(&["deleting"]);
    let gone = mock!(aws_sdk_elasticache::Client::describe_replication_groups).then_error(|| {
        ec_op::describe_replication_groups::DescribeReplicationGroupsError::generic(meta(
            "ReplicationGroupNotFoundFault",
        ))
    });
    let c = ctx(Fakes {
        elasticache: vec![&failed, &delete, &deleting, &gone],
        ..Fakes::default()
    });
    let rg = observed(
        replication_group::KIND,
        "spaaace-dev-redis",
        "spaaace-dev-redis",
    );
    replication_group::ReplicationGroupKind
        .delete(&c, &[rg])
        .await
        .unwrap();
    assert_eq!((delete.num_calls(), gone.num_calls()), (1, 1));
}

fn describe_parameter_group() -> Rule {
    mock!(aws_sdk_elasticache::Client::describe_cache_parameter_groups).then_output(|| {
        ec_op::describe_cache_parameter_groups::DescribeCacheParameterGroupsOutput::builder()
            .cache_parameter_groups(
                ec_ty::CacheParameterGroup::builder()
                    .cache_parameter_group_name("spaaace-dev-redis-params")
                    .cache_parameter_group_family("redis7")
                    .arn("arn:pg")
                    .build(),
            )
            .build()
    })
}

fn parameter_group_tags() -> Rule {
    mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .match_requests(|r| r.resource_name() == Some("arn:pg"))
        .then_output(|| {
            let mut out = ec_op::list_tags_for_resource::ListTagsForResourceOutput::builder();
            for (k, v) in naming().tags("spaaace-dev-redis-params") {
                out = out.tag_list(ec_ty::Tag::builder().key(k).value(v).build());
            }
            out.build()
        })
}

fn user_parameters(eviction: Option<&'static str>) -> Rule {
    mock!(aws_sdk_elasticache::Client::describe_cache_parameters)
        .match_requests(|r| r.source() == Some("user"))
        .then_output(move || {
            let mut out =
                ec_op::describe_cache_parameters::DescribeCacheParametersOutput::builder();
            if let Some(v) = eviction {
                out = out.parameters(
                    ec_ty::Parameter::builder()
                        .parameter_name("maxmemory-policy")
                        .parameter_value(v)
                        .build(),
                );
            }
            out.build()
        })
}

#[tokio::test]
async fn the_parameter_group_is_created_then_given_exactly_its_parameters_and_read_back() {
    let create = mock!(aws_sdk_elasticache::Client::create_cache_parameter_group)
        .match_requests(|r| {
            r.cache_parameter_group_name() == Some("spaaace-dev-redis-params")
                && r.cache_parameter_group_family() == Some("redis7")
                && r.tags().len() == 4
        })
        .then_output(|| {
            ec_op::create_cache_parameter_group::CreateCacheParameterGroupOutput::builder()
                .cache_parameter_group(ec_ty::CacheParameterGroup::builder().arn("arn:pg").build())
                .build()
        });
    // Read back without parameters; after the change, with them.
    let (d1, t1, p1) = (
        describe_parameter_group(),
        parameter_group_tags(),
        user_parameters(None),
    );
    let modify = mock!(aws_sdk_elasticache::Client::modify_cache_parameter_group)
        .match_requests(|r| {
            let p = r.parameter_name_values();
            p.len() == 1
                && p[0].parameter_name() == Some("maxmemory-policy")
                && p[0].parameter_value() == Some("volatile-lru")
        })
        .then_output(|| {
            ec_op::modify_cache_parameter_group::ModifyCacheParameterGroupOutput::builder()
                .cache_parameter_group_name("spaaace-dev-redis-params")
                .build()
        });
    let (d2, t2, p2) = (
        describe_parameter_group(),
        parameter_group_tags(),
        user_parameters(Some("volatile-lru")),
    );
    let c = ctx(Fakes {
        elasticache: vec![&create, &d1, &t1, &p1, &modify, &d2, &t2, &p2],
        ..Fakes::default()
    });
    let pg = cache_parameter_group::CacheParameterGroup {
        naming: naming(),
        family: "redis7".into(),
        node_type: "cache.t4g.micro".into(),
    };
    let o = engine::reconcile(&c, &pg, None, &Refs::default())
        .await
        .unwrap();
    assert_eq!(
        o.attrs.get("param:maxmemory-policy").map(String::as_str),
        Some("volatile-lru")
    );
    assert_eq!(
        (create.num_calls(), modify.num_calls(), p2.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn discovery_reads_user_parameters_and_tags_of_the_parameter_group() {
    let describe =
        mock!(aws_sdk_elasticache::Client::describe_cache_parameter_groups).then_output(|| {
            ec_op::describe_cache_parameter_groups::DescribeCacheParameterGroupsOutput::builder()
                .cache_parameter_groups(
                    ec_ty::CacheParameterGroup::builder()
                        .cache_parameter_group_name("spaaace-dev-redis-params")
                        .cache_parameter_group_family("redis7")
                        .arn("arn:pg")
                        .build(),
                )
                .build()
        });
    let tags = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .match_requests(|r| r.resource_name() == Some("arn:pg"))
        .then_output(|| {
            let tag = |k: &str, v: &str| ec_ty::Tag::builder().key(k).value(v).build();
            ec_op::list_tags_for_resource::ListTagsForResourceOutput::builder()
                .tag_list(tag("Project", "spaaace"))
                .tag_list(tag("Environment", "dev"))
                .tag_list(tag("ManagedBy", provisioner::tags::MANAGED_BY))
                .tag_list(tag("Name", "spaaace-dev-redis-params"))
                .build()
        });
    let params = mock!(aws_sdk_elasticache::Client::describe_cache_parameters)
        .match_requests(|r| r.source() == Some("user"))
        .then_output(|| {
            ec_op::describe_cache_parameters::DescribeCacheParametersOutput::builder()
                .parameters(
                    ec_ty::Parameter::builder()
                        .parameter_name("maxmemory-policy")
                        .parameter_value("allkeys-lru")
                        .build(),
                )
                .build()
        });
    let c = ctx(Fakes {
        elasticache: vec![&describe, &tags, &params],
        ..Fakes::default()
    });
    let found = cache_parameter_group::CacheParameterGroupKind
        .discover(&c, &Default::default())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].owned);
    let pg = cache_parameter_group::CacheParameterGroup {
        naming: naming(),
        family: "redis7".into(),
        node_type: "cache.t4g.micro".into(),
    };
    let drift = provisioner::engine::diff(&pg.desired(&Refs::default()), &found[0].attrs);
    assert_eq!(drift.len(), 1);
    assert_eq!(
        drift[0].to_string(),
        "param:maxmemory-policy: allkeys-lru → volatile-lru"
    );
}

#[tokio::test]
async fn redis_failover_fails_over_the_primary_node_group() {
    let failover = mock!(aws_sdk_elasticache::Client::test_failover)
        .match_requests(|r| {
            r.replication_group_id() == Some("spaaace-dev-redis")
                && r.node_group_id() == Some("0001")
        })
        .then_output(|| ec_op::test_failover::TestFailoverOutput::builder().build());
    let c = ctx(Fakes {
        elasticache: vec![&failover],
        ..Fakes::default()
    });
    let report = provisioner::chaos::redis_failover(&c).await.unwrap();
    assert_eq!(failover.num_calls(), 1);
    assert!(
        report.targets[0].contains("spaaace-dev-redis") && report.undo.contains("nothing to undo")
    );
}

#[tokio::test]
async fn redis_failover_without_a_group_says_to_run_up() {
    let missing = mock!(aws_sdk_elasticache::Client::test_failover).then_error(|| {
        ec_op::test_failover::TestFailoverError::generic(meta("ReplicationGroupNotFoundFault"))
    });
    let c = ctx(Fakes {
        elasticache: vec![&missing],
        ..Fakes::default()
    });
    let err = provisioner::chaos::redis_failover(&c)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spaaace-dev-redis") && err.contains("run `up` first"),
        "{err}"
    );
}
