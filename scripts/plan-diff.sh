#!/usr/bin/env bash
# Differential check (not run by CI): does a change to parsing, ids or
# planning change what `run-batch plan` says about any file? Compares two
# binaries' `plan --format json` and `--format text` (stdout, stderr and
# exit status) on the examples, the fixtures' task files, the corpus in
# ../shared when it is there, and files generated at random with the
# things ids are made of: look-alike texts under repeated headings, twins,
# explicit and dialect ids (spec-kit's `T012`), clashes, long texts cut to
# the same id, code spans, comments and odd white space.
#
#   scripts/plan-diff.sh OLD_BINARY NEW_BINARY [GENERATED]   (default 600)
#
# Build the old binary from the commit before the change (e.g. with
# `git worktree add`). Prints each file whose output differs and exits 1
# if any does (keeping the generated files to look at). Needs python3.
set -euo pipefail
old="$1"
new="$2"
count="${3:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"

python3 - "$work" "$count" <<'EOF'
import os, random, sys

words = ["run", "the", "tests", "build", "deploy", "fix", "api", "db", "cache",
         "docs", "compile", "same", "x", "quarterly", "billing", "report",
         "for", "one", "two", "2", "1.1", "naïve", "日本", "über", "a-b",
         "prepare", "very-long-word-that-keeps-going-on-and-on"]
heads = ["Tests", "Backend", "Frontend", "API", "Phase 1: Setup", "Docs",
         "Same", "日本語", "Backend", "Tests"]
ids = [f"id{i}" for i in range(6)] + ["tests", "same", "x"]

def text(r):
    t = " ".join(r.choice(words) for _ in range(r.randint(0, 12)))
    if r.random() < 0.1: t = t.replace(" ", "  ", 1)
    if r.random() < 0.1: t = "<!-- c --> " + t
    if r.random() < 0.1: t += " `code <!-- x -->`"
    if r.random() < 0.05: t = "\u00a0" + t
    if r.random() < 0.05: t = "\t" + t
    return t

def generate(seed):
    r = random.Random(seed)
    # Half the files speak spec-kit: most tasks start with a `T0nn` id.
    dialect = 0.85 if seed % 2 else 0.1
    out = ["# Title\n"] if r.random() < 0.5 else []
    for _ in range(r.randint(0, 6)):
        out.append(f"\n{r.choice(['##', '###', '##', '####'])} {r.choice(heads)}\n")
        if r.random() < 0.15:
            out.append(f"<!-- id: {r.choice(ids)} -->\n")
        for _ in range(r.randint(0, 8)):
            indent = "  " * r.choice([0, 0, 0, 1, 2])
            t = text(r)
            if r.random() < dialect:
                t = f"T0{r.randint(10, 30)} " + ("[P] " if r.random() < 0.3 else "") + t
            hint = f" <!-- id: {r.choice(ids)} -->" if r.random() < 0.15 else ""
            out.append(f"{indent}- [{r.choice(' x ')}] {t}{hint}\n")
            if r.random() < 0.2:
                out.append(f"{indent}  a body line\n")
    return "".join(out)

work, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    with open(os.path.join(work, f"generated-{i}.md"), "w") as f:
        f.write(generate(i))
EOF

files=("$work"/generated-*.md)
while IFS= read -r f; do files+=("$f"); done < <(
  cd "$root" && find examples fixtures -name '*.md' | sed "s|^|$root/|"
  if [ -d "$root/../shared/corpus/files" ]; then
    find "$root/../shared/corpus/files" -type f
  fi
)

compared=0
differing=0
for f in "${files[@]}"; do
  for format in json text; do
    a="$("$old" plan "$f" --format "$format" 2>&1; echo "exit $?")"
    b="$("$new" plan "$f" --format "$format" 2>&1; echo "exit $?")"
    compared=$((compared + 1))
    if [ "$a" != "$b" ]; then
      differing=$((differing + 1))
      echo "differs: plan --format $format $f"
    fi
  done
done
echo "$compared outputs compared, $differing differ"
if [ "$differing" -ne 0 ]; then
  echo "the generated files are kept in $work"
  exit 1
fi
rm -rf "$work"
