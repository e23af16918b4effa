#!/usr/bin/env bash
# Brings src/*/PublicAPI.Unshipped.txt in line with the code after an intended public API change: builds each
# library with warnings allowed, adds the symbols RS0016 reports (public, not declared) and removes the ones
# RS0017 reports (declared, no longer public). Review the diff: every line is a promise to users.
# When a version ships, move the Unshipped lines into PublicAPI.Shipped.txt.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
for project in src/*/*.csproj; do
  dir="$(dirname "$project")"
  unshipped="$dir/PublicAPI.Unshipped.txt"
  log="$(mktemp)"
  dotnet build "$project" -c Release --no-incremental -p:TreatWarningsAsErrors=false -nologo >"$log" 2>&1 || { cat "$log"; exit 1; }
  # Only this project's diagnostics (a referenced project reports its own).
  own="[$repo_root/$project]"
  added="$(grep -F "$own" "$log" | grep -F 'RS0016' | sed -E "s/.*RS0016: Symbol '(.*)' is not part of the declared public API.*/\1/" | sort -u || true)"
  removed="$(grep -F "$own" "$log" | grep -F 'RS0017' | sed -E "s/.*RS0017: Symbol '(.*)' is part of the declared API.*/\1/" | sort -u || true)"
  rm -f "$log"
  { head -n 1 "$unshipped"
    { tail -n +2 "$unshipped" | grep -vxF -f <(printf '%s\n' "$removed") || true; printf '%s\n' "$added"; } | grep -v '^$' | LC_ALL=C sort -u
  } >"$unshipped.new"
  mv "$unshipped.new" "$unshipped"
  echo "$dir: +$(printf '%s' "$added" | grep -c . || true) -$(printf '%s' "$removed" | grep -c . || true)"
done
