"""The ONNX model: safe loading, onnxruntime sessions, description, cut points and splitting.

`load_model` refuses anything unsafe; `list_cut_points` finds where a graph can be cut
cleanly; `split_model` cuts it into the encoder (device side) and the head (server side) and
`verify_split` checks that head(encoder(x)) == model(x). `metadata` holds every `privaudit.*`
key; `edit` writes privaudit's own changes (metadata, embedded noise) atomically.
"""

from privaudit.model import metadata
from privaudit.model.channels import (
    channels_first_view,
    channels_last_view,
    is_channels_first_view,
    looks_channels_last,
    transposed_signal,
)
from privaudit.model.cutpoints import (
    ACTIVATION,
    CutPoint,
    Dim,
    list_cut_points,
    readable_shape,
    resolve_split,
)
from privaudit.model.describe import (
    InputSpec,
    image_input,
    input_specs,
    output_names,
    sha256_bytes,
    sha256_file,
    value_shape,
)
from privaudit.model.edit import (
    embed_noise,
    embedded_sigma,
    save_model,
    set_metadata,
    strip_embedded_noise,
)
from privaudit.model.inference import check_deterministic, check_inference_model
from privaudit.model.load import (
    RE_EXPORT,
    STANDARD_DOMAINS,
    check_model,
    first_line,
    load_model,
    load_model_and_sha256,
    model_sha256,
    one_line,
    unique_node_names,
)
from privaudit.model.metadata import read_metadata
from privaudit.model.scopes import NAME_SCOPES_KEY, node_scopes
from privaudit.model.session import make_session, run_batched, run_batched_outputs
from privaudit.model.split import Split, load_presplit, split_model, verify_split
from privaudit.model.whiten import broadcast_shape, channel_scales, whiten_split

__all__ = [
    "ACTIVATION",
    "NAME_SCOPES_KEY",
    "RE_EXPORT",
    "STANDARD_DOMAINS",
    "CutPoint",
    "Dim",
    "InputSpec",
    "Split",
    "broadcast_shape",
    "channel_scales",
    "channels_first_view",
    "channels_last_view",
    "check_deterministic",
    "check_inference_model",
    "check_model",
    "embed_noise",
    "embedded_sigma",
    "first_line",
    "image_input",
    "input_specs",
    "list_cut_points",
    "looks_channels_last",
    "transposed_signal",
    "is_channels_first_view",
    "load_model",
    "load_presplit",
    "make_session",
    "metadata",
    "node_scopes",
    "one_line",
    "output_names",
    "read_metadata",
    "readable_shape",
    "resolve_split",
    "run_batched",
    "run_batched_outputs",
    "save_model",
    "set_metadata",
    "sha256_bytes",
    "load_model_and_sha256",
    "model_sha256",
    "sha256_file",
    "split_model",
    "strip_embedded_noise",
    "unique_node_names",
    "value_shape",
    "verify_split",
    "whiten_split",
]
