#!/usr/bin/env bash
# Memory per live operation, rsec against real SEC (issue #6: at most a quarter of SEC's
# bytes per live operation on S4-200k and S5-12k). For each scenario both programs run
# once on the whole input and once on an empty input with the same rules; the growth of
# peak RSS is what the live operations cost, and its ratio is the ratio of bytes per live
# operation (the same input leaves the same operations alive in both).
# Usage: scripts/bench-memory.sh [SCENARIO...]   (replaces the memory section of BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
bench=../shared/bench
dir=${SECBENCH_DIR:-/tmp/secbench}
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(S4-200k S5-12k)
gen() {
  case $1 in
    S4-200k) python3 "$bench/gen.py" S4 --keys 200000 --match-frac 0.15 --name S4-200k ;;
    S5-12k) python3 "$bench/gen.py" S5 --keys 12000 --match-frac 0.5 --name S5-12k ;;
    S5-3k) python3 "$bench/gen.py" S5 --keys 3000 --match-frac 0.5 --name S5-3k ;;
    *) python3 "$bench/gen.py" "$1" ;;
  esac >/dev/null
}
cargo build --release --quiet
rsec=$PWD/target/release/rsec
empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
# peak KiB of: PROGRAM RULES INPUT (actions go where the rules say)
peak() {
  local t
  t=$(mktemp)
  /usr/bin/time -f '%M %e' -o "$t" "$1" -conf="$2" -input="$3" -notail -nointevents >/dev/null 2>&1 || true
  cat "$t"
  rm -f "$t"
}
# Drop an earlier memory section (up to the next heading) so that a rerun replaces it.
if [[ -f BENCHMARKS.md ]]; then
  awk '/^## Memory per live operation/ { skip = 1; next } skip && /^## / { skip = 0 } !skip' BENCHMARKS.md \
    | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >BENCHMARKS.md.tmp
  mv BENCHMARKS.md.tmp BENCHMARKS.md
fi
{
  echo
  echo "## Memory per live operation"
  echo
  echo "Peak RSS on the whole input minus peak RSS on an empty input with the same rules"
  echo "(\`scripts/bench-memory.sh\`, one run each); the ratio is rsec's bytes per live operation"
  echo "over SEC's (target: at most 0.25)."
  echo
  echo "| scenario | SEC peak / empty | rsec peak / empty | SEC growth | rsec growth | rsec / SEC | SEC s | rsec s | output |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
} >>BENCHMARKS.md
for s in "${scenarios[@]}"; do
  [[ -f $dir/$s/rules.sec ]] || gen "$s"
  rules=$dir/$s/rules.sec
  input=$dir/$s/input.log
  out=$dir/$s/actions.out
  rm -f "$out"; read -r sec_base _ < <(peak sec "$rules" "$empty")
  rm -f "$out"; read -r sec_peak sec_s < <(peak sec "$rules" "$input")
  cp "$out" "$out.sec" 2>/dev/null || : >"$out.sec"
  rm -f "$out"; read -r r_base _ < <(peak "$rsec" "$rules" "$empty")
  rm -f "$out"; read -r r_peak r_s < <(peak "$rsec" "$rules" "$input")
  if cmp -s "$out" "$out.sec"; then same="identical ($(wc -l <"$out") lines)"
  elif cmp -s <(sort "$out") <(sort "$out.sec"); then same="identical after sorting"
  else same="DIFFERENT"; fi
  sg=$((sec_peak - sec_base)); rg=$((r_peak - r_base))
  ratio=$(awk -v a="$rg" -v b="$sg" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
  mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
  echo "| $s | $(mib "$sec_peak") / $(mib "$sec_base") | $(mib "$r_peak") / $(mib "$r_base") | $(mib "$sg") | $(mib "$rg") | $ratio | $sec_s | $r_s | $same |" >>BENCHMARKS.md
done
echo "wrote the memory table to BENCHMARKS.md"
