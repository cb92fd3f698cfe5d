//! SDK-level fakes (aws-smithy-mocks) for what moto cannot show, one module
//! per service (`support` builds the fake clients). One test binary: each
//! binary links the whole SDK.

mod support;

mod autoscaling;
mod ec2;
mod ecs;
mod elasticache;
mod elbv2;
mod stack;
