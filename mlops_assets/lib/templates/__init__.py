"""Log template mining: mask variable tokens, cluster distinct masked strings, stable template ids.

Public API: :func:`mask_message`, :class:`TemplateMiner`, :func:`grouping_accuracy`.
"""

from mlops_assets.lib.templates.accuracy import grouping_accuracy
from mlops_assets.lib.templates.masking import WILDCARD, mask_array, mask_message
from mlops_assets.lib.templates.miner import (
    FORMAT_VERSION,
    OVERFLOW_ID,
    OVERFLOW_TEMPLATE,
    TemplateMiner,
    TemplateStateVersionError,
)

__all__ = [
    "FORMAT_VERSION",
    "OVERFLOW_ID",
    "OVERFLOW_TEMPLATE",
    "WILDCARD",
    "TemplateMiner",
    "TemplateStateVersionError",
    "grouping_accuracy",
    "mask_array",
    "mask_message",
]
