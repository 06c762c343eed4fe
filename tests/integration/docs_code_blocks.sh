#!/usr/bin/env bash
# The Python examples shown in docs/*.md are the files in docs/examples/, verbatim: every
# `<!-- example: docs/examples/NAME.py -->` marker must be followed by a ```python block equal
# to that file, and every file in docs/examples/ must be shown somewhere (so the docs and the
# examples that docs_examples.sh runs cannot drift apart).
set -euo pipefail
: "${LOCSWEEP_SOURCE_DIR:?set LOCSWEEP_SOURCE_DIR to the source tree}"
/usr/bin/python3 - "$LOCSWEEP_SOURCE_DIR" <<'PY'
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
marker = re.compile(r"<!-- example: (docs/examples/[\w.-]+) -->\n```python\n(.*?)^```$", re.S | re.M)
shown, failures = set(), []
for doc in sorted((root / "docs").glob("*.md")):
    text = doc.read_text(encoding="utf-8")
    if text.count("<!-- example:") != len(marker.findall(text)):
        failures.append(f"{doc.name}: an example marker is not followed by a ```python block")
    for path, code in marker.findall(text):
        shown.add(path)
        file = root / path
        if not file.is_file():
            failures.append(f"{doc.name}: shows {path}, which does not exist")
        elif file.read_text(encoding="utf-8") != code:
            failures.append(f"{doc.name}: the block shown for {path} differs from the file; paste the file again")
        else:
            print(f"ok: {doc.name} shows {path} verbatim ({code.count(chr(10))} lines)")
for file in sorted((root / "docs/examples").glob("*.py")):
    if str(file.relative_to(root)) not in shown:
        failures.append(f"{file.relative_to(root)} is not shown in any docs/*.md")
if not shown:
    failures.append("no examples found in docs/*.md")
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
PY
