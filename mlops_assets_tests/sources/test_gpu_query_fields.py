"""The GPU query fields against real drivers' --help-query-gpu, and the sampler for an older driver."""

from __future__ import annotations

import re

import pytest

from mlops_assets.lib.contracts.raw import GPU_BASE_FIELDS, GPU_HEALTH_FIELDS, GPU_QUERY_FIELDS
from mlops_assets.sources import commands
from mlops_assets_tests.realdata import realdata_dir


def _section(text: str, title: str) -> str:
    """Body of one `# <state> :: <title>` section of an exporter capture."""
    lines = text.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("# ") and f":: {title}" in ln)
    body = []
    for ln in lines[start + 3 :]:
        if ln.startswith("#" * 20):
            break
        body.append(ln)
    return "\n".join(body)


def test_every_query_field_is_listed_by_real_drivers() -> None:
    captures = sorted(realdata_dir("nvidia_smi", "captures_multi_format").glob("*.txt"))
    assert len(captures) == 6
    for path in captures:
        text = path.read_text()
        fields, missing = commands.supported_gpu_fields(_section(text, "help-query-gpu"))
        assert fields == GPU_QUERY_FIELDS and missing == (), path.name
        # and the driver really answers them in its CSV header (canonical names may differ)
        header = _section(text, "query-gpu (csv").split("\n")[0]
        names = {re.sub(r"\s*\[.*\]$", "", h.strip()) for h in header.split(",")}
        for field in GPU_HEALTH_FIELDS:
            assert field in names, (path.name, field)


OLD_DRIVER_HELP = """List of valid properties to query for the switch "--query-gpu":

"timestamp"
The timestamp of when the query was made.

""" + "\n\n".join(f'"{f}"\nsome text' for f in GPU_BASE_FIELDS if f != "timestamp")


def test_older_driver_gets_a_sampler_without_the_names_it_rejects() -> None:
    fields, missing = commands.supported_gpu_fields(OLD_DRIVER_HELP)
    assert fields == GPU_BASE_FIELDS and missing == GPU_HEALTH_FIELDS
    sampler = commands.gpu_sampler("/var/log/gpu.csv", 10, fields)
    assert "remapped_rows" not in sampler and "--query-gpu=timestamp,index," in sampler


def test_help_without_properties_keeps_every_field() -> None:
    assert commands.supported_gpu_fields("NVIDIA-SMI has failed") == (GPU_QUERY_FIELDS, ())


def test_sampler_refuses_fields_outside_the_contract() -> None:
    with pytest.raises(ValueError, match="subset"):
        commands.gpu_sampler("/var/log/gpu.csv", 10, ("timestamp", "index; rm -rf /"))
