"""`mlops-assets redact FILE|-`: print exactly what would leave the host for a text, so it can be audited.

Runs the same redaction the LLM prompt and the webhook/Slack channels use (lib/triage/redact.py,
rules from gitleaks.toml + redact_rules.toml). ``--mode text`` (default) treats the input as one
alert/evidence text; ``--mode lines`` treats each line as a sample log line of a prompt (redacted on
its own, then cut to the prompt's per-line budget). A per-rule count goes to stderr; ``--fail-on-find``
exits 1 when anything was redacted (for CI checks of log samples).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="text file to audit, or - for standard input (invalid UTF-8 replaced)")
    parser.add_argument(
        "--mode",
        choices=("text", "lines"),
        default="text",
        help="text: one alert/evidence text (default); lines: each line a prompt sample line",
    )
    parser.add_argument("--ips", action="store_true", help="also redact IP addresses (redact_ips)")
    parser.add_argument("--hostnames", action="store_true", help="also redact FQDNs (redact_hostnames)")
    parser.add_argument("--quiet", action="store_true", help="no per-rule summary on stderr")
    parser.add_argument("--fail-on-find", action="store_true", help="exit 1 when anything was redacted")


def _read(name: str) -> str:
    data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    return data.decode("utf-8", errors="replace")


def run(args: argparse.Namespace) -> int:
    from mlops_assets.lib.triage.hypotheses import SAMPLE_LINE_CHARS
    from mlops_assets.lib.triage.redact import RULES, cut, redact_with_counts

    if args.file != "-" and not Path(args.file).is_file():
        print(f"redact: {args.file} is not a readable file", file=sys.stderr)
        return 2
    text = _read(args.file)
    counts: Counter[str] = Counter()
    if args.mode == "text":
        r = redact_with_counts(text, ips=args.ips, hostnames=args.hostnames)
        counts.update(r.counts)
        out = r.text
    else:
        lines = []
        for line in text.splitlines():
            r = redact_with_counts(line, ips=args.ips, hostnames=args.hostnames)
            counts.update(r.counts)
            lines.append(cut(r.text, SAMPLE_LINE_CHARS))
        out = "\n".join(lines) + ("\n" if lines else "")
    sys.stdout.write(out)
    sys.stdout.flush()
    if not args.quiet:
        summary = ", ".join(f"{k}={v}" for k, v in counts.most_common()) or "nothing"
        print(
            f"redact: {sum(counts.values())} redactions ({summary}); {len(RULES.rules)} rules "
            f"({len(RULES.skipped)} gitleaks rules need file paths and do not apply to text)",
            file=sys.stderr,
        )
    return 1 if args.fail_on_find and counts else 0
