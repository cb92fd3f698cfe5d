//! The binary as someone who installed it runs it: from a directory outside
//! the checkout, with no AWS configuration. It finds its profiles and
//! prices, and its errors are short lines a person can act on (JSON with
//! `--json`). No test here reaches a real AWS address: the endpoints are on
//! loopback, and the SDK is kept away from the instance metadata address.

use crate::common::fault_proxy::{FaultProxy, Faults};
use crate::common::Moto;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

/// A port on loopback where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The binary in an empty temporary directory (its working directory and
/// HOME), with no AWS variables but the ones a test sets.
fn installed(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provisioner"));
    cmd.args(args)
        .current_dir(home)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("running provisioner");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn with_keys(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
}

/// The lines of stderr that are the error (the log's ERROR line).
fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no error line in:\n{stderr}"))
}

#[test]
fn profiles_and_prices_are_found_outside_the_checkout() {
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(&mut installed(home.path(), &["profiles"]));
    assert_eq!(code, 0, "{stderr}");
    for name in ["dev", "prod", "emulator"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name}:\n{stdout}"
        );
    }

    // `profiles show` prints the shipped file, ready to copy and edit; a
    // copy given with --config is the same profile.
    let (code, shown, stderr) = output(&mut installed(home.path(), &["profiles", "show", "dev"]));
    assert_eq!(code, 0, "{stderr}");
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/environments/dev.toml"),
    )
    .unwrap();
    assert_eq!(shown.trim_end(), shipped.trim_end());
    std::fs::write(home.path().join("mine.toml"), &shown).unwrap();

    let (code, stdout, stderr) = output(&mut installed(
        home.path(),
        &["cost", "--env", "dev", "--json"],
    ));
    assert_eq!(code, 0, "{stderr}");
    let estimate: Value = serde_json::from_str(&stdout).unwrap();
    let (code, copy, _) = output(&mut installed(
        home.path(),
        &["cost", "--config", "mine.toml", "--json"],
    ));
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&copy).unwrap(), estimate);

    // Nothing in the help points into the build's checkout.
    let (_, help, _) = output(&mut installed(home.path(), &["--help"]));
    assert!(!help.contains(env!("CARGO_MANIFEST_DIR")), "{help}");
    assert!(!help.contains("[default: /"), "{help}");

    let (code, _, stderr) = output(&mut installed(home.path(), &["cost", "--env", "staging"]));
    assert_eq!(code, 1);
    assert!(
        error_line(&stderr).contains("dev, prod, emulator"),
        "{stderr}"
    );

    // A command line clap refuses is an error (1), not "changes" (2).
    let (code, stdout, _) = output(&mut installed(home.path(), &["plan", "--bogus", "--json"]));
    assert_eq!(code, 1);
    let error: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(error["error"]["code"], "Usage");
    assert!(error["error"]["why"].as_str().unwrap().contains("--bogus"));
}

#[test]
fn no_credentials_and_no_endpoint_are_one_short_line_each() {
    let home = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed_port());

    // No credentials anywhere: the SDK stops before any connection.
    let (code, stdout, stderr) = output(&mut installed(
        home.path(),
        &["plan", "--env", "dev", "--endpoint-url", &endpoint],
    ));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let line = error_line(&stderr);
    assert!(line.len() < 200, "{} chars: {line}", line.len());
    assert!(line.contains("no AWS credentials found"), "{line}");
    assert!(!line.contains("Error {") && !line.contains("{ "), "{line}");

    // Credentials, but nothing answers at the endpoint.
    let (code, _, stderr) = output(with_keys(&mut installed(
        home.path(),
        &["plan", "--env", "dev", "--endpoint-url", &endpoint],
    )));
    assert_eq!(code, 1, "{stderr}");
    let line = error_line(&stderr);
    assert!(line.len() < 200, "{} chars: {line}", line.len());
    assert!(
        line.contains(&format!("nothing answers at {endpoint}")),
        "{line}"
    );

    // The same as JSON on stdout.
    let (code, stdout, _) = output(&mut installed(
        home.path(),
        &[
            "plan",
            "--env",
            "dev",
            "--endpoint-url",
            &endpoint,
            "--json",
        ],
    ));
    assert_eq!(code, 1);
    let error: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(error["error"]["code"], "NoCredentials", "{error}");
    assert!(error["error"]["what"]
        .as_str()
        .unwrap()
        .contains("availability zones"));
    assert!(error["error"]["why"]
        .as_str()
        .unwrap()
        .contains("AWS_PROFILE"));

    // -v shows the whole chain: the SDK's account of each provider it tried.
    let (_, _, verbose) = output(&mut installed(
        home.path(),
        &["plan", "--env", "dev", "--endpoint-url", &endpoint, "-v"],
    ));
    assert!(verbose.contains("WebIdentityToken"), "{verbose}");
    assert!(verbose.contains("Ec2InstanceMetadata"), "{verbose}");
}

#[test]
fn access_denied_names_the_action_the_resource_and_the_policy() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port(), Faults::denying(&["ec2:DescribeVpcs"]));
    let home = tempfile::tempdir().unwrap();
    let args = ["plan", "--env", "dev", "--endpoint-url", &proxy.endpoint];

    let (code, _, stderr) = output(with_keys(&mut installed(home.path(), &args)));
    assert_eq!(code, 1, "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains(
            "access denied: not allowed to ec2:DescribeVpcs on arn:aws:ec2:us-east-1:123456789012:*"
        ),
        "{line}"
    );
    assert!(line.contains("docs/ci.md"), "{line}");

    let mut json = installed(home.path(), &args);
    json.arg("--json");
    let (code, stdout, _) = output(with_keys(&mut json));
    assert_eq!(code, 1);
    let error: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(error["error"]["code"], "UnauthorizedOperation");
    assert!(error["error"]["why"]
        .as_str()
        .unwrap()
        .contains("ec2:DescribeVpcs"));
}

#[test]
fn a_region_without_three_zones_says_so() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    // moto, like AWS, gives us-west-1 two zones.
    let args = [
        "plan",
        "--env",
        "dev",
        "--region",
        "us-west-1",
        "--endpoint-url",
        &moto.endpoint,
    ];
    let (code, _, stderr) = output(with_keys(&mut installed(home.path(), &args)));
    assert_eq!(code, 1, "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains("region us-west-1: has 2 availability zones, the stack needs 3"),
        "{line}"
    );
}

/// Every attempt throttled: the error says so once the SDK gives up (in
/// process, with the retries a few milliseconds apart).
#[tokio::test]
async fn throttling_past_the_retries_says_so() {
    let moto = Moto::start();
    let mut faults = Faults::denying(&[]);
    faults.throttle_per_mille = 1000;
    let proxy = FaultProxy::start(moto.port(), faults);
    let options = provisioner::session::SessionOptions {
        aws: provisioner::aws::AwsOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some(proxy.endpoint.clone()),
            max_attempts: 3,
            initial_backoff: std::time::Duration::from_millis(10),
        },
        concurrency: 1,
        wait: Default::default(),
    };
    let err = provisioner::session::Session::open(crate::common::on_moto("dev"), options)
        .await
        .err()
        .expect("every call throttled");
    assert_eq!(proxy.injected().throttled, 3);
    let explained = provisioner::cli::explain(&err, &provisioner::cli::Target::default());
    assert_eq!(explained.code, "RequestLimitExceeded");
    assert!(
        explained.why.contains("AWS kept throttling the calls"),
        "{explained}"
    );
}
