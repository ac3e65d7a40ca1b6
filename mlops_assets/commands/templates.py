"""`mlops-assets templates MESSAGES_FILE [--out CSV]`: mine templates from one message per line.

Writes CSV ``line_no,template_id,template`` (1-based line numbers) to stdout or, atomically, to --out,
and a one-line summary to stderr. Undecodable bytes are replaced (U+FFFD) rather than failing, because
a single bad byte in a log dump must not stop the user from seeing its templates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("messages_file", type=Path, help="text file, one log message per line (CRLF ok)")
    parser.add_argument("--out", type=Path, default=None, help="write the CSV here (default: stdout)")
    parser.add_argument("--max-templates", type=int, default=2000, help="template cap (default 2000)")


def read_messages(path: Path) -> list[str]:
    """Lines of ``path`` without their terminators (\\n, \\r\\n); invalid UTF-8 replaced."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from mlops_assets.lib.storage.partition_store import atomic_write_text
    from mlops_assets.lib.templates import TemplateMiner

    path: Path = args.messages_file
    if not path.is_file():
        print(f"templates: {path} is not a readable file", file=sys.stderr)
        return 2
    messages = read_messages(path)
    miner = TemplateMiner(max_templates=args.max_templates)
    ids = miner.fit_match(messages)
    texts = miner.templates_frame().set_index("template_id")["template"]
    frame = pd.DataFrame({"line_no": range(1, len(messages) + 1), "template_id": ids})
    frame["template"] = frame["template_id"].map(texts)
    csv_text = frame.to_csv(index=False, lineterminator="\n")
    if args.out is None:
        sys.stdout.write(csv_text)
        sys.stdout.flush()
    else:
        atomic_write_text(args.out, csv_text)
    overflow = f", {miner.overflow_count} overflowed" if miner.overflowed else ""
    print(f"templates: {len(messages)} messages, {miner.n_templates} templates{overflow}", file=sys.stderr)
    return 0
