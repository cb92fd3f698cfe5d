//! ELBv2 against SDK-level fakes: AWS's DuplicateListener, which moto
//! does not send (it duplicates listeners instead).

use crate::support::{ctx, meta, naming, Fakes};
use aws_smithy_mocks::{mock, Rule};
use provisioner::engine::{self, Refs};
use provisioner::workload::*;

use aws_sdk_elasticloadbalancingv2::operation as op;
use aws_sdk_elasticloadbalancingv2::types as ty;

fn listener_80(target_group: &str) -> ty::Listener {
    ty::Listener::builder()
        .listener_arn("arn:listener-80")
        .port(80)
        .protocol(ty::ProtocolEnum::Http)
        .default_actions(
            ty::Action::builder()
                .r#type(ty::ActionTypeEnum::Forward)
                .target_group_arn(target_group)
                .build(),
        )
        .build()
}

/// The listener read by its ARN.
fn read_listener(target_group: &'static str) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners)
        .match_requests(|r| r.listener_arns() == ["arn:listener-80"])
        .then_output(move || {
            op::describe_listeners::DescribeListenersOutput::builder()
                .listeners(listener_80(target_group))
                .build()
        })
}

fn listener_tags(tagged: bool) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags)
        .match_requests(|r| r.resource_arns() == ["arn:listener-80"])
        .then_output(move || {
            let mut d = ty::TagDescription::builder().resource_arn("arn:listener-80");
            if tagged {
                for (k, v) in naming().tags("spaaace-dev-http") {
                    d = d.tags(ty::Tag::builder().key(k).value(v).build());
                }
            }
            op::describe_tags::DescribeTagsOutput::builder()
                .tag_descriptions(d.build())
                .build()
        })
}

#[tokio::test]
async fn a_duplicate_listener_is_adopted_repaired_and_read_back_not_a_failure() {
    let create = mock!(aws_sdk_elasticloadbalancingv2::Client::create_listener)
        .match_requests(|r| r.port() == Some(80) && r.load_balancer_arn() == Some("arn:lb"))
        .then_error(|| {
            op::create_listener::CreateListenerError::generic(meta("DuplicateListener"))
        });
    let on_port = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners)
        .match_requests(|r| r.load_balancer_arn() == Some("arn:lb"))
        .then_output(|| {
            op::describe_listeners::DescribeListenersOutput::builder()
                .listeners(listener_80("arn:other-tg"))
                .build()
        });
    let (before, untagged) = (read_listener("arn:other-tg"), listener_tags(false));
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
    let (after, tagged) = (read_listener("arn:game-tg"), listener_tags(true));
    let c = ctx(Fakes {
        elbv2: vec![
            &create, &on_port, &before, &untagged, &modify, &tag, &after, &tagged,
        ],
        ..Fakes::default()
    });
    let mut refs = Refs::default();
    refs.set(load_balancer::key(&naming()), "arn:lb".into());
    refs.set(target_group::key(&naming()), "arn:game-tg".into());
    let l = listener::Listener {
        naming: naming(),
        port: 80,
        certificate_arn: None,
    };
    let repaired = engine::reconcile(&c, &l, None, &refs).await.unwrap();
    assert_eq!(repaired.id, "arn:listener-80");
    assert_eq!(
        repaired.attrs.get("target_group").map(String::as_str),
        Some("arn:game-tg")
    );
    assert_eq!(
        [
            create.num_calls(),
            modify.num_calls(),
            tag.num_calls(),
            tagged.num_calls()
        ],
        [1, 1, 1, 1]
    );
}
