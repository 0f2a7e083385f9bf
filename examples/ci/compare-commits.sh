#!/usr/bin/env bash
# Benchmark two commits on this machine and fail on a performance or accuracy regression.
#
#   examples/ci/compare-commits.sh BASE_REF [HEAD_REF]     (HEAD_REF defaults to HEAD)
#
# Builds each commit in its own git worktree, installs it into one virtual environment
# (torch is installed once; each commit is installed on top with --no-deps), runs the
# same seeded, CPU-sized sweep on each, in interleaved rounds (BASE, HEAD, BASE, HEAD,
# BASE, HEAD) so that both sides see the same machine conditions, then runs
# `rnnbench compare B1,B2,B3 H1,H2,H3` from HEAD: with several runs a side, compare judges
# timings on the run level (docs/ci.md, "The statistics"), which keeps A/A pairs quiet. Prints the markdown report (also written to $WORK/compare.md) and exits
# with compare's code: 0 no regression, 1 regression, 2 usage error.
#
# Environment: WORK (scratch folder, default: a temporary one), PYTHON (default python3),
# ROUNDS (runs per side, default 3), THRESHOLD (default 10%), RNNBENCH_SWEEP (extra
# `rnnbench run` flags, appended to the default sweep).
set -euo pipefail

base_ref=${1:?usage: $0 BASE_REF [HEAD_REF]}
head_ref=${2:-HEAD}
repo=$(git rev-parse --show-toplevel)
work=${WORK:-$(mktemp -d)}
python=${PYTHON:-python3}
rounds=${ROUNDS:-3}
threshold=${THRESHOLD:-10%}
results="$work/results"
mkdir -p "$results"

base_sha=$(git -C "$repo" rev-parse "$base_ref^{commit}")
head_sha=$(git -C "$repo" rev-parse "$head_ref^{commit}")
echo "base $base_ref = $base_sha; head $head_ref = $head_sha; results in $results" >&2

# The sweep: small, seeded, CPU-only, one thread; three short runs a side tell more than one
# long one (what varies is the machine between runs). GEMM-heavy enough (hidden 128, batch 32)
# that a slower kernel shows; about 20 s a run on a quiet 2-core machine.
sweep=(--models lstm,gru,transformer --tasks copy --seq-len 20 --batch-size 32 --hidden 128
       --seeds 0 --steps 30 --scenarios train,forward --threads 1 --min-time 0.3 --no-progress)
# shellcheck disable=SC2206
sweep+=(${RNNBENCH_SWEEP:-})

if [ ! -x "$work/venv/bin/python" ]; then
    "$python" -m venv "$work/venv"
    "$work/venv/bin/pip" install -q --upgrade pip
    # the CPU build of torch first, so that installing rnnbench does not pull a CUDA build
    "$work/venv/bin/pip" install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
        || "$work/venv/bin/pip" install -q torch==2.13.0
fi
venv="$work/venv/bin"

checkout() {  # checkout NAME SHA -> a worktree at $work/NAME
    local dir="$work/$1"
    if [ ! -d "$dir" ]; then
        git -C "$repo" worktree add --detach "$dir" "$2" >/dev/null
    fi
}
checkout base "$base_sha"
checkout head "$head_sha"
# the dependencies of HEAD once; each side then installs only itself
"$venv/pip" install -q -e "$work/head"

run_side() {  # run_side NAME: install that worktree and run the sweep from inside it
    "$venv/pip" install -q --no-deps -e "$work/$1"
    # run from the worktree, so the run records that commit (rnnbench env: git_commit)
    (cd "$work/$1" && "$venv/rnnbench" run "${sweep[@]}" --out "$results" >&2)
}

newest_run() {  # the id of the newest run in the results database
    "$venv/python" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
        "SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()[0])' "$results/rnnbench.db"
}

base_runs=()
head_runs=()
for ((i = 1; i <= rounds; i++)); do
    run_side base
    base_runs+=("$(newest_run)")
    run_side head
    head_runs+=("$(newest_run)")
done

# compare with HEAD's rnnbench (it is the one installed last)
join() { local IFS=,; echo "$*"; }
set +e
"$venv/rnnbench" compare "$(join "${base_runs[@]}")" "$(join "${head_runs[@]}")" --out "$results" \
    --threshold "$threshold" --format markdown > "$work/compare.md"
code=$?
set -e
cat "$work/compare.md"
echo "compare exited $code (0 no regression, 1 regression, 2 usage error); report: $work/compare.md" >&2
git -C "$repo" worktree remove --force "$work/base" >/dev/null 2>&1 || true
git -C "$repo" worktree remove --force "$work/head" >/dev/null 2>&1 || true
exit $code
