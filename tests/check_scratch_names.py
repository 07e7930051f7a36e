#!/usr/bin/env python3
"""The CLI tests run side by side (ctest -j) in one working directory, each with scratch files
named after a short tag (tr16-runs, tr16.err). Two tests sharing a tag delete each other's run
directories mid-run (cli.train_resnet20_recipe and cli.train_target_accuracy once did): this
check fails, naming them, when a tag is used by more than one test or script."""
import collections
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
tag = re.compile(r"\b([a-z]+[0-9]+[a-z]?)(?:-runs|\.err|\.out|\.txt|\.svg|-out)\b")
uses = collections.defaultdict(set)
text = (root / "tests/CMakeLists.txt").read_text()
for m in re.finditer(r"add_test\(NAME (\S+)(.*?)(?=\nadd_test|\nset_tests|\n#|\Z)", text, re.S):
    for t in set(tag.findall(m.group(2))):
        uses[t].add(m.group(1))
for script in sorted(root.glob("tests/**/*.sh")):
    for t in set(tag.findall(script.read_text())):
        uses[t].add(str(script.relative_to(root)))
clashes = {t: sorted(n) for t, n in uses.items() if len(n) > 1}
for t, names in sorted(clashes.items()):
    print(f"check_scratch_names: '{t}' is used by {', '.join(names)}", file=sys.stderr)
sys.exit(1 if clashes else 0)
