"""The audit (`privaudit assess`): prepare a run, extract its features once, then measure.

`run_assess` audits one split model: the bound, the head's accuracy with and without noise,
the noise sweep and the attack battery, then the gate. `measure_prepared` is the part that
`harden` reuses for every model it audits.
"""

from privaudit.audit.features import Features, audit_labels, encode, extract_features
from privaudit.audit.prepare import InMemory, Prepared, audit_partition, noise_channels, prepare
from privaudit.audit.provenance import Timer, provenance, versions
from privaudit.audit.run import (
    SAMPLES_STORED,
    UNCHECKED_FLOOR,
    check_embedded_sigma,
    measure_prepared,
    run_assess,
    small_audit_warning,
)
from privaudit.audit.target import build_target, torch_encoder
from privaudit.audit.utility import (
    accuracy,
    check_label_range,
    head_session,
    label_warnings,
    noisy_accuracy,
)

__all__ = [
    "SAMPLES_STORED",
    "UNCHECKED_FLOOR",
    "check_embedded_sigma",
    "Features",
    "InMemory",
    "Prepared",
    "Timer",
    "accuracy",
    "audit_labels",
    "audit_partition",
    "build_target",
    "check_label_range",
    "encode",
    "extract_features",
    "head_session",
    "label_warnings",
    "measure_prepared",
    "noise_channels",
    "noisy_accuracy",
    "prepare",
    "provenance",
    "run_assess",
    "small_audit_warning",
    "torch_encoder",
    "versions",
]
