#!/usr/bin/env bash
# Links the objects of the last `swift build` (debug) of the beamsync product again, this time
# with the Swift standard library and Foundation linked in statically, into OUTPUT.
#
#   scripts/lib/static-relink.sh OUTPUT
#
# Why not `swift build --static-swift-stdlib` over the same build directory: SwiftPM then keeps
# the objects it compiled without that flag, and their autolink entries name only the shared
# Foundation (whose own dependencies CoreFoundation, _FoundationICU, ... are inside the .so), so
# the link fails; a correct `--static-swift-stdlib` build compiles everything again (minutes).
# The code is the same either way: compiling with -static-stdlib only changes which libraries the
# objects ask the linker for. So this runs SwiftPM's own link command with -static-stdlib and
# adds what the static Foundation modules ask for, read from a one-line probe compiled with
# -static-stdlib (not from a list kept here).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $# -eq 1 ]] || { echo "usage: $0 OUTPUT" >&2; exit 64; }
output=$1
manifest=.build/debug.yaml
[[ -f $manifest ]] || { echo "static-relink: $manifest is missing; run swift build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# SwiftPM's link command for the product, one argument per line.
python3 - "$manifest" >"$tmp/args" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if line.startswith("args: [") and "beamsync.product/Objects.LinkFileList" in line and '"-emit-executable"' in line:
        for arg in json.loads(line[len("args: "):]):
            print(arg)
        break
else:
    sys.exit("static-relink: no link command for the beamsync product in " + sys.argv[1])
EOF
mapfile -t args <"$tmp/args"
list=""
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ ${args[i]} == @*Objects.LinkFileList ]] && list=${args[i]#@}
done
[[ -f $list ]] || { echo "static-relink: object list $list is missing" >&2; exit 1; }

# Which Foundation modules the objects use (from their autolink entries).
# (readelf fails for objects without Swift code; that is expected.)
entries=$(tr -d "'\"" <"$list" | xargs -r -n 64 readelf -p .swift1_autolink_entries 2>/dev/null || true)
modules=$(grep -oE -- '-l(Foundation|FoundationEssentials|FoundationInternationalization|FoundationNetworking|FoundationXML)$' <<<"$entries" \
          | sed 's/^-l//' | sort -u)
[[ -n $modules ]] || { echo "static-relink: the objects use no Foundation module; nothing to probe" >&2; exit 1; }
printf 'import %s\n' $modules >"$tmp/probe.swift"
(cd "$tmp" && swiftc -static-stdlib -c probe.swift -module-name probe -o probe.o)
mapfile -t libraries < <(readelf -p .swift1_autolink_entries "$tmp/probe.o" | grep -oE -- '-l[A-Za-z0-9_]+$')

command=()
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    -o) command+=(-o "$output"); i=$((i + 1)) ;;
    -static-stdlib) ;;
    *) command+=("${args[i]}") ;;
  esac
done
command+=(-static-stdlib -Xlinker --start-group)
for library in "${libraries[@]}"; do command+=(-Xlinker "$library"); done
command+=(-Xlinker --end-group)
"${command[@]}" 2> >(grep -v "the use of \`mktemp' is dangerous" >&2)
