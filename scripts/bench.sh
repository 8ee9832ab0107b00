#!/usr/bin/env bash
# make bench: runs every scripts/bench-*.sh (each prints a Markdown section) and writes BENCHMARKS.md.
# The machine is noisy: each section compares ratios measured within one run, and says the load.
#
# MDLC_BENCH_ONLY="asl lambda" runs only those scripts (bench-<name>.sh); the sections of the other
# scripts are kept from the existing BENCHMARKS.md (each section is framed by
# `<!-- bench:<name> ... -->` markers and says when it was measured). Sections framed by
# `<!-- keep:<name> -->` markers are not measured here and are always kept (see kept_sections).
set -uo pipefail
cd "$(dirname "$0")/.."
out=BENCHMARKS.md
tmp=$(mktemp)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` ($(nproc) cores). Each section says when it was measured and the load"
  echo "average then; figures are from one run on this machine, so compare the ratios within a section"
  echo "rather than absolute times."
  echo
} > "$tmp"

# Prints the section of bench <name> from the existing BENCHMARKS.md (markers included), if any.
old_section() { # name
  [ -f "$out" ] || return 1
  awk -v start="<!-- bench:$1 " -v stop="<!-- /bench:$1 -->" '
    index($0, start) == 1 { on = 1 }
    on { print }
    on && index($0, stop) == 1 { found = 1; exit }
    END { exit !found }' "$out"
}

# Prints every kept section of the existing BENCHMARKS.md: figures make bench does not measure
# (the mutation testing of `make mutants`, hours long), framed by `<!-- keep:<name> -->` and
# `<!-- /keep:<name> -->` and carried over unchanged.
kept_sections() {
  [ -f "$out" ] || return 0
  awk 'index($0, "<!-- keep:") == 1 { on = 1 }
    on { print }
    on && index($0, "<!-- /keep:") == 1 { on = 0; print "" }' "$out"
}

status=0
only=" ${MDLC_BENCH_ONLY:-} "
for script in scripts/bench-*.sh; do
  name=$(basename "$script" .sh)
  name=${name#bench-}
  if [ -n "${MDLC_BENCH_ONLY:-}" ] && [[ "$only" != *" $name "* ]]; then
    if section=$(old_section "$name"); then
      printf '%s\n\n' "$section" >> "$tmp"
    fi
    continue
  fi
  echo "== $script" >&2
  when="$(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  if section=$(bash "$script"); then
    {
      echo "<!-- bench:$name measured $when -->"
      printf '%s\n\n' "$section"
      echo "_Measured $when._"
      echo "<!-- /bench:$name -->"
      echo
    } >> "$tmp"
  else
    echo "$script failed" >&2
    printf '<!-- bench:%s failed -->\n## %s\n\nFAILED in the run of %s (see the make bench log).\n<!-- /bench:%s -->\n\n' \
      "$name" "$script" "$when" "$name" >> "$tmp"
    status=1
  fi
done
kept_sections >> "$tmp"
mv "$tmp" "$out"
echo "wrote $out" >&2
exit $status
