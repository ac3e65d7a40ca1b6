"""nvidia-smi -q -x: old and new DTD element names, throttle bitmask, broken XML."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_assets.lib.contracts.tables import GPU_SAMPLES, schema_mismatches
from mlops_assets.lib.parsing.gpu_xml import parse_gpu_xml

V11 = b"""<?xml version="1.0" ?><!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v11.dtd">
<nvidia_smi_log><timestamp>Mon Apr 24 16:11:51 2023</timestamp><driver_version>525.1</driver_version>
<gpu id="00000000:00:1E.0"><product_name>NVIDIA A10G</product_name><uuid>GPU-1</uuid><fan_speed>0 %</fan_speed>
<performance_state>P8</performance_state><clocks_throttle_reasons>
<clocks_throttle_reason_gpu_idle>Active</clocks_throttle_reason_gpu_idle>
<clocks_throttle_reason_sw_power_cap>Active</clocks_throttle_reason_sw_power_cap></clocks_throttle_reasons>
<fb_memory_usage><total>23028 MiB</total><used>22 MiB</used></fb_memory_usage>
<utilization><gpu_util>3 %</gpu_util><memory_util>N/A</memory_util></utilization>
<ecc_errors><volatile><single_bit><total>1</total></single_bit><double_bit><total>2</total></double_bit></volatile></ecc_errors>
<temperature><gpu_temp>17 C</gpu_temp></temperature>
<power_readings><power_draw>25.58 W</power_draw><power_limit>300.00 W</power_limit></power_readings>
<clocks><sm_clock>210 MHz</sm_clock></clocks></gpu>
<gpu id="00000000:00:1F.0"><uuid>GPU-2</uuid><gpu_power_readings><instant_power_draw>99.5 W</instant_power_draw>
<current_power_limit>320.00 W</current_power_limit></gpu_power_readings>
<clocks_event_reasons><clocks_event_reason_hw_slowdown>Active</clocks_event_reason_hw_slowdown></clocks_event_reasons>
<ecc_errors><volatile><sram_uncorrectable>1</sram_uncorrectable><dram_uncorrectable>3</dram_uncorrectable></volatile></ecc_errors>
</gpu></nvidia_smi_log>"""


def test_two_gpus_old_and_new_names() -> None:
    r = parse_gpu_xml(V11, "h")
    assert schema_mismatches(r.table, GPU_SAMPLES) == []
    t = r.table
    assert t["ts"].tolist() == [pd.Timestamp("2023-04-24 16:11:51", tz="UTC")] * 2
    assert t["gpu_index"].tolist() == [0, 1] and t["gpu_uuid"].tolist() == ["GPU-1", "GPU-2"]
    assert t["power_w"].tolist() == pytest.approx([25.58, 99.5]) and t["power_limit_w"].tolist() == [300, 320]
    assert t["throttle_reasons"].tolist() == [0x1 | 0x4, 0x8] and t["ecc_uncorrected"].tolist() == [2, 4]
    assert pd.isna(t["util_mem_pct"].iloc[0]) and t["util_gpu_pct"].iloc[0] == 3
    assert r.notes["driver_version"] == "525.1"


def test_invalid_xml_and_missing_timestamp() -> None:
    assert parse_gpu_xml(b"<nvidia_smi_log><gpu>", "h").reasons == {"invalid_xml": 1}
    r = parse_gpu_xml(b"<nvidia_smi_log><gpu/><gpu/></nvidia_smi_log>", "h")
    assert r.reasons == {"missing_timestamp": 2} and r.records_in == 2
    assert parse_gpu_xml(b"<nvidia_smi_log/>", "h").reasons == {"no_gpu_elements": 1}
