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

/// Values that break out of quotes or run as code when escaped for the wrong place.
const HOSTILE: &str =
    r#"["$(touch PWNED)", "it's", "`touch PWNED2`", "a\"b\\", "x\ny", "${HOME}!", "'; touch PWNED3; '"]"#;

fn hostile_values() -> Vec<String> {
    serde_json::from_str(HOSTILE).unwrap()
}

fn no_marker(ran: &crate::harness::Ran) {
    for marker in ["PWNED", "PWNED2", "PWNED3"] {
        assert!(!ran.path(marker).exists(), "a value was run as code ({marker})");
    }
}

/// Each place a value can sit in, printed between brackets: the output is the value exactly.
/// `commands` print each value `n` times between brackets, wrapped in `x…x` where `n` is over 1.
fn check_contexts(shell: &str, commands: &[(&str, usize)]) {
    let mut jobs = String::from("jobs:\n");
    for (i, (command, _)) in commands.iter().enumerate() {
        jobs.push_str(&format!(
            "  c{i}:\n    shell: {shell}\n    items: {HOSTILE}\n    command: {}\n",
            serde_json::to_string(command).unwrap()
        ));
    }
    let ran = batchrun().job(&jobs).args(&["--output", "ordered"]).run();
    ran.success();
    let expected: Vec<String> = commands
        .iter()
        .flat_map(|(_, n)| {
            let x = if *n > 1 { "x" } else { "" };
            hostile_values().into_iter().map(move |v| format!("[{x}{}{x}]", v.repeat(*n)))
        })
        .collect();
    assert_eq!(ran.stdout, expected.concat(), "shell: {shell}");
    no_marker(&ran);
}

#[test]
fn values_are_literal_inside_the_users_double_and_single_quotes() {
    for shell in ["auto", "sh", "bash", "none"] {
        check_contexts(
            shell,
            &[
                ("printf '[%s]' \"{{ item }}\"", 1),
                ("printf '[%s]' '{{ item }}'", 1),
                ("printf '[%s]' x\"{{ item }}\"'{{ item }}'{{ item }}x", 3),
            ],
        );
    }
}

#[test]
fn values_are_literal_inside_substitutions_and_here_documents() {
    for shell in ["sh", "bash"] {
        check_contexts(
            shell,
            &[
                ("printf '[%s]' \"$(printf %s \"{{ item }}\")\"", 1),
                ("printf '[%s]' \"$(printf %s {{ item }})\"", 1),
                ("v=$(cat <<EOF\n{{ item }}\nEOF\n); printf '[%s]' \"$v\"", 1),
                ("printf '[%s]' {% if index is even %}\"{{ item }}\"{% else %}'{{ item }}'{% endif %}", 1),
            ],
        );
    }
    check_contexts("bash", &[("printf '[%s]' $'{{ item }}'", 1)]);
}

#[test]
fn a_value_that_would_end_its_here_document_fails_its_task_unrun() {
    // First, so the check that renders each job's first task before the run does not stop it.
    let yaml = "jobs:\n  h:\n    items: [\"x\\nEOF\\ntouch PWNED\", \"ok\"]\n    command: |\n      cat <<EOF\n      {{ item }}\n      EOF\n";
    let ran = batchrun().job(yaml).args(&["--output", "ordered"]).run();
    ran.code(1).stderr_has("FAILED h[x\\nEOF\\ntouch PWNED] not started").stderr_has("cannot be placed");
    assert_eq!(ran.stdout, "ok\n");
    no_marker(&ran);
}

#[test]
fn computed_vars_escape_their_values_too() {
    let yaml = "vars:\n  db: x\n  out: {sh: \"printf %s \\\"{{ db }}\\\"\"}\njobs:\n  a:\n    command: printf '[%s]' {{ out }}\n";
    let ran = batchrun().job(yaml).args(&["--set", "db=$(touch PWNED) it's"]).run();
    ran.success();
    assert_eq!(ran.stdout, "[$(touch PWNED) it's]");
    no_marker(&ran);
}

#[test]
fn a_nested_interpreter_gets_values_through_env() {
    let yaml = format!(
        "jobs:\n  e:\n    items: {HOSTILE}\n    env: {{NAME: \"{{{{ item }}}}\"}}\n    command: sh -c 'printf \"[%s]\" \"$NAME\"'\n"
    );
    let ran = batchrun().job(&yaml).args(&["--output", "ordered"]).run();
    ran.success();
    let expected: String = hostile_values().iter().map(|v| format!("[{v}]")).collect();
    assert_eq!(ran.stdout, expected);
    no_marker(&ran);
}

