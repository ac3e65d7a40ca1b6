"""nvidia-smi query-gpu CSV: units, null markers, headers, failures, truncation, hex bitmask."""

from __future__ import annotations

import pandas as pd

from mlops_assets.lib.contracts.raw import GPU_BASE_FIELDS, GPU_QUERY_FIELDS
from mlops_assets.lib.contracts.tables import GPU_ERRORS, GPU_SAMPLES, schema_mismatches
from mlops_assets.lib.parsing.gpu import parse_gpu_csv

HEADER_NOUNITS = ", ".join(GPU_BASE_FIELDS)
HEADER_UNITS = (
    "timestamp, index, uuid, name, pci.bus_id, temperature.gpu, utilization.gpu [%], utilization.memory [%], "
    "memory.used [MiB], memory.total [MiB], power.draw [W], power.limit [W], fan.speed [%], clocks.sm [MHz], "
    "pstate, clocks_throttle_reasons.active, ecc.errors.uncorrected.volatile.total"
)
ROW_NOUNITS = (
    "2026/11/23 14:00:05.123, 0, GPU-aaa, NVIDIA A100-SXM4-80GB, 00000000:3B:00.0, 45, 90, 30, 1024, 81920, "
    "250.50, 400.00, [N/A], 1410, P0, 0x0000000000000004, 0"
)
ROW_UNITS = (
    "2026/11/23 14:00:06.123, 1, GPU-bbb, NVIDIA A100-SXM4-80GB, 00000000:3C:00.0, 46, 91 %, 31 %, 2048 MiB, "
    "81920 MiB, 251.00 W, 400.00 W, [Not Supported], 1410 MHz, P0, 0x0000000000000000, [N/A]"
)


def parse(text: str):
    return parse_gpu_csv(text.encode(), "gpu-01")


def accounted(r) -> bool:
    return r.records_in == len(r.table) + len(r.quarantine) + r.skipped


def test_nounits_row_is_typed_per_contract() -> None:
    r = parse(f"{HEADER_NOUNITS}\n{ROW_NOUNITS}\n")
    assert schema_mismatches(r.table, GPU_SAMPLES) == []
    row = r.table.iloc[0]
    assert row["ts"] == pd.Timestamp("2026-11-23 14:00:05.123", tz="UTC")
    assert (row["gpu_index"], row["gpu_uuid"], row["host"]) == (0, "GPU-aaa", "gpu-01")
    assert row["power_w"] == 250.5 and row["mem_total_mib"] == 81920
    assert pd.isna(row["fan_pct"])  # [N/A] -> null, row kept
    assert row["throttle_reasons"] == 4 and row["ecc_uncorrected"] == 0
    assert "UTC" in r.notes["timezone"]
    assert accounted(r) and r.skipped == 1


def test_units_and_not_supported_values() -> None:
    r = parse(f"{HEADER_UNITS}\n{ROW_UNITS}\n")
    row = r.table.iloc[0]
    assert (row["util_gpu_pct"], row["mem_used_mib"], row["power_w"], row["sm_clock_mhz"]) == (
        91,
        2048,
        251,
        1410,
    )
    assert pd.isna(row["fan_pct"]) and pd.isna(row["ecc_uncorrected"])
    assert "unparseable_values" not in r.notes


def test_custom_field_order_and_subset() -> None:
    r = parse("index, temperature.gpu, timestamp\n3, 70, 2026/11/23 14:00:05.000\n")
    row = r.table.iloc[0]
    assert (row["gpu_index"], row["temperature_c"]) == (3, 70)
    assert pd.isna(row["power_w"])


def test_repeated_headers_and_blank_lines_are_skipped_and_counted() -> None:
    r = parse(f"{HEADER_NOUNITS}\n{ROW_NOUNITS}\n\n{HEADER_NOUNITS}\n{ROW_NOUNITS}\n")
    assert len(r.table) == 2 and r.skipped == 3
    assert r.notes["repeated_headers"] == 1 and r.notes["blank_lines"] == 1
    assert accounted(r)


def test_truncated_last_row_is_quarantined_with_its_line_number() -> None:
    r = parse(f"{HEADER_NOUNITS}\n{ROW_NOUNITS}\n{ROW_NOUNITS[:40]}")
    assert len(r.table) == 1
    assert r.quarantine[["line_no", "reason"]].values.tolist() == [[3, "truncated_row"]]
    assert accounted(r)


def test_mid_file_wrong_field_count_is_field_count() -> None:
    r = parse(f"{HEADER_NOUNITS}\n{ROW_NOUNITS}, extra\n{ROW_NOUNITS}\n")
    assert r.reasons == {"field_count": 1} and r.quarantine["line_no"].tolist() == [2]


