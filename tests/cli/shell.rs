//! Shell integration: completion scripts and the manual page.

use std::process::Command;

use crate::harness::batchrun;

#[test]
fn completion_scripts_name_the_subcommands_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let ran = batchrun().args(&["completions", shell]).run();
        ran.success();
        for word in ["validate", "status", "resume", "output", "fail-fast"] {
            assert!(ran.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn the_bash_completion_script_loads_in_bash() {
    let script = batchrun().args(&["completions", "bash"]).run();
    script.success();
    let path = script.path("batchrun.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p batchrun", path.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("batchrun"));
}

#[test]
fn the_manual_page_is_roff_with_the_options() {
    let ran = batchrun().arg("man").run();
    ran.success().stdout_has(".TH batchrun 1").stdout_has("Run batch jobs declared in YAML");
    for section in ["RUN OPTIONS", "THE JOB FILE", "TEMPLATES AND QUOTING", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
        let quoted = format!(".SH \"{section}\"\n");
        assert!(ran.stdout.contains(&quoted) || ran.stdout.contains(&format!(".SH {section}\n")), "{section}");
    }
    assert!(!ran.stdout.contains("batchrun\\-run(1)"), "it points at no page that does not exist");
}
