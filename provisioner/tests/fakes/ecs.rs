//! ECS against SDK-level fakes: deployments rolling out, rolled back and
//! draining, which moto (no container instances, no scheduler) cannot show.

use crate::support::{ctx, naming, observed, Fakes};
use aws_smithy_mocks::{mock, Rule};
use provisioner::engine::{Kind, Refs, Resource};
use provisioner::workload::*;

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
    let naming = naming();
    task_definition::TaskDefinition {
        naming: naming.clone(),
        spec: task_definition::TaskSpec {
            image: task_definition::Image::Given(image.into()),
            port: 3000,
            cpu: 512,
            memory_mib: 768,
            stop_timeout: 40,
            health_check_path: "/ready".into(),
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
    let naming = naming();
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

use aws_sdk_elasticloadbalancingv2::operation as elb_op;
use aws_sdk_elasticloadbalancingv2::types as elb_ty;

fn target_group_lookup() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
        .match_requests(|r| r.names() == ["spaaace-dev-game"])
        .then_output(|| {
            elb_op::describe_target_groups::DescribeTargetGroupsOutput::builder()
                .target_groups(
                    elb_ty::TargetGroup::builder()
                        .target_group_name("spaaace-dev-game")
                        .target_group_arn("arn:tg")
                        .build(),
                )
                .build()
        })
}

/// The target group's targets: `healthy` of them healthy, the rest initial.
fn targets(healthy: usize, total: usize) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .match_requests(|r| r.target_group_arn() == Some("arn:tg"))
        .then_output(move || {
            let mut out = elb_op::describe_target_health::DescribeTargetHealthOutput::builder();
            for i in 0..total {
                let state = if i < healthy {
                    elb_ty::TargetHealthStateEnum::Healthy
                } else {
                    elb_ty::TargetHealthStateEnum::Initial
                };
                out = out.target_health_descriptions(
                    elb_ty::TargetHealthDescription::builder()
                        .target(
                            elb_ty::TargetDescription::builder()
                                .id(format!("i-{i}"))
                                .build(),
                        )
                        .target_health(elb_ty::TargetHealth::builder().state(state).build())
                        .build(),
                );
            }
            out.build()
        })
}

fn load_balancer_lookup() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers)
        .match_requests(|r| r.names() == ["spaaace-dev-alb"])
        .then_output(|| {
            elb_op::describe_load_balancers::DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    elb_ty::LoadBalancer::builder()
                        .load_balancer_name("spaaace-dev-alb")
                        .dns_name("spaaace-dev-alb-1.elb.test")
                        .build(),
                )
                .build()
        })
}

fn update_to(revision: &'static str) -> Rule {
    mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(move |r| {
            r.task_definition() == Some(revision) && r.service() == Some("spaaace-dev-gameserver")
        })
        .then_output(|| {
            aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
        })
}

#[tokio::test]
async fn deploy_registers_a_revision_moves_the_service_and_waits_until_the_game_answers() {
    let exists = describe_services(vec![service(1, 2, "COMPLETED")]);
    let register = register_rule("ghcr.io/spaaace/gameserver:2");
    let update = update_to("arn:td:7");
    // Two deployments, then one half running, then all running but one
    // target still starting, then both healthy.
    let rolling = describe_services(vec![
        service(2, 2, "IN_PROGRESS"),
        service(1, 1, "IN_PROGRESS"),
        service(1, 2, "COMPLETED"),
        service(1, 2, "COMPLETED"),
    ]);
    let (tg, h0, h1, h1b, h2, lb) = (
        target_group_lookup(),
        targets(0, 1),
        targets(1, 2),
        targets(1, 2),
        targets(2, 2),
        load_balancer_lookup(),
    );
    let c = ctx(Fakes {
        ecs: vec![&exists, &register, &update, &rolling],
        elbv2: vec![&tg, &h0, &h1, &h1b, &h2, &lb],
        ..Fakes::default()
    });
    let report = provisioner::deploy::deploy(
        &c,
        &gameserver_task("ghcr.io/spaaace/gameserver:2"),
        &deploy_refs(),
        &c.wait,
        false,
    )
    .await
    .unwrap();
    assert_eq!(report.task_definition, "arn:td:7");
    assert_eq!(report.url, "http://spaaace-dev-alb-1.elb.test/");
    assert_eq!(
        [
            register.num_calls(),
            update.num_calls(),
            rolling.num_calls(),
            h2.num_calls()
        ],
        [1, 1, 4, 1]
    );
}

