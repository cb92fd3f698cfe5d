//! The part-2 commands through the binary: `cost` from the shipped profiles
//! (no AWS), `deploy` refusing without an image, and `up`, `outputs --json`
//! and `chaos` against moto with a moto-compatible profile.

use crate::common::{run, Moto};
use serde_json::Value;

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// A monthly line's amount by the start of its item.
fn line(estimate: &Value, item: &str) -> f64 {
    estimate["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item"].as_str().unwrap().starts_with(item))
        .unwrap_or_else(|| panic!("no line {item}: {estimate}"))["monthly"]
        .as_f64()
        .unwrap()
}

#[test]
fn cost_prices_the_built_in_profiles_without_aws() {
    let cost = |env: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_provisioner"))
            .args(["cost", "--json", "--env", env])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&String::from_utf8_lossy(&out.stdout))
    };
    let dev = cost("dev");
    let prod = cost("prod");
    assert!(line(&dev, "EC2 t3.small") > 0.0);
    assert!(line(&prod, "EC2 m6g.medium") > 0.0);
    // prod: three NAT gateways to dev's one.
    assert!((line(&prod, "NAT gateways") / line(&dev, "NAT gateways") - 3.0).abs() < 0.01);
    let total = |e: &Value| e["total_monthly"].as_f64().unwrap();
    let sum: f64 = dev["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["monthly"].as_f64().unwrap())
        .sum();
    assert!((total(&dev) - sum).abs() < 0.01);
    assert!(total(&prod) > total(&dev));
    assert_eq!(dev["source"]["region"], "us-east-1");
}

#[test]
fn deploy_without_an_image_is_refused() {
    let moto = Moto::start();
    let (code, _, stderr) = run(&moto, &["deploy"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--image"), "{stderr}");
}

/// Pushes an image tagged latest, as `docker push` would have.
async fn push_image(moto: &Moto, repository: &str) {
    let ecr = provisioner::aws::AwsContext::load(&provisioner::aws::AwsOptions {
        region: Some(crate::common::REGION.into()),
        endpoint_url: Some(moto.endpoint.clone()),
        ..Default::default()
    })
    .await
    .ecr;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": 2, "digest": format!("sha256:{}", "a".repeat(64))},
        "layers": []
    });
    ecr.put_image()
        .repository_name(repository)
        .image_tag("latest")
        .image_manifest(manifest.to_string())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_waits_for_a_pushed_image_then_outputs_name_the_alb_redis_cluster_and_service() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(crate::common::shipped_profiles_dir().join("dev.toml")).unwrap();
    // moto 5.2.5 has no ElastiCache parameter groups.
    let profile = shipped.replace(
        "encryption = false",
        "encryption = false\ncustom_parameter_group = false",
    );
    let path = dir.path().join("dev.toml");
    std::fs::write(&path, profile).unwrap();
    let config = path.to_str().unwrap();

    // No image pushed yet: everything but the task definition and the
    // service is built, and up says how to push one.
    let (code, stdout, stderr) = run(&moto, &["up", "--yes", "--no-wait", "--config", config]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("dkr.ecr.us-east-1.amazonaws.com/spaaace-dev-gameserver:latest yet"),
        "{stdout}"
    );
    assert!(
        stdout.contains("docker buildx build --platform linux/amd64,linux/arm64"),
        "{stdout}"
    );
    let (_, stdout, _) = run(&moto, &["outputs", "--json", "--config", config]);
    let out = json(&stdout);
    let uri = out["ecr_repository_uri"].as_str().unwrap().to_string();
    assert!(uri.ends_with("/spaaace-dev-gameserver"), "{out}");
    assert!(
        out["push_commands"][0]
            .as_str()
            .unwrap()
            .contains("docker login"),
        "{out}"
    );
    assert!(out.get("ecs_service").is_none(), "{out}");
    let (code, stdout, _) = run(&moto, &["plan", "--config", config]);
    assert_eq!(code, 2, "the service is still to create: {stdout}");

    push_image(&moto, "spaaace-dev-gameserver").await;
    let (code, _, stderr) = run(&moto, &["up", "--yes", "--no-wait", "--config", config]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(&moto, &["outputs", "--json", "--config", config]);
    assert_eq!(code, 0, "{stderr}");
    let out = json(&stdout);
    assert!(
        out["alb_dns_name"]
            .as_str()
            .unwrap()
            .contains("spaaace-dev-alb"),
        "{out}"
    );
    assert!(
        out["redis_primary_endpoint"]
            .as_str()
            .unwrap()
            .ends_with(":6379"),
        "{out}"
    );
    assert_eq!(out["ecs_cluster"], "spaaace-dev-cluster");
    assert_eq!(out["ecs_service"], "spaaace-dev-gameserver");
    assert!(
        out["vpc_id"].as_str().is_some(),
        "the network's outputs stay: {out}"
    );

    let (code, stdout, stderr) = run(
        &moto,
        &[
            "chaos",
            "az-outage",
            "--az",
            "a",
            "--json",
            "--config",
            config,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report = json(&stdout);
    assert_eq!(report["action"], "az-outage");
    assert!(report["undo"].as_str().unwrap().contains("provisioner up"));
    let (code, stdout, _) = run(&moto, &["plan", "--config", config]);
    assert_eq!(code, 2, "the lost zone is drift: {stdout}");
    assert!(stdout.contains("auto-scaling-group"), "{stdout}");
}

/// The CLI in-process, against moto, with the network-only profiles.
fn args(moto: &Moto, command: &[&str]) -> provisioner::cli::Args {
    use clap::Parser;
    let mut argv = vec!["provisioner"];
    argv.extend_from_slice(command);
    let dir = crate::common::profiles_dir();
    let mut args = provisioner::cli::Args::try_parse_from(argv).unwrap();
    args.profiles_dir = Some(dir);
    args.endpoint_url = Some(moto.endpoint.clone());
    args.region = Some(crate::common::REGION.into());
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_and_down_ask_before_changing_and_a_wrong_answer_changes_nothing() {
    use provisioner::cli::{run as cli_run, Scripted};
    let moto = Moto::start();
    let ec2 = crate::common::ec2(&moto).await;

    let mut no = Scripted::new(["no"]);
    let err = cli_run(&args(&moto, &["up"]), &mut no).await.unwrap_err();
    assert!(err.to_string().contains("up cancelled"), "{err}");
    assert!(
        no.questions[0].contains("+ create vpc spaaace-dev-vpc"),
        "{:?}",
        no.questions
    );
    assert!(
        crate::common::managed_resources(&ec2).await.is_empty(),
        "nothing was created"
    );

    let mut yes = Scripted::new(["yes"]);
    let up = cli_run(&args(&moto, &["up"]), &mut yes).await.unwrap();
    assert_eq!(up.code, 0);
    assert_eq!(crate::common::managed_resources(&ec2).await.len(), 17);

    let mut wrong = Scripted::new(["prod"]);
    let err = cli_run(&args(&moto, &["down"]), &mut wrong)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("down cancelled"), "{err}");
    assert!(
        wrong.questions[0].contains("environment dev (17 found)"),
        "{:?}",
        wrong.questions
    );
    assert_eq!(
        crate::common::managed_resources(&ec2).await.len(),
        17,
        "nothing deleted"
    );

    let mut typed = Scripted::new(["dev"]);
    let down = cli_run(&args(&moto, &["down"]), &mut typed).await.unwrap();
    assert_eq!(down.json["deleted"], 17);
    assert!(crate::common::managed_resources(&ec2).await.is_empty());
}
