//! `make try-provisioner` as a newcomer runs it: the script starts moto and
//! walks the emulator profile through up, plan, status, outputs and down.

use std::process::Command;

#[test]
fn the_emulator_walkthrough_converges_and_leaves_nothing() {
    let moto = std::env::var("MOTO_SERVER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-moto/bin/moto_server").to_string()
    });
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/try-provisioner.sh"
    ))
    .env("PROVISIONER", env!("CARGO_BIN_EXE_provisioner"))
    .env("MOTO_SERVER", moto)
    .output()
    .expect("running scripts/try-provisioner.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // up created the stack, plan then found nothing to change.
    assert!(
        stdout.contains("+ create vpc spaaace-emulator-vpc"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 0 to create, 0 to update, 0 to delete."),
        "{stdout}"
    );
    assert!(stdout.contains("ecr_repository_uri = "), "{stdout}");
    assert!(stdout.contains("Deleted 31 resources."), "{stdout}");
}
