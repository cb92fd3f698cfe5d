//! The Auto Scaling group against SDK-level fakes: the answers real AWS
//! gives and moto does not (an instance profile not yet visible to EC2,
//! scaling activities in progress, ValidationError spelling "not found").

use crate::support::{answer, ctx, naming, network, observed, Fakes};
use aws_smithy_mocks::{mock, Rule};
use provisioner::engine::{Kind, Refs, Resource};
use provisioner::retry;
use provisioner::workload::*;

use aws_sdk_autoscaling::operation as op;

fn group() -> auto_scaling_group::AutoScalingGroup {
    auto_scaling_group::AutoScalingGroup {
        naming: naming(),
        network: network(),
        min_size: 1,
        max_size: 2,
        desired_capacity: 1,
    }
}

fn refs() -> Refs {
    let mut refs = Refs::default();
    for (k, id) in network()
        .private_subnets
        .iter()
        .zip(["subnet-a", "subnet-b"])
    {
        refs.set(k.clone(), id.into());
    }
    refs.set(launch_template::key(&naming()), "lt-1".into());
    refs
}

/// What AWS answers while a new instance profile has not reached EC2,
/// quoted by terraform-provider-aws (internal/service/autoscaling/group.go,
/// resourceGroupCreate).
fn profile_not_visible() -> op::create_auto_scaling_group::CreateAutoScalingGroupError {
    op::create_auto_scaling_group::CreateAutoScalingGroupError::generic(answer(
        "ValidationError",
        "You must use a valid fully-formed launch template. Value (spaaace-dev-ecs-instance) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
    ))
}

#[tokio::test]
async fn the_group_is_created_again_while_ec2_does_not_know_the_new_instance_profile() {
    let create = mock!(aws_sdk_autoscaling::Client::create_auto_scaling_group)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("spaaace-dev-ecs-hosts")
                && r.vpc_zone_identifier() == Some("subnet-a,subnet-b")
                && r.new_instances_protected_from_scale_in() == Some(true)
        })
        .sequence()
        .error(profile_not_visible)
        .times(2)
        .output(|| op::create_auto_scaling_group::CreateAutoScalingGroupOutput::builder().build())
        .build();
    let c = ctx(Fakes {
        autoscaling: vec![&create],
        ..Fakes::default()
    });
    let g = group();
    let refs = refs();
    let name = retry::settling(&c, auto_scaling_group::KIND, "hosts", || {
        g.create(&c, &refs)
    })
    .await
    .unwrap();
    assert_eq!(name, "spaaace-dev-ecs-hosts");
    assert_eq!(create.num_calls(), 3);
}

#[tokio::test]
async fn another_validation_error_on_create_is_not_retried() {
    let refused = mock!(aws_sdk_autoscaling::Client::create_auto_scaling_group).then_error(|| {
        op::create_auto_scaling_group::CreateAutoScalingGroupError::generic(answer(
            "ValidationError",
            "Max bound, 2, must be greater than or equal to min bound, 3",
        ))
    });
    let c = ctx(Fakes {
        autoscaling: vec![&refused],
        ..Fakes::default()
    });
    let g = group();
    let refs = refs();
    let err = retry::settling(&c, auto_scaling_group::KIND, "hosts", || {
        g.create(&c, &refs)
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("Max bound"), "{err}");
    assert_eq!(refused.num_calls(), 1);
}

fn delete_answers(answers: Vec<(&'static str, &'static str)>) -> Rule {
    let mut seq = mock!(aws_sdk_autoscaling::Client::delete_auto_scaling_group)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("spaaace-dev-ecs-hosts")
                && r.force_delete() == Some(true)
        })
        .sequence();
    for (code, message) in answers {
        seq = seq.error(move || {
            op::delete_auto_scaling_group::DeleteAutoScalingGroupError::generic(answer(
                code, message,
            ))
        });
    }
    seq.output(|| op::delete_auto_scaling_group::DeleteAutoScalingGroupOutput::builder().build())
        .build()
}

fn no_group() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(|| {
        op::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput::builder().build()
    })
}

/// The group, still there.
fn the_group() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(|| {
        op::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(
                aws_sdk_autoscaling::types::AutoScalingGroup::builder()
                    .auto_scaling_group_name("spaaace-dev-ecs-hosts")
                    .build(),
            )
            .build()
    })
}

fn hosts() -> provisioner::engine::Observed {
    observed(auto_scaling_group::KIND, "arn:asg", "spaaace-dev-ecs-hosts")
}

#[tokio::test]
async fn down_waits_out_scaling_activities_and_instances_still_in_the_group() {
    // Auto Scaling API reference, DeleteAutoScalingGroup errors.
    let scaling = || {
        op::delete_auto_scaling_group::DeleteAutoScalingGroupError::generic(answer(
            "ScalingActivityInProgress",
            "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.",
        ))
    };
    let in_use = || {
        op::delete_auto_scaling_group::DeleteAutoScalingGroupError::generic(answer(
            "ResourceInUse",
            "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.",
        ))
    };
    let (p1, p2, p3, gone) = (the_group(), the_group(), the_group(), no_group());
    let busy = mock!(aws_sdk_autoscaling::Client::delete_auto_scaling_group).then_error(scaling);
    let used = mock!(aws_sdk_autoscaling::Client::delete_auto_scaling_group).then_error(in_use);
    let delete = delete_answers(vec![]);
    let c = ctx(Fakes {
        autoscaling: vec![&p1, &busy, &p2, &used, &p3, &delete, &gone],
        ..Fakes::default()
    });
    auto_scaling_group::AutoScalingGroupKind
        .delete(&c, &[hosts()])
        .await
        .unwrap();
    assert_eq!(
        [
            busy.num_calls(),
            used.num_calls(),
            delete.num_calls(),
            gone.num_calls()
        ],
        [1, 1, 1, 1]
    );
}

#[tokio::test]
async fn a_validation_error_counts_as_gone_only_when_it_says_not_found() {
    let missing = mock!(aws_sdk_autoscaling::Client::delete_auto_scaling_group).then_error(|| {
        op::delete_auto_scaling_group::DeleteAutoScalingGroupError::generic(answer(
            "ValidationError",
            "AutoScalingGroup name not found - AutoScalingGroup spaaace-dev-ecs-hosts not found",
        ))
    });
    let (present, gone) = (the_group(), no_group());
    let c = ctx(Fakes {
        autoscaling: vec![&present, &missing, &gone],
        ..Fakes::default()
    });
    auto_scaling_group::AutoScalingGroupKind
        .delete(&c, &[hosts()])
        .await
        .unwrap();

    let refused = mock!(aws_sdk_autoscaling::Client::delete_auto_scaling_group).then_error(|| {
        op::delete_auto_scaling_group::DeleteAutoScalingGroupError::generic(answer(
            "ValidationError",
            "1 validation error detected: Value at 'autoScalingGroupName' failed to satisfy constraint",
        ))
    });
    let present = the_group();
    let c = ctx(Fakes {
        autoscaling: vec![&present, &refused],
        ..Fakes::default()
    });
    let err = auto_scaling_group::AutoScalingGroupKind
        .delete(&c, &[hosts()])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("failed to satisfy constraint"), "{err}");
}

#[test]
fn the_group_waits_for_the_private_route_tables() {
    let deps = group().depends_on();
    for table in &network().private_route_tables {
        assert!(deps.contains(table), "{table} missing from {deps:?}");
    }
}