/// ECS's words when the image cannot be pulled (ECS developer guide,
/// "CannotPullContainer task errors").
const PULL_FAILED: &str = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ghcr.io/spaaace/gameserver:broken: not found";

fn stopped_tasks() -> (Rule, Rule) {
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .match_requests(|r| {
            r.service_name() == Some("spaaace-dev-gameserver")
                && r.desired_status() == Some(&aws_sdk_ecs::types::DesiredStatus::Stopped)
        })
        .then_output(|| {
            aws_sdk_ecs::operation::list_tasks::ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:us-east-1:1:task/spaaace-dev-cluster/abc123")
                .build()
        });
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
        aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput::builder()
            .tasks(
                aws_sdk_ecs::types::Task::builder()
                    .task_arn("arn:aws:ecs:us-east-1:1:task/spaaace-dev-cluster/abc123")
                    .stopped_reason("Task failed to start")
                    .containers(
                        aws_sdk_ecs::types::Container::builder()
                            .name("gameserver")
                            .reason(PULL_FAILED)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    (list, describe)
}

#[tokio::test]
async fn deploy_reports_a_rolled_back_deployment_with_the_events_and_why_tasks_stopped() {
    let exists = describe_services(vec![service(1, 2, "COMPLETED")]);
    let register = register_rule("ghcr.io/spaaace/gameserver:broken");
    let update = update_to("arn:td:7");
    let failing = describe_services(vec![service(2, 2, "IN_PROGRESS"), service(2, 2, "FAILED")]);
    let mut with_events = service(2, 2, "FAILED");
    with_events.events = Some(vec![aws_sdk_ecs::types::ServiceEvent::builder()
        .message("(service spaaace-dev-gameserver) deployment ecs-svc/1 deployment failed: tasks failed to start.")
        .build()]);
    let diagnosis = describe_services(vec![with_events]);
    let (list, described) = stopped_tasks();
    let (tg, h1, h2) = (target_group_lookup(), targets(2, 2), targets(2, 2));
    let c = ctx(Fakes {
        ecs: vec![
            &exists, &register, &update, &failing, &diagnosis, &list, &described,
        ],
        elbv2: vec![&tg, &h1, &h2],
        ..Fakes::default()
    });
    let err = provisioner::deploy::deploy(
        &c,
        &gameserver_task("ghcr.io/spaaace/gameserver:broken"),
        &deploy_refs(),
        &c.wait,
        false,
    )
    .await
    .unwrap_err()
    .to_string();
    for needle in [
        "rolled back",
        "fake reason: tasks failed to start",
        "deployment failed: tasks failed to start",
        "task abc123 stopped: Task failed to start",
        "CannotPullContainerError",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
}

#[tokio::test]
async fn down_scales_the_service_to_zero_deletes_it_and_waits_while_it_drains() {
    let mut active = service(1, 1, "COMPLETED");
    active.status = Some("ACTIVE".into());
    let before = describe_services(vec![active]);
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
        ecs: vec![&before, &scale, &delete, &waits],
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

#[tokio::test]
async fn a_delete_answered_not_found_while_the_service_still_exists_is_sent_again() {
    // Right after a create, ECS may not know the service everywhere yet.
    let not_yet = || {
        aws_sdk_ecs::operation::delete_service::DeleteServiceError::generic(crate::support::answer(
            "ServiceNotFoundException",
            "Service not found.",
        ))
    };
    let mut active = service(1, 1, "COMPLETED");
    active.status = Some("ACTIVE".into());
    let first = describe_services(vec![active.clone()]);
    let scale = mock!(aws_sdk_ecs::Client::update_service).then_output(|| {
        aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
    });
    let missed = mock!(aws_sdk_ecs::Client::delete_service).then_error(not_yet);
    let again = describe_services(vec![active]);
    let rescale = mock!(aws_sdk_ecs::Client::update_service).then_output(|| {
        aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
    });
    let delete = mock!(aws_sdk_ecs::Client::delete_service).then_output(|| {
        aws_sdk_ecs::operation::delete_service::DeleteServiceOutput::builder().build()
    });
    let mut inactive = service(1, 0, "COMPLETED");
    inactive.status = Some("INACTIVE".into());
    let gone = describe_services(vec![inactive]);
    let c = ctx(Fakes {
        ecs: vec![&first, &scale, &missed, &again, &rescale, &delete, &gone],
        ..Fakes::default()
    });
    ecs_service::delete_service(&c, "spaaace-dev-cluster", "spaaace-dev-gameserver")
        .await
        .unwrap();
    assert_eq!((missed.num_calls(), delete.num_calls()), (1, 1));
}

/// ECS's answer in a new account while it creates its service-linked role
/// (terraform-provider-aws internal/service/ecs/cluster.go retries it).
fn no_service_linked_role() -> aws_sdk_ecs::operation::create_cluster::CreateClusterError {
    aws_sdk_ecs::operation::create_cluster::CreateClusterError::generic(crate::support::answer(
        "InvalidParameterException",
        "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
    ))
}

#[tokio::test]
async fn a_new_accounts_cluster_is_created_again_while_ecs_sets_up_its_role() {
    let create = mock!(aws_sdk_ecs::Client::create_cluster)
        .match_requests(|r| r.cluster_name() == Some("spaaace-dev-cluster") && r.tags().len() == 4)
        .sequence()
        .error(no_service_linked_role)
        .times(2)
        .output(|| aws_sdk_ecs::operation::create_cluster::CreateClusterOutput::builder().build())
        .build();
    let c = ctx(Fakes {
        ecs: vec![&create],
        ..Fakes::default()
    });
    let cluster = ecs_cluster::EcsCluster { naming: naming() };
    let refs = Refs::default();
    let name = provisioner::retry::settling(&c, ecs_cluster::KIND, "cluster", || {
        cluster.create(&c, &refs)
    })
    .await
    .unwrap();
    assert_eq!(
        (name.as_str(), create.num_calls()),
        ("spaaace-dev-cluster", 3)
    );
}

#[tokio::test]
async fn the_service_is_created_again_until_its_target_group_has_a_load_balancer() {
    let create = mock!(aws_sdk_ecs::Client::create_service)
        .match_requests(|r| {
            r.service_name() == Some("spaaace-dev-gameserver")
                && r.load_balancers()[0].target_group_arn() == Some("arn:tg")
        })
        .sequence()
        .error(|| {
            aws_sdk_ecs::operation::create_service::CreateServiceError::generic(crate::support::answer(
                "InvalidParameterException",
                "The target group with targetGroupArn arn:tg does not have an associated load balancer.",
            ))
        })
        .output(|| aws_sdk_ecs::operation::create_service::CreateServiceOutput::builder().build())
        .build();
    let c = ctx(Fakes {
        ecs: vec![&create],
        ..Fakes::default()
    });
    let svc = ecs_service::EcsService {
        naming: naming(),
        task: std::sync::Arc::new(gameserver_task("ghcr.io/spaaace/gameserver:1")),
        desired_count: 1,
        port: 3000,
        health_check_grace_seconds: 60,
    };
    let mut refs = deploy_refs();
    refs.set(target_group::key(&naming()), "arn:tg".into());
    provisioner::retry::settling(&c, ecs_service::KIND, "service", || svc.create(&c, &refs))
        .await
        .unwrap();
    assert_eq!(create.num_calls(), 2);
}

fn provider(status: &str, update: Option<&str>) -> aws_sdk_ecs::types::CapacityProvider {
    use aws_sdk_ecs::types::{CapacityProviderStatus, CapacityProviderUpdateStatus};
    let mut p = aws_sdk_ecs::types::CapacityProvider::builder()
        .name("spaaace-dev-hosts")
        .status(CapacityProviderStatus::from(status));
    if let Some(u) = update {
        p = p
            .update_status(CapacityProviderUpdateStatus::from(u))
            .update_status_reason("The capacity provider is in use by the cluster.");
    }
    p.build()
}

fn describe_provider(p: aws_sdk_ecs::types::CapacityProvider) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_capacity_providers)
        .match_requests(|r| r.capacity_providers() == ["spaaace-dev-hosts"])
        .then_output(move || {
            aws_sdk_ecs::operation::describe_capacity_providers::DescribeCapacityProvidersOutput::builder()
                .capacity_providers(p.clone())
                .build()
        })
}

fn delete_provider() -> Rule {
    mock!(aws_sdk_ecs::Client::delete_capacity_provider)
        .match_requests(|r| r.capacity_provider() == Some("spaaace-dev-hosts"))
        .then_output(|| {
            aws_sdk_ecs::operation::delete_capacity_provider::DeleteCapacityProviderOutput::builder(
            )
            .build()
        })
}

#[tokio::test]
async fn a_capacity_provider_delete_that_failed_is_sent_again_not_waited_on() {
    let active = describe_provider(provider("ACTIVE", None));
    let first = delete_provider();
    let deleting = describe_provider(provider("ACTIVE", Some("DELETE_IN_PROGRESS")));
    let failed = describe_provider(provider("ACTIVE", Some("DELETE_FAILED")));
    let again = delete_provider();
    let deleted = describe_provider(provider("INACTIVE", Some("DELETE_COMPLETE")));
    let c = ctx(Fakes {
        ecs: vec![&active, &first, &deleting, &failed, &again, &deleted],
        ..Fakes::default()
    });
    let p = observed(
        capacity_provider::KIND,
        "spaaace-dev-hosts",
        "spaaace-dev-hosts",
    );
    capacity_provider::CapacityProviderKind
        .delete(&c, &[p])
        .await
        .unwrap();
    assert_eq!(
        [first.num_calls(), again.num_calls(), deleted.num_calls()],
        [1, 1, 1]
    );
}

fn cluster_attachments(status: &str) -> Rule {
    let status = status.to_string();
    mock!(aws_sdk_ecs::Client::describe_clusters)
        .match_requests(|r| r.clusters() == ["spaaace-dev-cluster"])
        .then_output(move || {
            aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder()
                .clusters(
                    aws_sdk_ecs::types::Cluster::builder()
                        .cluster_name("spaaace-dev-cluster")
                        .status("ACTIVE")
                        .attachments_status(status.clone())
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn detaching_the_providers_is_retried_while_busy_and_waits_for_the_cluster_to_settle() {
    use aws_sdk_ecs::operation::put_cluster_capacity_providers as put;
    // ECS API reference, PutClusterCapacityProviders errors.
    let detach = mock!(aws_sdk_ecs::Client::put_cluster_capacity_providers)
        .match_requests(|r| {
            r.cluster() == Some("spaaace-dev-cluster") && r.capacity_providers().is_empty()
        })
        .sequence()
        .error(|| {
            put::PutClusterCapacityProvidersError::generic(crate::support::answer(
                "ResourceInUseException",
                "The specified resource is in-use and can't be removed.",
            ))
        })
        .error(|| {
            put::PutClusterCapacityProvidersError::generic(crate::support::answer(
                "UpdateInProgressException",
                "There's already a current Amazon ECS container agent update in progress on the container instance that's specified.",
            ))
        })
        .output(|| put::PutClusterCapacityProvidersOutput::builder().build())
        .build();
    let updating = cluster_attachments("UPDATE_IN_PROGRESS");
    let settled = cluster_attachments("UPDATE_COMPLETE");
    let c = ctx(Fakes {
        ecs: vec![&detach, &updating, &settled],
        ..Fakes::default()
    });
    let attachment = observed(
        cluster_capacity::KIND,
        "spaaace-dev-cluster",
        "spaaace-dev-cluster",
    );
    cluster_capacity::ClusterCapacityKind
        .delete(&c, &[attachment])
        .await
        .unwrap();
    assert_eq!(
        [
            detach.num_calls(),
            updating.num_calls(),
            settled.num_calls()
        ],
        [3, 1, 1]
    );
}

#[tokio::test]
async fn tasks_that_never_start_end_the_wait_with_why_they_stopped() {
    let starting = describe_services(vec![service(1, 0, "IN_PROGRESS")]);
    let diagnosis = describe_services(vec![service(1, 0, "IN_PROGRESS")]);
    let (list, described) = stopped_tasks();
    let (tg, none) = (target_group_lookup(), targets(0, 0));
    let mut c = ctx(Fakes {
        ecs: vec![&starting, &diagnosis, &list, &described],
        elbv2: vec![&tg, &none],
        ..Fakes::default()
    });
    // Out of time after the first look.
    c.wait.timeout = std::time::Duration::ZERO;
    let err = rollout::wait_reachable(&c, &c.wait, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("did not become reachable"), "{err}");
    assert!(
        err.contains("0/2 tasks running, 0/2 targets healthy"),
        "{err}"
    );
    assert!(err.contains(PULL_FAILED), "{err}");
}
