//! The launch template's new versions and instance refreshes against
//! SDK-level fakes (moto has no instance refresh).

use crate::support::{change, ctx, meta, network, observed, Fakes};
use aws_smithy_mocks::mock;
use provisioner::engine::{Refs, Resource};
use provisioner::tags::Naming;
use provisioner::workload::*;

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

#[tokio::test]
async fn a_refresh_refused_for_another_reason_than_a_missing_group_is_an_error() {
    use aws_sdk_autoscaling::operation::start_instance_refresh as refresh;
    let run = |message: &'static str| async move {
        let version = mock!(aws_sdk_ec2::Client::create_launch_template_version).then_output(|| {
            aws_sdk_ec2::operation::create_launch_template_version::CreateLaunchTemplateVersionOutput::builder()
                .launch_template_version(aws_sdk_ec2::types::LaunchTemplateVersion::builder().version_number(6).build())
                .build()
        });
        let default = mock!(aws_sdk_ec2::Client::modify_launch_template).then_output(|| {
            aws_sdk_ec2::operation::modify_launch_template::ModifyLaunchTemplateOutput::builder()
                .build()
        });
        let refused =
            mock!(aws_sdk_autoscaling::Client::start_instance_refresh).then_error(move || {
                refresh::StartInstanceRefreshError::generic(crate::support::answer(
                    "ValidationError",
                    message,
                ))
            });
        let c = ctx(Fakes {
            ec2: vec![&version, &default],
            autoscaling: vec![&refused],
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
    };
    // No group yet: its first hosts start from the new version.
    run("AutoScalingGroup name not found - AutoScalingGroup spaaace-dev-ecs-hosts not found")
        .await
        .unwrap();
    let err = run("Cannot use MinHealthyPercentage 100 and MaxHealthyPercentage 100")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("MaxHealthyPercentage"), "{err}");
}
