//! ECS against SDK-level fakes: deployments rolling out, rolled back and
//! draining, which moto (no container instances, no scheduler) cannot show.

mod fakes;

use aws_smithy_mocks::{mock, Rule};
use fakes::{ctx, naming, observed, Fakes};
use provisioner::engine::{Kind, Refs};
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
