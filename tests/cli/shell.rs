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

/// What bash offers after `batchrun `: the commands a user types, not `exec` (which batchrun
/// submits to Slurm itself), in bash itself; and the other shells' scripts do not name it.
#[test]
fn completions_offer_what_users_type_and_not_exec() {
    let script = batchrun().args(&["completions", "bash"]).run();
    script.success();
    let path = script.path("batchrun.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let complete = "COMP_WORDS=(batchrun ''); COMP_CWORD=1; COMP_LINE='batchrun '; COMP_POINT=9; \
                    _batchrun batchrun '' batchrun; printf '%s\\n' \"${COMPREPLY[@]}\"";
    let out = Command::new("bash").arg("-c").arg(format!("source {} && {complete}", path.display())).output().unwrap();
    let offered = String::from_utf8_lossy(&out.stdout);
    let offered: Vec<&str> = offered.lines().collect();
    for word in ["run", "plan", "status", "validate"] {
        assert!(offered.contains(&word), "{word} in {offered:?}");
    }
    assert!(!offered.contains(&"exec"), "{offered:?}");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let ran = batchrun().args(&["completions", shell]).run();
        assert!(!ran.stdout.contains("exec"), "{shell} offers exec");
    }
}

/// After `--only`, bash offers the job names of the job file on the command line, not file
/// names; zsh's and fish's scripts ask batchrun for them the same way.
#[test]
fn only_completes_the_job_names_of_the_file() {
    let dir = batchrun().file("job.yaml", "jobs:\n  export:\n    command: 'true'\n  verify:\n    command: 'true'\n");
    let script = dir.args(&["completions", "bash"]).run();
    script.success();
    let path = script.path("batchrun.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let exe = env!("CARGO_BIN_EXE_batchrun");
    for words in ["run job.yaml --only ''", "plan job.yaml --only ''"] {
        let cword = words.split(' ').count();
        let complete = format!(
            "COMP_WORDS=({exe} {words}); COMP_CWORD={cword}; COMP_LINE=x; COMP_POINT=1; \\
             _batchrun {exe} '' --only; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("source {} && {complete}", path.display()))
            .current_dir(script.dir.path())
            .output()
            .unwrap();
        let offered = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            offered.lines().collect::<Vec<_>>(),
            ["export", "verify"],
            "{words}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for shell in ["zsh", "fish"] {
        let ran = batchrun().args(&["completions", shell]).run();
        assert!(ran.stdout.contains("__jobs"), "{shell}: {}", ran.stdout);
    }
}

/// The usage line says what most people type: `batchrun FILE`.
#[test]
fn the_usage_line_shows_batchrun_file() {
    for args in [&["--help"][..], &["-h"]] {
        batchrun().args(args).run().success().stdout_has("Usage: batchrun FILE [OPTIONS]");
    }
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