#[test]
fn joined_and_replaced_values_are_escaped_too() {
    let yaml = "jobs:\n  j:\n    items: [\"$(touch PWNED)\"]\n    command: printf '[%s]' \"{{ [item, item] | join(' ') }}\" \"{{ item | replace('P', 'P') }}\"\n";
    let ran = batchrun().job(yaml).run();
    ran.success();
    assert_eq!(ran.stdout, "[$(touch PWNED) $(touch PWNED)][$(touch PWNED)]");
    no_marker(&ran);
}

/// Places where no escaping is reliable: refused before anything runs, at the value's
/// file:line:column, with what to write instead. The command sits in a `|-` block from line 5,
/// column 7.
const REFUSED: &[(&str, &str, &str, &str)] = &[
    ("sh", "echo `echo {{ v }}`", "inside backticks", ":5:21"),
    ("sh", "echo a # {{ v }}", "`#` comment", ":5:19"),
    ("sh", "echo $(( {{ v }} + 1 ))", "arithmetic", ":5:19"),
    ("bash", "(( {{ v }} > 1 ))", "arithmetic", ":5:13"),
    ("sh", "echo ${X:-{{ v }}}", "inside `${…}`", ":5:20"),
    ("bash", "[[ -n {{ v }} ]]", "inside `[[ … ]]`", ":5:16"),
    ("sh", "cat <<'EOF'\n{{ v }}\nEOF", "quoted delimiter", ":6:10"),
    ("sh", "cat <<-EOF\n{{ v }}\nEOF", "`<<-`", ":6:10"),
    ("sh", "cat <<{{ v }}", "delimiter", ":5:16"),
    ("sh", "echo ${{ v }}", "right after `$`", ":5:16"),
    ("sh", "echo \\{{ v }}", "right after a `\\`", ":5:16"),
    ("sh", "echo $'{{ v }}'", "bash syntax", ":5:13"),
    ("sh", "echo {% if v %}\"{% endif %}{{ v }}", "different shell states", ":5:15"),
    ("sh", "echo \"{% for x in v %}\"{% endfor %}{{ v }}\"", "`{% for %}`", ":5:16"),
    ("sh", "echo {{ v | safe }}", "`| raw` is the one opt-out", ":5:19"),
    ("sh", "{% filter upper %}echo {{ v }}{% endfilter %}", "cannot be used in a command template", ":5:10"),
    ("sh", "{% set y %}{{ v }}{% endset %}echo {{ y }}", "cannot be used in a command template", ":5:10"),
    ("sh", "{% autoescape false %}echo {{ v }}{% endautoescape %}", "cannot be used in a command template", ":5:10"),
    ("sh", "echo \"${X:-'a'}\" {{ v }}", "read them differently", ":5:18"),
    ("sh", "echo $(case a in a) echo {{ v }};; esac)", "`case`", ":5:18"),
];

#[test]
fn places_without_reliable_escaping_are_refused_before_anything_runs() {
    for (shell, command, says, place) in REFUSED {
        let block: String = command.lines().map(|l| format!("      {l}\n")).collect();
        let yaml = format!("jobs:\n  a:\n    shell: {shell}\n    command: |-\n{block}vars: {{v: x}}\n");
        for verb in ["validate", "run"] {
            let ran = batchrun().file("job.yaml", &yaml).args(&[verb, "job.yaml"]).run();
            ran.code(2).stderr_has(says).stderr_has(&format!("job.yaml{place}"));
        }
    }
}

#[test]
fn a_computed_var_in_an_unreliable_place_is_refused() {
    let yaml = "vars:\n  db: x\n  n: {sh: \"echo `echo {{ db }}`\"}\njobs:\n  a:\n    command: echo {{ n }}\n";
    let ran = batchrun().job(yaml).run();
    ran.code(2).stderr_has("computed var `n`").stderr_has("inside backticks");
}

#[test]
fn bash_reads_values_inside_ansi_c_quotes() {
    let yaml = "jobs:\n  a:\n    shell: bash\n    items: [\"it's \\\\n\"]\n    command: printf '[%s]' $'{{ item }}'\n";
    let ran = batchrun().job(yaml).run();
    ran.success();
    assert_eq!(ran.stdout, "[it's \\n]");
}

