//! Substituted values arrive as one literal argument, through a shell or not.

use crate::harness::batchrun;

const NASTY: &str = r#"
jobs:
  q:
    items: ["; touch PWNED", "https://x/?a=1&b=2", "$(touch PWNED2)", "it's \"quoted\"", "a b  c", "*"]
    shell: SHELL
    command: printf '[%s]\n' {{ item }}
"#;

fn check(shell: &str) {
    let ran = batchrun().job(&NASTY.replace("SHELL", shell)).args(&["--output", "ordered"]).run();
    ran.success();
    assert_eq!(
        ran.stdout_lines(),
        ["[; touch PWNED]", "[https://x/?a=1&b=2]", "[$(touch PWNED2)]", "[it's \"quoted\"]", "[a b  c]", "[*]"],
        "shell: {shell}"
    );
    assert!(!ran.path("PWNED").exists() && !ran.path("PWNED2").exists(), "a value was run as code");
}

#[test]
fn values_are_literal_with_shell_auto() {
    check("auto");
}

#[test]
fn values_are_literal_through_sh() {
    check("sh");
}

#[test]
fn values_are_literal_without_a_shell() {
    check("none");
}

#[test]
fn raw_opts_out_of_quoting() {
    let yaml = "vars:\n  pipe: '| tr a-z A-Z'\njobs:\n  r:\n    command: echo hello {{ pipe | raw }}\n";
    let ran = batchrun().job(yaml).run();
    ran.success();
    assert_eq!(ran.stdout, "HELLO\n");
}

#[test]
fn shell_none_refuses_shell_syntax_before_running() {
    let ran = batchrun().job("jobs:\n  a:\n    shell: none\n    command: echo a | cat\n").run();
    ran.code(2).stderr_has("uses shell syntax");
}

#[test]
fn auto_runs_shell_syntax_through_sh_and_bash_is_available() {
    let ran = batchrun()
        .job("jobs:\n  a:\n    command: echo $((1 + 2)) && echo done\n  b:\n    shell: bash\n    command: echo {x,y}\n")
        .args(&["--output", "ordered"])
        .run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["3", "done", "x y"]);
}
