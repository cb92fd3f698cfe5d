//! The desired workload built against fakes: what the ARNs and the log
//! configuration name when the clients' region is not the profile's.

use crate::support::{ctx_in, naming, Fakes};
use aws_smithy_mocks::mock;
use provisioner::engine::Refs;
use provisioner::profile::Profile;
use provisioner::workload::{self, iam_role, task_definition};
use provisioner::workload_profile::WorkloadProfile;
use std::path::Path;

#[tokio::test]
async fn arns_and_the_log_region_follow_the_clients_region_not_the_profiles() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/environments/dev.toml"
    ))
    .unwrap();
    let profile = Profile::parse(Path::new("dev.toml"), &text).unwrap();
    assert_eq!(profile.region, "us-east-1");
    let ami = mock!(aws_sdk_ssm::Client::get_parameter).then_output(|| {
        aws_sdk_ssm::operation::get_parameter::GetParameterOutput::builder()
            .parameter(
                aws_sdk_ssm::types::Parameter::builder()
                    .value("ami-1")
                    .build(),
            )
            .build()
    });
    let c = ctx_in(
        "cn-north-1",
        Fakes {
            ssm: vec![&ami],
            ..Fakes::default()
        },
    );
    let w = WorkloadProfile::from_profile(&profile).unwrap();
    let keys = provisioner::stack::network_keys(&naming(), 3);
    let desired = workload::resources(&c, &profile, &w, &keys, None)
        .await
        .unwrap();
    let attrs = |kind: &str, name: &str| {
        desired
            .resources
            .iter()
            .find(|r| r.key().kind == kind && r.key().name == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .desired(&Refs::default())
    };
    let instance = attrs(iam_role::KIND, &iam_role::instance_role_name(&naming()));
    let execution = attrs(iam_role::KIND, &iam_role::execution_role_name(&naming()));
    for policy in [&instance["policy"], &execution["policy"]] {
        assert!(policy.contains("arn:aws-cn:"), "{policy}");
        assert!(policy.contains(":cn-north-1:"), "{policy}");
        assert!(
            !policy.contains("us-east-1") && !policy.contains("arn:aws:"),
            "{policy}"
        );
    }
    let task = attrs(task_definition::KIND, &task_definition::family(&naming()));
    assert_eq!(
        task["logs"],
        "awslogs /spaaace/dev/gameserver in cn-north-1"
    );
}