/// Places where bash reads a value again, as a name, a number or code, so that quoting it as
/// one word does not help: each is refused before anything runs, and the marker never appears.
/// (shells, command, value, what the refusal says)
const READ_AGAIN: &[(&[&str], &str, &str, &str)] = &[
    (&["bash"], "let \"n={{ item }}\"", "a[$(touch MARKER)]", "`let`"),
    (&["bash", "sh", "auto"], "let n={{ item }}", "a[$(touch MARKER)]", "`let`"),
    (&["bash"], "declare -i n={{ item }}", "a[$(touch MARKER)]", "`-i`"),
    (&["bash"], "declare -i n; n={{ item }}", "a[$(touch MARKER)]", "declares an integer"),
    (&["bash"], "f() { local -i n=\"{{ item }}\"; }; f", "a[$(touch MARKER)]", "`-i`"),
    (&["bash"], "[ -v \"{{ item }}\" ]", "a[$(touch MARKER)]", "after `-v`"),
    (&["bash"], "printf -v \"{{ item }}\" x", "a[$(touch MARKER)]", "`printf`'s format or options"),
    (&["bash"], "read \"{{ item }}\" < /dev/null", "a[$(touch MARKER)]", "`read`"),
    (&["bash"], "declare -n r=\"{{ item }}\"", "a[$(touch MARKER)]", "`-n`"),
    (&["bash"], "unset \"{{ item }}\"", "a[$(touch MARKER)]", "`unset`"),
    (&["bash"], "declare \"{{ item }}\"", "a[$(touch MARKER)]=1", "a name `declare` declares"),
    (&["bash", "sh", "auto"], "echo $[ {{ item }} + 1 ]", "a[$(touch MARKER)]", "`$[…]`"),
    (&["bash", "sh", "auto"], "arr[{{ item }}]=x", "$(touch MARKER)", "subscript"),
    (&["bash"], "arr=([{{ item }}]=x)", "$(touch MARKER)", "array assignment"),
    (&["bash", "sh"], "printf \"{{ item }}\" one two", "-va[$(touch MARKER)]", "`printf`'s format"),
    (&["bash", "sh"], "echo x >&\"{{ item }}\"", "$(touch MARKER)", "`>&`"),
    (&["bash", "sh"], "P=~{{ item }}", "root", "`~` prefix"),
    (&["bash", "sh"], "P=/x:~{{ item }}", "root", "`~` prefix"),
    (&["bash", "sh"], "n={{ item }}; echo $((n + 1))", "a[$(touch MARKER)]", "reads as a number, a name or code"),
    (&["bash", "sh"], "sh -c 'echo {{ item }}'", ";touch MARKER", "`-c`"),
    (&["bash", "sh"], "bash <<EOF\necho {{ item }}\nEOF", ";touch MARKER", "reads its standard input"),
    (&["bash", "sh"], "f() { echo \"$1\"; }; f {{ item }}", "x", "shell function"),
    (&["bash", "sh"], "{{ item }} x", "eval", "name of the command"),
    (&["bash", "sh"], "{% set y = item | raw %}echo \"{{ y }}\"", "$(touch MARKER)", "`raw` can only be the last"),
    (&["bash", "sh"], "echo \"{{ (item | raw) if true else 'x' }}\"", "$(touch MARKER)", "`raw` can only be the last"),
    (&["bash", "sh"], "echo {{ item | escape }}", "x", "`| escape`"),
    (&["bash", "sh"], "echo {{ item | e }}", "x", "`| e`"),
];

#[test]
fn every_place_bash_reads_a_value_again_is_refused_and_nothing_runs() {
    for (shells, command, value, says) in READ_AGAIN {
        for shell in *shells {
            let yaml = format!(
                "jobs:\n  t:\n    shell: {shell}\n    items: [{}]\n    command: {}\n",
                serde_json::to_string(value).unwrap(),
                serde_json::to_string(command).unwrap()
            );
            let ran = batchrun().job(&yaml).run();
            assert_eq!(ran.code, 2, "{shell}: {command}: {}", ran.stderr);
            assert!(ran.stderr.contains(says), "{shell}: {command}: wanted {says:?} in {}", ran.stderr);
            assert!(!ran.path("MARKER").exists(), "{shell}: {command}: the value ran as code");
        }
    }
}

