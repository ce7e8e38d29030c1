#!/usr/bin/env bash
# bench/run.sh: batchrun against xargs -P, GNU parallel (when installed) and a C posix_spawn loop
# (the machine's ceiling), side by side, runs interleaved so that load drift hits every tool alike.
# Prints one table per workload: median wall time (or peak memory) and ratios.
#
#   bench/run.sh                 # every workload, REPS repetitions (default 5)
#   WORKLOADS="trivial startup" REPS=9 bench/run.sh
#
# Workloads: trivial (5,000 × `true N`, -j 2 and -j 8), trivial-sh (the same through sh -c),
# sleep (200 × sleep 0.05, -j 50), output (100 × 1 MB of output, -j 4, to /dev/null),
# startup (one `true`), progress (5,000 tasks with the bar drawn on a terminal, from `script`,
# and with an HTML report, each against neither), memory (100,000 tasks, -j 2: peak RSS), huge (a 10,000,000-partition range:
# `plan --format json` throughput, and `run` peak RSS over its first seconds).
# batchrun runs as a user would: journal on, logs kept as by default, plain progress off.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
WORKLOADS=${WORKLOADS:-"trivial trivial-sh sleep output startup progress memory huge"}

cargo build --release --quiet
B=$PWD/target/release/batchrun
W=$(mktemp -d "${TMPDIR:-/tmp}/batchrun-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cc -O2 -o "$W/ceiling" bench/ceiling.c
PARALLEL=$(command -v parallel || true)
[[ -n $PARALLEL ]] && ! "$PARALLEL" --version 2>/dev/null | grep -q GNU && PARALLEL=""

echo "# batchrun benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "peers: $(xargs --version | head -1), ${PARALLEL:+$("$PARALLEL" --version | head -1)}${PARALLEL:-GNU parallel not installed (left out)}"
echo "reps: $REPS (median shown; ratios are medians of per-repetition ratios against the reference)"

# A job file whose one job runs `TASK` over INPUT's lines (like `xargs -n 1 TASK < INPUT`).
job() { # NAME J SHELL TASK INPUT
  cat > "$W/$1.yaml" <<EOF
concurrency: $2
defaults: {shell: $3}
jobs:
  $1:
    items: {file: $5}
    command: $4 {{ item }}
EOF
}

# run_set TITLE REFERENCE LABEL=COMMAND...: REPS interleaved rounds, each in a random order. (A
# rotating order keeps every tool after the same one, and a run just after GNU parallel's 80 ms
# of Perl measured 1.12 times slower than the same run after xargs: 3.89 against 3.44 ms.)
run_set() {
  local title=$1 ref=$2; shift 2
  local labels=() cmds=() i r k n
  for spec in "$@"; do labels+=("${spec%%=*}"); cmds+=("${spec#*=}"); done
  n=${#labels[@]}
  : > "$W/times"
  for ((r = 0; r < REPS; r++)); do
    for i in $(shuf -i 0-$((n - 1))); do
      local t0 t1
      t0=${EPOCHREALTIME/./}
      if ! eval "${cmds[$i]}" > /dev/null 2>> "$W/stderr" < /dev/null; then
        echo "warning: ${labels[$i]} failed (see below)" >&2; tail -3 "$W/stderr" >&2
      fi
      t1=${EPOCHREALTIME/./}
      echo "$r ${labels[$i]} $((t1 - t0))" >> "$W/times"
    done
  done
  # The batchrun row, whose time is also given against each tool's (the issue's targets).
  local ours=""
  for l in "${labels[@]}"; do [[ -z $ours && $l == batchrun* ]] && ours=$l; done
  echo
  echo "## $title"
  echo "| tool | median wall | ratio vs $ref | ${ours:-batchrun} ÷ tool |"
  echo "|---|---|---|---|"
  for l in "${labels[@]}"; do
    local wall ratio ours_ratio
    wall=$(awk -v l="$l" '$2 == l { print $3 }' "$W/times" | median)
    ratio=$(per_rep_ratios "$l" "$ref" | median)
    ours_ratio=""
    [[ -n $ours ]] && ours_ratio=$(per_rep_ratios "$ours" "$l" | median)
    awk -v l="$l" -v w="$wall" -v q="$ratio" -v o="${ours_ratio:--}" 'BEGIN {
      unit = "ms"; v = w / 1000; if (v >= 1000) { unit = "s"; v /= 1000 }
      if (o != "-") o = sprintf("%.2f", o)
      printf "| %s | %.3f %s | %.2f | %s |\n", l, v, unit, q, o }'
  done
}

# per_rep_ratios A B: A's time over B's, one line per repetition that timed both.
per_rep_ratios() {
  awk -v a="$1" -v b="$2" '
    { t[$1 " " $2] = $3 }
    END { for (k in t) { split(k, p, " "); if (p[2] == a && (p[1] " " b) in t) print t[k] / t[p[1] " " b] } }' "$W/times"
}

# median: the median of the numbers on stdin (portable: no gawk needed).
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# peak_rss COMMAND: the peak RSS (KB) of the command's own process tree leader.
peak_rss() { /usr/bin/time -f %M bash -c "exec $1" 2>&1 >/dev/null | tail -1; }

for w in $WORKLOADS; do
  case $w in
  trivial | trivial-sh)
    seq 1 5000 > "$W/args"
    for j in 2 8; do
      if [[ $w == trivial ]]; then
        job t "$j" auto true "$W/args"
        run_set "5,000 × \`true N\`, -j $j" xargs \
          "ceiling=$W/ceiling -a 5000 $j /bin/true" \
          "xargs=xargs -P $j -n 1 true < $W/args" \
          ${PARALLEL:+"parallel=$PARALLEL --will-cite -j $j true < $W/args"} \
          "batchrun=$B $W/t.yaml --progress none"
      else
        job t "$j" sh true "$W/args"
        run_set "5,000 × \`sh -c 'true N'\`, -j $j" xargs-sh \
          "ceiling-sh=$W/ceiling -a 5000 $j /bin/sh -c true" \
          "xargs-sh=xargs -P $j -n 1 sh -c true < $W/args" \
          "batchrun-sh=$B $W/t.yaml --progress none"
      fi
    done
    ;;
  sleep)
    awk 'BEGIN { for (i = 0; i < 200; i++) print "0.05" }' > "$W/sleeps"
    job s 50 auto sleep "$W/sleeps"
    run_set "200 × \`sleep 0.05\`, -j 50 (ideal 0.20 s)" xargs \
      "ceiling=$W/ceiling 200 50 /bin/sleep 0.05" \
      "xargs=xargs -P 50 -n 1 sleep < $W/sleeps" \
      ${PARALLEL:+"parallel=$PARALLEL --will-cite -j 50 sleep < $W/sleeps"} \
      "batchrun=$B $W/s.yaml --progress none"
    ;;
  output)
    awk 'BEGIN { for (i = 0; i < 100; i++) print "/dev/zero" }' > "$W/zeros"
    job o 4 auto "head -c 1000000" "$W/zeros"
    run_set "100 × 1 MB of output, -j 4, to /dev/null (batchrun grouped)" xargs \
      "ceiling-grouped=$W/ceiling -c 100 4 /usr/bin/head -c 1000000 /dev/zero" \
      "xargs=xargs -P 4 -n 1 head -c 1000000 < $W/zeros" \
      ${PARALLEL:+"parallel=$PARALLEL --will-cite -j 4 head -c 1000000 < $W/zeros"} \
      "batchrun=$B $W/o.yaml --progress none"
    ;;
  startup)
    echo 1 > "$W/one"
    job one 1 auto true "$W/one"
    REPS=$((REPS * 6)) run_set "one task \`true\`: startup" xargs \
      "xargs=xargs -n 1 true < $W/one" \
      ${PARALLEL:+"parallel=$PARALLEL --will-cite true < $W/one"} \
      "batchrun=$B $W/one.yaml --progress none"
    ;;
  progress)
    seq 1 5000 > "$W/args"
    job t 2 auto true "$W/args"
    run_set "5,000 × \`true N\`, -j 2, on a terminal (\`script\`): the bar, and the HTML report, against neither" none \
      "none=script -qec '$B $W/t.yaml --progress none' /dev/null" \
      "bar=script -qec '$B $W/t.yaml --progress bar' /dev/null" \
      "report=script -qec '$B $W/t.yaml --progress none --report $W/run.html' /dev/null"
    ;;
  memory)
    seq 1 100000 > "$W/args100k"
    job m 2 auto true "$W/args100k"
    echo
    echo "## 100,000 × \`true N\`, -j 2: peak RSS (runner and its children, GNU time)"
    echo "| tool | peak RSS |"
    echo "|---|---|"
    echo "| xargs | $(peak_rss "xargs -P 2 -n 1 true < $W/args100k") KB |"
    [[ -n $PARALLEL ]] && echo "| parallel | $(peak_rss "$PARALLEL --will-cite -j 2 true < $W/args100k") KB |"
    echo "| batchrun | $(peak_rss "$B $W/m.yaml --progress none") KB |"
    ;;
  huge)
    printf 'jobs:\n  huge:\n    range: {from: 1, to: 10000000000, step: 1000}\n    command: true {{ start }} {{ end }}\n' > "$W/h.yaml"
    t0=$(date +%s%N)
    rss=$(/usr/bin/time -f %M "$B" plan --format json "$W/h.yaml" 2>&1 >/dev/null | tail -1)
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    echo
    echo "## a 10,000,000-partition range"
    echo "| what | figure |"
    echo "|---|---|"
    echo "| \`plan --format json\` | $((10000000 * 1000 / ms)) tasks/s ($ms ms), peak RSS $rss KB |"
    "$B" "$W/h.yaml" -j 2 --progress none --state-dir "$W/state" > /dev/null 2>&1 &
    pid=$!
    sleep 5
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    done_tasks=$(grep -c '"type":"end"' "$W/state/journal.jsonl" || true)
    kill -INT "$pid"; wait "$pid" || true
    echo "| \`run\`, first 5 s ($done_tasks tasks done) | peak RSS (VmHWM) $hwm KB |"
    ;;
  *) echo "unknown workload $w" >&2; exit 2 ;;
  esac
done