def test_failure_lines_become_gpu_errors_with_last_sample_ts() -> None:
    text = (
        f"No devices were found\n{HEADER_NOUNITS}\n{ROW_NOUNITS}\n"
        "Unable to determine the device handle for GPU 0000:3B:00.0: GPU is lost.  Reboot the system\n"
        "GPU 00000000:3C:00.0: GPU has fallen off the bus.\n"
    )
    r = parse(text)
    assert len(r.table) == 1 and accounted(r)
    ev = r.events
    assert schema_mismatches(ev, GPU_ERRORS) == []
    assert pd.isna(ev["ts"].iloc[0]) and pd.isna(ev["pci_bus"].iloc[0])
    assert ev["ts"].iloc[1] == pd.Timestamp("2026-11-23 14:00:05.123", tz="UTC")
    assert ev["pci_bus"].tolist()[1:] == ["0000:3b:00", "0000:3c:00"]


def test_noheader_rows_use_the_standard_field_order() -> None:
    r = parse(f"{ROW_NOUNITS}\n")
    assert len(r.table) == 1 and "assumed_header" in r.notes


def test_rows_without_header_and_other_width_are_quarantined() -> None:
    r = parse("1, 2, 3\n4, 5, 6\n")
    assert r.reasons == {"no_header": 2} and accounted(r)


def test_bad_timestamp_is_quarantined() -> None:
    r = parse("timestamp, index\n2026/13/45 99:00:00.000, 0\n2026/11/23 14:00:05.000, 1\nhello, 2\nhello\n")
    # "hello, 2" has the header's width: a sample with a bad time; "hello" is not a sample at all
    assert r.reasons == {"bad_timestamp": 2, "not_a_sample": 1} and len(r.table) == 1
    assert r.quarantine["line_no"].tolist() == [2, 4, 5]


def test_iso_timestamps_with_zone_are_converted_to_utc() -> None:
    r = parse("timestamp,gpu,memory.used\n2025-09-08T17:26:50+08:00,0, 4\n")
    assert r.table["ts"].iloc[0] == pd.Timestamp("2025-09-08 09:26:50", tz="UTC")


def test_crlf_bom_and_nul_bytes() -> None:
    data = ("\ufeff" + f"{HEADER_NOUNITS}\r\n{ROW_NOUNITS}\r\n").encode() + b"\x00\x00"
    r = parse_gpu_csv(data, "h")
    assert len(r.table) == 1 and r.table["ecc_uncorrected"].iloc[0] == 0 and r.notes["nul_bytes"] == 2


def test_utf16_with_bom() -> None:
    r = parse_gpu_csv(f"{HEADER_NOUNITS}\n{ROW_NOUNITS}\n".encode("utf-16"), "h")
    assert len(r.table) == 1 and r.notes["encoding"] == "utf-16"


def test_empty_input() -> None:
    r = parse_gpu_csv(b"", "h")
    assert r.records_in == 0 and r.table.empty and schema_mismatches(r.table, GPU_SAMPLES) == []


def test_unparseable_value_falls_back_to_string_path_and_is_counted() -> None:
    bad = ROW_NOUNITS.replace(", 45, 90,", ", abc, 90,")
    r = parse(f"{HEADER_NOUNITS}\n{ROW_NOUNITS}\n{bad}\n")
    assert len(r.table) == 2 and pd.isna(r.table["temperature_c"].iloc[1])
    assert r.table["temperature_c"].iloc[0] == 45 and r.notes["unparseable_values"] == 1


FULL_ROW = ROW_NOUNITS + ", 3, Yes, No, [N/A], 61, 4, 16"


def test_health_fields_are_typed_and_unsupported_ones_null() -> None:
    r = parse(", ".join(GPU_QUERY_FIELDS) + "\n" + FULL_ROW + "\n")
    assert schema_mismatches(r.table, GPU_SAMPLES) == []
    row = r.table.iloc[0]
    assert row["pci_bus"] == "0000:3b:00" and row["clocks_event_reasons"] == 4 == row["throttle_reasons"]
    assert row["ecc_uncorrected_aggregate"] == 3 and bool(row["remapped_rows_pending"]) is True
    assert bool(row["remapped_rows_failure"]) is False and pd.isna(row["retired_pages_pending"])
    assert row["memory_temp_c"] == 61 and row["pcie_link_gen"] == 4 and row["pcie_link_width"] == 16


def test_any_field_order_and_subset_maps_by_header() -> None:
    text = (
        "name, pcie.link.width.current, temperature.memory [C], timestamp, index, remapped_rows.pending\n"
        "NVIDIA H100 80GB HBM3, 16, 48, 2026/07/14 08:12:38.696, 3, No\n"
        "NVIDIA H100 80GB HBM3, 8, N/A, 2026/07/14 08:12:39.696, 2, [N/A]\n"
    )
    r = parse(text)
    assert len(r.table) == 2 and r.reasons == {} and accounted(r)
    assert r.table["gpu_index"].tolist() == [3, 2] and r.table["pcie_link_width"].tolist() == [16, 8]
    assert r.table["memory_temp_c"].iloc[0] == 48 and pd.isna(r.table["memory_temp_c"].iloc[1])
    assert r.table["power_w"].isna().all() and r.table["gpu_name"].iloc[0] == "NVIDIA H100 80GB HBM3"


def test_base_field_noheader_file_still_reads() -> None:
    r = parse(f"{ROW_NOUNITS}\n")
    assert len(r.table) == 1 and r.table["pcie_link_gen"].isna().all()
