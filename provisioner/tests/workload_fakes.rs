//! What moto 5.2.5 cannot show, against SDK-level fakes (aws-smithy-mocks):
//! ElastiCache parameter groups, TestFailover, DeleteCacheSubnetGroup,
//! transitional states (creating, modifying, snapshotting, deleting,
//! draining), AWS's DuplicateListener, and the waits of `deploy`. Each fake
//! client answers a fixed sequence of calls and panics on any other call,
//! so a test also checks the exact calls in their order.

use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use provisioner::aws::AwsContext;
use provisioner::calls::CallCounter;
use provisioner::engine::{Change, Ctx, Kind, Observed, Refs, Resource};
use provisioner::tags::Naming;
use provisioner::wait::WaitPolicy;
use provisioner::workload::*;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticache::operation as ec_op;
use aws_sdk_elasticache::types as ec_ty;

/// One fake client per service; an empty rule list answers nothing.
#[derive(Default)]
struct Fakes<'a> {
    ec2: Vec<&'a Rule>,
    autoscaling: Vec<&'a Rule>,
    elasticache: Vec<&'a Rule>,
    ecs: Vec<&'a Rule>,
    elbv2: Vec<&'a Rule>,
    ssm: Vec<&'a Rule>,
}

/// A client of `$sdk` answered by `$rules`, in order (the crates'
/// `test-util` feature is not needed, so the SDK is not built twice).
macro_rules! fake_client {
    ($sdk:ident, $rules:expr) => {{
        let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for rule in $rules {
            mocks = mocks.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-east-1"))
                .credentials_provider($sdk::config::Credentials::new(
                    "AKIDFAKE", "fake", None, None, "fake",
                ))
                .http_client(create_mock_http_client())
                .interceptor(mocks)
                .build(),
        )
    }};
}

fn ctx(f: Fakes<'_>) -> Ctx {
    let aws = AwsContext {
        sdk: aws_types::SdkConfig::builder().build(),
        ec2: fake_client!(aws_sdk_ec2, f.ec2),
        ecs: fake_client!(aws_sdk_ecs, f.ecs),
        autoscaling: fake_client!(aws_sdk_autoscaling, f.autoscaling),
        elbv2: fake_client!(aws_sdk_elasticloadbalancingv2, f.elbv2),
        elasticache: fake_client!(aws_sdk_elasticache, f.elasticache),
        iam: fake_client!(aws_sdk_iam, Vec::<&Rule>::new()),
        ssm: fake_client!(aws_sdk_ssm, f.ssm),
        calls: CallCounter::new(),
    };
    Ctx {
        aws: Arc::new(aws),
        naming: Naming::new("spaaace", "dev"),
        wait: WaitPolicy {
            interval: Duration::from_millis(1),
            timeout: Duration::from_secs(10),
            report_every: Duration::from_secs(60),
        },
        concurrency: 4,
    }
}

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("fake {code}"))
        .build()
}

fn network() -> NetworkKeys {
    let k = |kind, name: &str| provisioner::engine::Key::new(kind, name);
    NetworkKeys {
        vpc: k(VPC_KIND, "spaaace-dev-vpc"),
        public_subnets: vec![k(SUBNET_KIND, "pub-a"), k(SUBNET_KIND, "pub-b")],
        private_subnets: vec![k(SUBNET_KIND, "priv-a"), k(SUBNET_KIND, "priv-b")],
        alb_security_group: k(SECURITY_GROUP_KIND, "alb"),
        ecs_security_group: k(SECURITY_GROUP_KIND, "ecs"),
        redis_security_group: k(SECURITY_GROUP_KIND, "redis"),
    }
}

fn group(status: &str) -> ec_ty::ReplicationGroup {
    ec_ty::ReplicationGroup::builder()
        .replication_group_id("spaaace-dev-redis")
        .status(status)
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
        parameter_group: Some(cache_parameter_group::key(&Naming::new("spaaace", "dev"))),
        parameter_family: "redis7".into(),
        replicas: 1,
        snapshot_retention_days: 7,
        snapshot_window: "03:00-04:00".into(),
        encryption,
    }
}

fn change(attr: &str, old: &str, new: &str) -> Change {
    Change {
        attr: attr.into(),
        old: Some(old.into()),
        new: Some(new.into()),
    }
}

