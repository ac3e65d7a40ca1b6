"""Realistic multi-GPU host simulator with fault injection and ground-truth labels.

Public API: :func:`simulate`, :class:`SimulationSummary`, :class:`FaultSpec`, :data:`FAULT_KINDS`,
:data:`FAULT_SOURCES`, :func:`default_schedule`, :func:`read_labels`.
"""

from mlops_assets.simulate.core import DEFAULT_START, LABELS_FILE, SimulationSummary, simulate
from mlops_assets.simulate.schedule import (
    FAULT_KINDS,
    FAULT_SOURCES,
    FaultSpec,
    default_schedule,
    read_labels,
)

__all__ = [
    "DEFAULT_START",
    "FAULT_KINDS",
    "FAULT_SOURCES",
    "LABELS_FILE",
    "FaultSpec",
    "SimulationSummary",
    "default_schedule",
    "read_labels",
    "simulate",
]
