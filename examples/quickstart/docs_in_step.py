#!/usr/bin/env python3
"""That the quickstart code the documentation shows is the code CI runs: every
`<!-- verbatim: PATH -->` line in docs/*.md must be followed by a fenced code block whose text is
the file PATH (from the repository's root) exactly. One line per block; exit 1 when one differs
or names no file, or when no block is marked at all.

    python3 examples/quickstart/docs_in_step.py
"""

import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- verbatim: (\S+) -->$")


def blocks(doc):
    """(line number, path, the code block's text) for each marker of a Markdown file."""
    lines = doc.read_text().splitlines()
    for number, line in enumerate(lines):
        match = MARKER.match(line.strip())
        if not match:
            continue
        fence = number + 1
        if fence >= len(lines) or not lines[fence].startswith("```"):
            yield number + 1, match[1], None
            continue
        end = next((i for i in range(fence + 1, len(lines)) if lines[i] == "```"), None)
        yield number + 1, match[1], None if end is None else "\n".join(lines[fence + 1 : end]) + "\n"


def main():
    failed = checked = 0
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for line, path, shown in blocks(doc):
            checked += 1
            name = f"{doc.relative_to(ROOT)}:{line} shows {path} verbatim"
            file = ROOT / path
            if shown is None:
                print(f"FAIL {name}\n     the marker is not followed by a fenced code block")
            elif not file.is_file():
                print(f"FAIL {name}\n     there is no file {path}")
            elif shown != file.read_text():
                diff = difflib.unified_diff(file.read_text().splitlines(), shown.splitlines(), path, "the documentation", lineterm="")
                print(f"FAIL {name}\n     " + "\n     ".join(list(diff)[:20]))
            else:
                print(f"ok   {name}")
                continue
            failed += 1
    if checked == 0:
        print("FAIL the documentation marks quickstart files (<!-- verbatim: PATH -->)\n     none found")
        failed = 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