#[test]
fn a_here_document_inside_a_substitution_ends_where_bash_ends_it() {
    // bash ends a here-document inside `$(…)` at a line that only begins with the delimiter.
    for shell in ["bash", "sh"] {
        let yaml = format!(
            "jobs:\n  h:\n    shell: {shell}\n    items: [\"EOT)\\ntouch MARKER\\nx\", \"ok\"]\n    command: |-\n      x=$(cat <<EOT\n      {{{{ item }}}}\n      EOT\n      ); printf '[%s]' \"$x\"\n"
        );
        let ran = batchrun().job(&yaml).args(&["--output", "ordered"]).run();
        ran.code(1).stderr_has("FAILED h[EOT)\\ntouch MARKER\\nx] not started").stderr_has("begins with the delimiter");
        assert_eq!(ran.stdout, "[ok]", "{shell}");
        assert!(!ran.path("MARKER").exists(), "{shell}: the value ran as code");

        let written = "jobs:\n  h:\n    command: |-\n      x=$(cat <<EOT\n      a\n      EOT)\n      echo {{ job }}\n";
        batchrun().job(written).run().code(2).stderr_has("begins with its delimiter");
    }
}

#[test]
fn values_batchrun_makes_may_sit_in_a_scripts_code_and_outside_values_may_not() {
    let yaml = "jobs:\n  made:\n    range: {from: 4, to: 5}\n    command: sh -c 'echo {{ job }} {{ index }}/{{ count }} {{ start }}-{{ end }} $(( {{ start }} * 2 ))'\n";
    let ran = batchrun().job(yaml).args(&["--output", "ordered"]).run();
    ran.success();
    assert_eq!(ran.stdout_lines(), ["made 0/2 4-4 8", "made 1/2 5-5 10"]);

    let outside = "jobs:\n  t:\n    items: [\"$(touch MARKER)\"]\n    command: sh -c 'echo {{ item }}'\n";
    let ran = batchrun().job(outside).run();
    ran.code(2).stderr_has("its `-c` script");
    assert!(!ran.path("MARKER").exists());

    let passed =
        "jobs:\n  t:\n    items: [\"$(touch MARKER)\"]\n    command: sh -c 'printf \"[%s]\" \"$1\"' sh {{ item }}\n";
    let ran = batchrun().job(passed).run();
    ran.success();
    assert_eq!(ran.stdout, "[$(touch MARKER)]");
    assert!(!ran.path("MARKER").exists());
}

#[test]
fn a_value_that_reads_as_an_option_is_warned_of_once_per_job() {
    let yaml = "jobs:\n  opt:\n    items: [\"-a\", \"b\", \"-c\"]\n    command: /bin/echo \"{{ item }}\"\n  ended:\n    items: [\"-a\"]\n    command: /bin/echo -- {{ item }}\n  builtin:\n    items: [\"-a\"]\n    command: printf '%s' {{ item }}\n";
    let warning = "job `opt`, task opt[-a]: `{{ item }}` is `-a`, which begins with `-`";
    let ran = batchrun().job(yaml).args(&["--output", "none"]).run();
    ran.success();
    assert_eq!(ran.stderr.matches("warning:").count(), 1, "{}", ran.stderr);
    ran.stderr_has(warning);
    let checked = batchrun().file("job.yaml", yaml).args(&["validate", "job.yaml"]).run();
    checked.success();
    assert_eq!(checked.stderr.matches("warning:").count(), 1, "{}", checked.stderr);
    checked.stderr_has(warning);
}

