#!/bin/sh
# run.sh DIR FIRST_SEED END_SEED: generates CIBs, runs crm_simulate on each
# (the oracle, Debian's pacemaker-cli-utils 2.1.5), runs ours through the
# scheduler corpus test, and compares. See README.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$(realpath -m "$1")
python3 "$here/gen_cib.py" "$dir" "$2" "$3"
for f in "$dir"/xml/*.xml; do
    n=$(basename "$f" .xml)
    LC_ALL=C crm_simulate -x "$f" -S >"$dir/summary/$n.summary" 2>&1 || true
done
rm -rf "$dir/ours"
# The test fails on these cases (they are not the corpus); its outputs are
# what matters here.
(cd "$here/../.." && IRONBEAT_SCHEDULER_CORPUS="$dir" IRONBEAT_CORPUS_OUT="$dir/ours" \
    cargo test -q -p ironbeat-crm --test scheduler_corpus >/dev/null 2>&1) || true
python3 "$here/compare.py" "$dir"