fn observed(kind: &'static str, id: &str, name: &str) -> Observed {
    Observed {
        kind,
        id: id.into(),
        name: Some(name.into()),
        attrs: Default::default(),
        details: Default::default(),
        ready: true,
        owned: true,
    }
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
async fn creation_sends_the_token_from_ssm_waits_through_creating_and_keeps_the_token_out_of_the_result(
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
    let waits = describe_group(&["creating", "creating", "available"]);
    let c = ctx(Fakes {
        elasticache: vec![&create, &waits],
        ssm: vec![&token],
        ..Fakes::default()
    });
    let naming = Naming::new("spaaace", "dev");
    let mut refs = Refs::default();
    refs.set(cache_subnet_group::key(&naming), "spaaace-dev-redis".into());
    refs.set(
        cache_parameter_group::key(&naming),
        "spaaace-dev-redis-params".into(),
    );
    refs.set(network().redis_security_group, "sg-redis".into());
    refs.set(
        auth_token::key(&naming),
        "arn:aws:ssm:us-east-1:1:parameter/spaaace/dev/redis-auth-token".into(),
    );
    let o = redis(true).create(&c, &refs).await.unwrap();
    assert_eq!(
        o.id, "master.redis.test:6379",
        "the engine id is the primary endpoint"
    );
    assert!(o.ready);
    assert!(
        !format!("{o:?}").contains(TOKEN),
        "the token leaked into the observed group"
    );
    assert_eq!(
        (token.num_calls(), create.num_calls(), waits.num_calls()),
        (1, 1, 3)
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

#[tokio::test]
async fn a_group_still_creating_is_waited_for_before_the_delete_is_sent() {
    let states = describe_group(&["creating", "available"]);
    let delete = mock!(aws_sdk_elasticache::Client::delete_replication_group).then_output(|| {
        ec_op::delete_replication_group::DeleteReplicationGroupOutput::builder().build()
    });
    let gone = mock!(aws_sdk_elasticache::Client::describe_replication_groups).then_error(|| {
        ec_op::describe_replication_groups::DescribeReplicationGroupsError::generic(meta(
            "ReplicationGroupNotFoundFault",
        ))
    });
    let c = ctx(Fakes {
        elasticache: vec![&states, &delete, &gone],
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
        (states.num_calls(), delete.num_calls(), gone.num_calls()),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn the_parameter_group_is_created_then_given_exactly_its_parameters() {
    let naming = Naming::new("spaaace", "dev");
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
    let c = ctx(Fakes {
        elasticache: vec![&create, &modify],
        ..Fakes::default()
    });
    let pg = cache_parameter_group::CacheParameterGroup {
        naming: naming.clone(),
        family: "redis7".into(),
        node_type: "cache.t4g.micro".into(),
    };
    let refs = Refs::default();
    let created = pg.create(&c, &refs).await.unwrap();
    // The engine then applies what creation did not set: the parameters.
    let changes = provisioner::engine::diff(&pg.desired(&refs), &created.attrs);
    assert_eq!(changes.len(), 1, "{changes:?}");
    pg.update(&c, &created, &changes, &refs).await.unwrap();
    assert_eq!((create.num_calls(), modify.num_calls()), (1, 1));
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
        naming: Naming::new("spaaace", "dev"),
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

#[tokio::test]
async fn a_duplicate_listener_is_adopted_and_repaired_not_a_failure() {
    use aws_sdk_elasticloadbalancingv2::operation as op;
    use aws_sdk_elasticloadbalancingv2::types as ty;
    let naming = Naming::new("spaaace", "dev");
    let create = mock!(aws_sdk_elasticloadbalancingv2::Client::create_listener)
        .match_requests(|r| r.port() == Some(80) && r.load_balancer_arn() == Some("arn:lb"))
        .then_error(|| {
            op::create_listener::CreateListenerError::generic(meta("DuplicateListener"))
        });
    let listeners = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners)
        .match_requests(|r| r.load_balancer_arn() == Some("arn:lb"))
        .then_output(|| {
            op::describe_listeners::DescribeListenersOutput::builder()
                .listeners(
                    ty::Listener::builder()
                        .listener_arn("arn:listener-80")
                        .port(80)
                        .protocol(ty::ProtocolEnum::Http)
                        .default_actions(
                            ty::Action::builder()
                                .r#type(ty::ActionTypeEnum::Forward)
                                .target_group_arn("arn:other-tg")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let tags = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags)
        .match_requests(|r| r.resource_arns() == ["arn:listener-80"])
        .then_output(|| op::describe_tags::DescribeTagsOutput::builder().build());
    let modify = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_listener)
        .match_requests(|r| {
            r.listener_arn() == Some("arn:listener-80")
                && r.default_actions()
                    .first()
                    .and_then(|a| a.target_group_arn())
                    == Some("arn:game-tg")
        })
        .then_output(|| op::modify_listener::ModifyListenerOutput::builder().build());
    let tag = mock!(aws_sdk_elasticloadbalancingv2::Client::add_tags)
        .match_requests(|r| r.resource_arns() == ["arn:listener-80"] && r.tags().len() == 4)
        .then_output(|| op::add_tags::AddTagsOutput::builder().build());
    let c = ctx(Fakes {
        elbv2: vec![&create, &listeners, &tags, &modify, &tag],
        ..Fakes::default()
    });
    let mut refs = Refs::default();
    refs.set(load_balancer::key(&naming), "arn:lb".into());
    refs.set(target_group::key(&naming), "arn:game-tg".into());
    let l = listener::Listener {
        naming: naming.clone(),
        port: 80,
        certificate_arn: None,
    };
    let adopted = l.create(&c, &refs).await.unwrap();
    assert_eq!(adopted.id, "arn:listener-80");
    let changes = provisioner::engine::diff(&l.desired(&refs), &adopted.attrs);
    assert!(
        changes
            .iter()
            .any(|c| c.to_string() == "target_group: arn:other-tg → arn:game-tg"),
        "{changes:?}"
    );
    l.update(&c, &adopted, &changes, &refs).await.unwrap();
    assert_eq!(
        (create.num_calls(), modify.num_calls(), tag.num_calls()),
        (1, 1, 1)
    );
}

fn service(deployments: usize, running: i32, rollout: &str) -> aws_sdk_ecs::types::Service {
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState};
    let mut s = aws_sdk_ecs::types::Service::builder()
        .service_name("spaaace-dev-gameserver")
        .service_arn("arn:svc")
        .status("ACTIVE")
        .desired_count(2)
        .running_count(running)
        .pending_count(2 - running);
    for i in 0..deployments {
        s = s.deployments(
            Deployment::builder()
                .status(if i == 0 { "PRIMARY" } else { "ACTIVE" })
                .rollout_state(DeploymentRolloutState::from(rollout))
                .rollout_state_reason("fake reason: tasks failed to start")
                .build(),
        );
    }
    s.build()
}

fn describe_services(states: Vec<aws_sdk_ecs::types::Service>) -> Rule {
    let mut seq = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|r| {
            r.cluster() == Some("spaaace-dev-cluster") && r.services() == ["spaaace-dev-gameserver"]
        })
        .sequence();
    for s in states {
        seq = seq.output(move || {
            aws_sdk_ecs::operation::describe_services::DescribeServicesOutput::builder()
                .services(s.clone())
                .build()
        });
    }
    seq.build()
}

fn gameserver_task(image: &str) -> task_definition::TaskDefinition {
    let naming = Naming::new("spaaace", "dev");
    task_definition::TaskDefinition {
        naming: naming.clone(),
        spec: task_definition::TaskSpec {
            image: image.into(),
            port: 3000,
            cpu: 512,
            memory_mib: 768,
            stop_timeout: 40,
            redis_enabled: true,
            hydration_enabled: true,
            redis_tls: false,
            region: "us-east-1".into(),
        },
        replication_group: Some(replication_group::key(&naming)),
        execution_role: provisioner::engine::Key::new(
            iam_role::KIND,
            iam_role::execution_role_name(&naming),
        ),
        auth_token: None,
    }
}

fn deploy_refs() -> Refs {
    let naming = Naming::new("spaaace", "dev");
    let mut refs = Refs::default();
    refs.set(
        replication_group::key(&naming),
        "master.redis.test:6379".into(),
    );
    refs.set(
        provisioner::engine::Key::new(iam_role::KIND, iam_role::execution_role_name(&naming)),
        "arn:exec-role".into(),
    );
    refs
}

fn register_rule(image: &'static str) -> Rule {
    mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(move |r| {
            let c = &r.container_definitions()[0];
            let env = |n: &str| {
                c.environment()
                    .iter()
                    .find(|e| e.name() == Some(n))
                    .and_then(|e| e.value())
            };
            c.image() == Some(image)
                && env("REDIS_URL") == Some("redis://master.redis.test:6379")
                && c.stop_timeout() == Some(40)
                && r.execution_role_arn() == Some("arn:exec-role")
        })
        .then_output(|| {
            aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput::builder(
            )
            .task_definition(
                aws_sdk_ecs::types::TaskDefinition::builder()
                    .task_definition_arn("arn:td:7")
                    .family("spaaace-dev-gameserver")
                    .build(),
            )
            .build()
        })
}

#[tokio::test]
async fn deploy_registers_a_revision_moves_the_service_and_waits_until_steady() {
    let exists = describe_services(vec![service(1, 2, "COMPLETED")]);
    let register = register_rule("ghcr.io/spaaace/gameserver:2");
    let update = mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|r| {
            r.task_definition() == Some("arn:td:7") && r.service() == Some("spaaace-dev-gameserver")
        })
        .then_output(|| {
            aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
        });
    let rolling = describe_services(vec![
        service(2, 2, "IN_PROGRESS"),
        service(1, 1, "IN_PROGRESS"),
        service(1, 2, "COMPLETED"),
    ]);
    let c = ctx(Fakes {
        ecs: vec![&exists, &register, &update, &rolling],
        ..Fakes::default()
    });
    let report = provisioner::deploy::deploy(
        &c,
        &gameserver_task("ghcr.io/spaaace/gameserver:2"),
        &deploy_refs(),
        &c.wait,
    )
    .await
    .unwrap();
    assert_eq!(report.task_definition, "arn:td:7");
    assert_eq!(
        (
            register.num_calls(),
            update.num_calls(),
            rolling.num_calls()
        ),
        (1, 1, 3)
    );
}

#[tokio::test]
async fn deploy_reports_a_rolled_back_deployment_as_an_error() {
    let exists = describe_services(vec![service(1, 2, "COMPLETED")]);
    let register = register_rule("ghcr.io/spaaace/gameserver:broken");
    let update = mock!(aws_sdk_ecs::Client::update_service).then_output(|| {
        aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
    });
    let failing = describe_services(vec![service(2, 2, "IN_PROGRESS"), service(2, 2, "FAILED")]);
    let c = ctx(Fakes {
        ecs: vec![&exists, &register, &update, &failing],
        ..Fakes::default()
    });
    let err = provisioner::deploy::deploy(
        &c,
        &gameserver_task("ghcr.io/spaaace/gameserver:broken"),
        &deploy_refs(),
        &c.wait,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("deployment failed") && err.contains("tasks failed to start"),
        "{err}"
    );
}

#[tokio::test]
async fn down_scales_the_service_to_zero_deletes_it_and_waits_while_it_drains() {
    let scale = mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|r| r.desired_count() == Some(0))
        .then_output(|| {
            aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
        });
    let delete = mock!(aws_sdk_ecs::Client::delete_service)
        .match_requests(|r| r.force() == Some(true))
        .then_output(|| {
            aws_sdk_ecs::operation::delete_service::DeleteServiceOutput::builder().build()
        });
    let mut draining = service(1, 0, "COMPLETED");
    draining.status = Some("DRAINING".into());
    let mut inactive = draining.clone();
    inactive.status = Some("INACTIVE".into());
    let waits = describe_services(vec![draining.clone(), draining, inactive]);
    let c = ctx(Fakes {
        ecs: vec![&scale, &delete, &waits],
        ..Fakes::default()
    });
    let mut svc = observed(ecs_service::KIND, "arn:svc", "spaaace-dev-gameserver");
    svc.details
        .insert("cluster".into(), "spaaace-dev-cluster".into());
    ecs_service::EcsServiceKind
        .delete(&c, &[svc])
        .await
        .unwrap();
    assert_eq!(
        (scale.num_calls(), delete.num_calls(), waits.num_calls()),
        (1, 1, 3)
    );
}

fn host_template() -> launch_template::LaunchTemplate {
    launch_template::LaunchTemplate {
        naming: Naming::new("spaaace", "dev"),
        network: network(),
        ami: "ami-new".into(),
        instance_type: "t3.small".into(),
        root_volume_gb: 30,
    }
}

fn template_refs() -> Refs {
    let mut refs = Refs::default();
    refs.set(network().ecs_security_group, "sg-ecs".into());
    refs
}

#[tokio::test]
async fn a_new_ami_makes_a_default_version_and_refreshes_the_hosts_protected_or_not() {
    use aws_sdk_autoscaling::types::ScaleInProtectedInstances;
    let version = mock!(aws_sdk_ec2::Client::create_launch_template_version)
        .match_requests(|r| {
            r.launch_template_id() == Some("lt-1")
                && r.launch_template_data().and_then(|d| d.image_id()) == Some("ami-new")
        })
        .then_output(|| {
            aws_sdk_ec2::operation::create_launch_template_version::CreateLaunchTemplateVersionOutput::builder()
                .launch_template_version(aws_sdk_ec2::types::LaunchTemplateVersion::builder().version_number(4).build())
                .build()
        });
    let default = mock!(aws_sdk_ec2::Client::modify_launch_template)
        .match_requests(|r| {
            r.launch_template_id() == Some("lt-1") && r.default_version() == Some("4")
        })
        .then_output(|| {
            aws_sdk_ec2::operation::modify_launch_template::ModifyLaunchTemplateOutput::builder()
                .build()
        });
    let refresh = mock!(aws_sdk_autoscaling::Client::start_instance_refresh)
        .match_requests(|r| {
            let p = r.preferences();
            r.auto_scaling_group_name() == Some("spaaace-dev-ecs-hosts")
                && p.and_then(|p| p.min_healthy_percentage()) == Some(100)
                && p.and_then(|p| p.scale_in_protected_instances()) == Some(&ScaleInProtectedInstances::Refresh)
        })
        .then_output(|| {
            aws_sdk_autoscaling::operation::start_instance_refresh::StartInstanceRefreshOutput::builder()
                .instance_refresh_id("refresh-1")
                .build()
        });
    let c = ctx(Fakes {
        ec2: vec![&version, &default],
        autoscaling: vec![&refresh],
        ..Fakes::default()
    });
    let current = observed(launch_template::KIND, "lt-1", "spaaace-dev-ecs-host");
    host_template()
        .update(
            &c,
            &current,
            &[change("image", "ami-old", "ami-new")],
            &template_refs(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            version.num_calls(),
            default.num_calls(),
            refresh.num_calls()
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_refresh_already_running_picks_the_new_version_up() {
    let version = mock!(aws_sdk_ec2::Client::create_launch_template_version).then_output(|| {
        aws_sdk_ec2::operation::create_launch_template_version::CreateLaunchTemplateVersionOutput::builder()
            .launch_template_version(aws_sdk_ec2::types::LaunchTemplateVersion::builder().version_number(5).build())
            .build()
    });
    let default = mock!(aws_sdk_ec2::Client::modify_launch_template).then_output(|| {
        aws_sdk_ec2::operation::modify_launch_template::ModifyLaunchTemplateOutput::builder()
            .build()
    });
    let busy = mock!(aws_sdk_autoscaling::Client::start_instance_refresh).then_error(|| {
        aws_sdk_autoscaling::operation::start_instance_refresh::StartInstanceRefreshError::generic(
            meta("InstanceRefreshInProgress"),
        )
    });
    let c = ctx(Fakes {
        ec2: vec![&version, &default],
        autoscaling: vec![&busy],
        ..Fakes::default()
    });
    let current = observed(launch_template::KIND, "lt-1", "spaaace-dev-ecs-host");
    host_template()
        .update(
            &c,
            &current,
            &[change("instance_type", "t3.micro", "t3.small")],
            &template_refs(),
        )
        .await
        .unwrap();
    assert_eq!(busy.num_calls(), 1);
}