#[test]
fn a_value_through_env_is_refused_where_the_command_reads_it_as_a_number() {
    for command in [
        "echo $((N + 1))",
        "sh -c 'echo $(( N + 1 ))'",
        "[[ $N -eq 1 ]]",
        "PS4=x; echo \"$PS4\"",
        "eval \"$N\"",
        "sh -c \"$N\"",
        "$N",
        "trap \"$N\" EXIT",
        "trap '$N' EXIT",
        "trap 'eval \"$N\"' EXIT",
    ] {
        let key = if command.starts_with("PS4") { "PS4" } else { "N" };
        let yaml = format!(
            "jobs:\n  e:\n    shell: bash\n    items: [\"a[$(touch MARKER)]\"]\n    env: {{{key}: \"{{{{ item }}}}\"}}\n    command: {}\n",
            serde_json::to_string(command).unwrap()
        );
        let ran = batchrun().job(&yaml).run();
        ran.code(2).stderr_has(&format!("env `{key}`: holds a value, and the command reads `${key}`"));
        assert!(!ran.path("MARKER").exists(), "{command}");
    }
    // A value batchrun makes is only digits.
    let yaml =
        "jobs:\n  e:\n    range: {from: 1, to: 1}\n    env: {N: \"{{ start }}\"}\n    command: echo $((N + 1))\n";
    let ran = batchrun().job(yaml).run();
    ran.success();
    assert_eq!(ran.stdout, "2\n");
}

