#!/usr/bin/env bash
# make bench: runs every scripts/bench-*.sh (each prints a Markdown section) and writes BENCHMARKS.md.
# The machine is noisy: each section compares ratios measured within one run, and says the load.
set -uo pipefail
cd "$(dirname "$0")/.."
out=BENCHMARKS.md
tmp=$(mktemp)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Figures are from one run on this machine; compare the ratios within a section rather than absolute times."
  echo
} > "$tmp"
status=0
# MDLC_BENCH_ONLY="trainer realdata" runs only those scripts (bench-<name>.sh).
scripts=(scripts/bench-*.sh)
if [ -n "${MDLC_BENCH_ONLY:-}" ]; then
  scripts=()
  for name in $MDLC_BENCH_ONLY; do scripts+=("scripts/bench-$name.sh"); done
  echo "Only these benchmarks ran in this run: $MDLC_BENCH_ONLY." >> "$tmp"
  echo >> "$tmp"
fi
for script in "${scripts[@]}"; do
  echo "== $script" >&2
  if section=$(bash "$script"); then
    printf '%s\n\n' "$section" >> "$tmp"
  else
    echo "$script failed" >&2
    printf '## %s\n\nFAILED in this run (see the make bench log).\n\n' "$script" >> "$tmp"
    status=1
  fi
done
mv "$tmp" "$out"
echo "wrote $out" >&2
exit $status
