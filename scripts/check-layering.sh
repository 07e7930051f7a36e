#!/usr/bin/env bash
# Checks the layering that docs/architecture.md states in its table "Which folder may include
# which" (between the `layering: begin` and `layering: end` markers): every #include of one of
# kestrel's folders by another must be an arrow of that table, every arrow must still be used by
# some include, and every folder with sources must have a row. A folder is engine/<name>,
# kernels/<name>, or models, apps, bench; tests/ may include anything and is not checked.
# ctest runs it as layering.includes. Usage: scripts/check-layering.sh [REPO_ROOT]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
doc=docs/architecture.md

# The table's rows as "from|to to ..." lines; "*" for a folder that may include anything.
rows=$(sed -n '/<!-- layering: begin -->/,/<!-- layering: end -->/p' "$doc" | grep '^| `' |
       awk -F'|' '{ from = $2; gsub(/[ `]/, "", from); cell = $3; to = ""
                    if (cell ~ /anything/) to = "*"
                    else while (match(cell, /`[^`]*`/)) {
                      to = to " " substr(cell, RSTART + 1, RLENGTH - 2)
                      cell = substr(cell, RSTART + RLENGTH)
                    }
                    print from "|" to }' || true)
[[ -n "$rows" ]] || { echo "check-layering: no layering table in $doc" >&2; exit 1; }

# Every include of a kestrel folder, as "file|included path", one grep over the sources.
includes=$(find engine kernels models apps bench -type f \
             \( -name '*.hpp' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' \) -print0 |
           xargs -0 grep -H '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' |
           sed 's/^\([^:]*\):[^"]*"\([^"]*\)".*/\1|\2/')
sources=$(find engine kernels models apps bench -type f \
            \( -name '*.hpp' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' \))

awk -v doc="$doc" -v rows="$rows" -v sources="$sources" '
  # The folder a path belongs to: engine/<name>, kernels/<name>, models, apps, bench or tests.
  function folder(path,   p, n) {
    n = split(path, p, "/")
    if ((p[1] == "engine" || p[1] == "kernels") && n > 2) return p[1] "/" p[2]
    if (p[1] == "models" || p[1] == "apps" || p[1] == "bench" || p[1] == "tests") return p[1]
    return ""
  }
  BEGIN {
    status = 0
    n = split(rows, r, "\n")
    for (i = 1; i <= n; i++) {
      split(r[i], cells, "|")
      from = cells[1]; has_row[from] = 1
      if (cells[2] == "*") { anything[from] = 1; continue }
      m = split(cells[2], tos, " ")
      for (j = 1; j <= m; j++) if (tos[j] != "") arrow[from ">" tos[j]] = 1
    }
    n = split(sources, s, "\n")
    for (i = 1; i <= n; i++) {
      f = folder(s[i])
      if (f != "" && !(f in has_row) && !(f in reported)) {
        printf "check-layering: %s has sources but no row in %s'"'"'s layering table\n", f, doc > "/dev/stderr"
        reported[f] = 1; status = 1
      }
    }
    FS = "|"
  }
  {
    from = folder($1); to = folder($2)
    if (to == "" || to == from || !(from in has_row)) next
    used[from ">" to] = 1
    if (!(from in anything) && !((from ">" to) in arrow)) {
      printf "check-layering: %s includes %s: %s may not include %s (%s)\n", $1, $2, from, to, doc > "/dev/stderr"
      status = 1
    }
  }
  END {
    for (a in arrow) if (!(a in used)) {
      split(a, ft, ">")
      printf "check-layering: %s lets %s include %s, but nothing there does: drop the arrow\n", doc, ft[1], ft[2] > "/dev/stderr"
      status = 1
    }
    if (status == 0) printf "check-layering: every include follows %s'"'"'s layering table\n", doc
    exit status
  }' <<<"$includes"