/// Templates found by an adversarial pass where the reader once lost step with the shell, or
/// where a value reached code through a substitution, a pipe, a here-document, an option, a
/// wrapper or another variable: each is now refused, or runs with the value as plain text.
const FOUND: &[(&str, &str, &str)] = &[
    ("sh", "echo \\\n#'\n'; echo {{ item }} #'", "a[$(touch MARKER)]"),
    ("sh", "echo \"$(ca\\\nse x in x) echo \" {{ item }} \";; esac)\"", "a[$(touch MARKER)]"),
    ("bash", "ti\\\nme eval {{ item }}", "touch MARKER"),
    ("sh", "\\\n{ eval {{ item }}; }", "touch MARKER"),
    ("bash", "\\\n[[ {{ item }} -eq 1 ]]", "a[$(touch MARKER)]"),
    ("sh", "echo ${x:-{} #'\n'}\necho {{ item }} #'", "a[$(touch MARKER)]"),
    ("bash", "echo <(true)#'\necho {{ item }} #'", "a[$(touch MARKER)]"),
    ("bash", "x=(a)#'\necho {{ item }} #'", "a[$(touch MARKER)]"),
    ("sh", "((: #'\n'))\necho {{ item }} #'\n))", "a[$(touch MARKER)]"),
    ("sh", "echo $[ ' ]\necho {{ item }} #'", "a[$(touch MARKER)]"),
    ("bash", "cat <<$(x)\n$\necho {{ item }}\n$(x)", "a[$(touch MARKER)]"),
    ("sh", "eval \"$(echo {{ item }})\"", "touch MARKER"),
    ("sh", "$(echo {{ item }})", "touch MARKER"),
    ("sh", "sh -c \"$(printf %s {{ item }})\"", "touch MARKER"),
    ("bash", "declare -i x=$(echo {{ item }})", "a[$(touch MARKER)]"),
    ("bash", "source <(echo {{ item }})", "touch MARKER"),
    ("sh", "sh -c \"$(cat <<EOF\n{{ item }}\nEOF\n)\"", "touch MARKER"),
    ("sh", "cat <<EOF | sh\n{{ item }}\nEOF", "touch MARKER"),
    ("sh", "<<EOF sh\n{{ item }}\nEOF", "touch MARKER"),
    ("sh", "{ sh; } <<EOF\n{{ item }}\nEOF", "touch MARKER"),
    ("sh", ". /dev/stdin <<EOF\n{{ item }}\nEOF", "touch MARKER"),
    ("sh", "xargs -I{} sh -c {} <<EOF\n{{ item }}\nEOF", "touch MARKER"),
    ("bash", "bash <<< {{ item }}", "touch MARKER"),
    ("sh", "printf '%s' {{ item }} | sh", "touch MARKER"),
    ("sh", "echo \"$(printf %s {{ item }})\" | sh", "touch MARKER"),
    ("bash", "time -p eval {{ item }}", "touch MARKER"),
    ("bash", "coproc eval {{ item }}; wait", "touch MARKER"),
    ("sh", "alias e=eval\ne {{ item }}", "touch MARKER"),
    ("sh", "f ( ) { eval \"$1\"; }; f {{ item }}", "touch MARKER"),
    ("bash", "command_not_found_handle() { eval \"$2\"; }; nosuch {{ item }}", "touch MARKER"),
    ("sh", "sh -o errexit -c \"echo {{ item }}\"", ";touch MARKER"),
    ("bash", "bash -O extglob -c {{ item }}", "touch MARKER"),
    ("sh", "rbash -c {{ item }}", "touch MARKER"),
    ("sh", "flock lock -c {{ item }}", "touch MARKER"),
    ("sh", "script -qc {{ item }} /dev/null", "touch MARKER"),
    ("sh", "env -S {{ item }}", "touch MARKER"),
    ("bash", "f=-i; declare $f x={{ item }}", "a[$(touch MARKER)]"),
    ("bash", "declare -i <(:) x={{ item }}", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; if [[ $x -eq 1 ]]; then :; fi", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; [[ -n $x && $x -eq 1 ]]", "a[$(touch MARKER)]"),
    ("bash", "if true; then declare -i x; fi; x={{ item }}", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; y=$x; echo $((y))", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; y=x; echo $((y))", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; declare -i y=$x", "a[$(touch MARKER)]"),
    ("bash", "for i in {{ item }}; do declare -i j=$i; done", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; arr=([$x]=1)", "$(touch MARKER)"),
    ("bash", "x={{ item }}; s=abc; n=0; echo \"${s:${n}+x}\"", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; echo \"${!x}\"", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; printf -v \"$x\" %s hi", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; read -r \"$x\" <<< hi", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; [[ -v $x ]]", "a[$(touch MARKER)]"),
    ("bash", "x={{ item }}; declare -n r=\"$x\"; echo \"$r\"", "a[$(touch MARKER)]"),
    ("bash", "y=a[\\$\\(touch\\ MARKER\\)]; [ {{ item }} \"$y\" ]", "-v"),
    ("bash", "echo $'\\{{ item }}'", "';touch MARKER #"),
    ("bash", "printf -v x %s {{ item }}; echo $((x))", "a[$(touch MARKER)]"),
    ("bash", "printf -v PS4 %s {{ item }}; set -x; :", "$(touch MARKER)"),
    ("bash", "read -r x <<< {{ item }}; echo $((x))", "a[$(touch MARKER)]"),
    ("bash", "mapfile -t a <<< {{ item }}; echo $((a[0]))", "a[$(touch MARKER)]"),
    ("sh", "env BASH_ENV={{ item }} bash -c true", "$(touch MARKER)"),
    ("sh", "env x={{ item }} bash -c 'echo $((x))'", "a[$(touch MARKER)]"),
    ("sh", "env BASH_FUNC_ls%%={{ item }} bash -c ls", "() { touch MARKER; }"),
    ("sh", "env {{ item }}", "-S touch MARKER"),
    ("sh", "( echo {{ item }} ) | sh", "touch MARKER"),
    ("sh", "{ echo {{ item }}; } | sh", "touch MARKER"),
    ("sh", "if true; then echo {{ item }}; fi | sh", "touch MARKER"),
    ("sh", "echo {{ item }} |\nsh", "touch MARKER"),
    ("bash", "echo {{ item }} |& sh", "touch MARKER"),
    ("sh", "echo {{ item }} | sh /dev/stdin", "touch MARKER"),
    ("sh", "echo {{ item }} | bash +o errexit", "touch MARKER"),
    ("bash", "echo {{ item }} | builtin source /dev/stdin", "touch MARKER"),
    ("sh", "echo {{ item }} | sh -c 'sh'", "touch MARKER"),
    ("bash", "echo {{ item }} | eval \"$(cat)\"", "touch MARKER"),
    ("bash", "echo {{ item }} > >(sh)", "touch MARKER"),
    ("bash", "coproc sh; echo {{ item }} >&${COPROC[1]}; wait", "touch MARKER"),
    ("sh", "exec 3<<EOF\n{{ item }}\nEOF\nsh <&3", "touch MARKER"),
    ("sh", "sh -c 'eval \"$1\"' sh {{ item }}", "touch MARKER"),
    ("bash", "bash -c 'echo $(( $1 ))' _ {{ item }}", "a[$(touch MARKER)]"),
    ("sh", "sh < {{ item }}", "MARKER.sh"),
    ("sh", "x={{ item }}; eval \"$x\"", "touch MARKER"),
    ("sh", "x={{ item }}; $x", "touch MARKER"),
    ("sh", "x={{ item }}; sh -c \"$x\"", "touch MARKER"),
    ("bash", "x={{ item }}; echo \"${x@P}\"", "$(touch MARKER)"),
    ("sh", "x=\"$(echo {{ item }})\"; eval \"$x\"", "touch MARKER"),
    ("sh", "for v in {{ item }}; do eval \"$v\"; done", "touch MARKER"),
    ("sh", "x={{ item }} sh -c 'eval \"$x\"'", "touch MARKER"),
    ("bash", "echo {{ item }} >/dev/null; eval \"$_\"", "touch MARKER"),
    ("sh", "X={{ item }}; ${X}", "touch MARKER"),
    ("sh", "X={{ item }}; Y=${X}; eval \"$Y\"", "touch MARKER"),
    ("sh", "f() { eval \"$1\"; }\nX={{ item }}\nf \"$X\"", "touch MARKER"),
    ("sh", "X={{ item }}; set -- \"$X\"; eval \"$1\"", "touch MARKER"),
    ("sh", "X={{ item }}; for v in \"$X\"; do eval \"$v\"; done", "touch MARKER"),
    ("sh", "X={{ item }}; T=$(echo \"$X\"); eval \"$T\"", "touch MARKER"),
    ("sh", "X={{ item }}; T=`echo \"$X\"`; eval \"$T\"", "touch MARKER"),
    ("bash", "X={{ item }}; history -s \"$X\"; fc -s", "touch MARKER"),
    ("bash", "X={{ item }}; alias b=\"$X\"\nb", "touch MARKER"),
    ("sh", "sh -c 'eval \"${1}\"' _ {{ item }}", "touch MARKER"),
    ("bash", "bash -c 'eval \"$0\"' {{ item }}", "touch MARKER"),
    ("sh", "sh -c 'for a; do eval \"$a\"; done' _ {{ item }}", "touch MARKER"),
    ("bash", "bash -c 'echo \"$1\" | bash' _ {{ item }}", "touch MARKER"),
    ("bash", "command printf -v \"{{ item }}\" x", "a[$(touch MARKER)]"),
    ("bash", "printf <<EOF {{ item }} x\nx\nEOF", "-va[$(touch MARKER)]"),
];

#[test]
fn what_an_adversarial_pass_found_is_refused_or_plain_text() {
    for (shell, command, value) in FOUND {
        let yaml = format!(
            "jobs:\n  t:\n    shell: {shell}\n    items: [{}]\n    command: {}\n",
            serde_json::to_string(value).unwrap(),
            serde_json::to_string(command).unwrap()
        );
        let ran = batchrun().job(&yaml).run();
        assert!(matches!(ran.code, 0..=2), "{shell}: {command:?}: exit {}: {}", ran.code, ran.stderr);
        assert!(!ran.path("MARKER").exists(), "{shell}: {command:?}: the value ran as code\n{}", ran.stderr);
    }
}

#[test]
fn safe_commands_an_adversarial_pass_found_refused_are_accepted() {
    for (shell, command) in [
        ("bash", "printf '[%s]' {% for f in [1, 2] %}{{ item }} {% endfor %}"),
        ("bash", "cat <(printf '[%s]' {{ item }})"),
        ("bash", "declare +i x={{ item }}; printf '[%s]' \"$x\""),
        ("sh", "[ {{ item }} = \"$HOME\" ] || printf '[%s]' {{ item }}"),
        ("sh", "printf \"[%s]\\n\" {{ item }}"),
        ("sh", "printf '[%s]' {{ item }} | cat; ls -d . >/dev/null"),
        ("sh", "grep -c bash /dev/null; printf '[%s]' {{ item }}"),
        ("sh", "exec printf '[%s]' {{ item }}"),
        ("sh", "command printf '[%s]' {{ item }}"),
        ("bash", "mkdir -p d && cd \"$_\" && printf '[%s]' {{ item }}"),
        ("sh", "sh -c 'printf \"[%s]\" \"$1\"' sh {{ item }}"),
    ] {
        let yaml = format!(
            "jobs:\n  t:\n    shell: {shell}\n    items: [\"a[$(touch MARKER)]\"]\n    command: {}\n",
            serde_json::to_string(command).unwrap()
        );
        let ran = batchrun().job(&yaml).run();
        assert_eq!(ran.code, 0, "{shell}: {command:?}: {}", ran.stderr);
        assert!(ran.stdout.contains("[a[$(touch MARKER)]"), "{command:?}: {}", ran.stdout);
        assert!(!ran.path("MARKER").exists(), "{command:?}");
    }
}
