#!/usr/bin/env bash
# Compares the matcher's lookups at an older commit with the working tree's, in one script:
# the older commit is checked out into a temporary worktree, given this tree's benchmark files
# (so both run the same benchmarks, of the shipped fingerprint shape), and the two are run in
# turn, RUNS times each. Needs about 4 GB of memory at 1M works.
#
#   index/bench/compare.sh [REV] [RUNS]     (default: 616b0ba, the session-5 matcher; 2 runs)
#
# BENCH overrides the -bench pattern, ARGS the benchmark flags (default -matcher.big); for the
# lookups among real pictures' hashes:
#
#   BENCH=MatcherCorpusLookup ARGS="-matcher.corpus $HOME/.cache/aura/corpus" index/bench/compare.sh
set -euo pipefail
REV="${1:-616b0ba}"
RUNS="${2:-2}"
BENCH="${BENCH:-MatcherLookup\$/works=(100000|1000000)/R=12|MatcherLookupParallel/works=1000000}"
ARGS="${ARGS:--matcher.big}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OLD="$(mktemp -d)/old"
trap 'git -C "$REPO" worktree remove --force "$OLD" >/dev/null 2>&1 || true' EXIT
git -C "$REPO" worktree add -q --detach "$OLD" "$REV"
cp "$REPO/index/matcher_bench_test.go" "$REPO/index/matcher_corpus_test.go" "$OLD/index/"
for i in $(seq "$RUNS"); do
	for side in "$REV:$OLD" "working tree:$REPO"; do
		echo "== ${side%%:*}, run $i"
		(cd "${side#*:}" && go test ./index -run '^$' -bench "$BENCH" -benchtime 300x $ARGS -timeout 60m |
			grep -E '^Benchmark|heap|loaded')
	done
done
