"""The schema of params.yaml: typed sections and their checks.

Every section is a dataclass; `from_dict` checks keys and types recursively and reports the first
problem as one line naming the dotted key (``params.yaml: runs.fashion-ne.model.embedings: unknown
key``). A run is a dataset plus overrides of the base `model`, `train` and `eval` sections.
This module is the schema only: reading a params file is `cips.scale.load_params`, what identifies a run
is `cips.resolve`, so a stage that only needs the types imports nothing else of the project.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal


class ConfigError(ValueError):
    """A bad value in params.yaml (or an override); the message names the key."""


# --------------------------------------------------------------------------------------------
# generic strict loader


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp)
        return f"list of {_type_name(inner)}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key}: {value!r} is not one of {_type_name(tp)}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _convert(option, value, key)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{key}: expected null, got {value!r}")
        return None
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_convert(inner, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, inner = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {str(k): _convert(inner, v, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if tp is Any:
        return value
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {key}")


def from_dict(cls: type, data: Any, key: str = "") -> Any:
    """Build dataclass `cls` from `data`, refusing unknown keys and wrong types (naming the key)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{key or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for k in data:
        if k not in names:
            raise ConfigError(f"{key + '.' if key else ''}{k}: unknown key (known: {', '.join(sorted(names))})")
    kwargs = {k: _convert(hints[k], v, f"{key + '.' if key else ''}{k}") for k, v in data.items()}
    try:
        obj = cls(**kwargs)
    except TypeError as err:  # a required field is missing
        raise ConfigError(f"{key or cls.__name__}: {err}") from None
    check = getattr(obj, "check", None)
    if check is not None:
        check(key)
    return obj


def to_dict(obj: Any) -> Any:
    """A dataclass (tree) as plain dicts and lists, as it would be written in params.yaml."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def deep_merge(base: dict, override: dict | None) -> dict:
    """`override` merged onto a copy of `base`, recursively for nested mappings."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}: flat names for MLflow params and tables."""
    tree = to_dict(tree)
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, name))
        else:
            out[name] = v
    return out


# --------------------------------------------------------------------------------------------
# sections


@dataclass
class DiscriminatorConfig:
    """StyleGAN2 residual discriminator; channels at resolution r are min(channel_base // r, channel_max)."""

    channel_base: int = 32768
    channel_max: int = 512
    mbstd_group: int = 4


@dataclass
class ModelConfig:
    """The generator of a run. Defaults are the paper's CIPS-skips ("Main", the default) at 256x256."""

    arch: Literal["cips", "stylegan2"] = "cips"
    size: int = 256
    # CIPS: width of every fully-connected layer and of each positional encoding
    width: int = 512
    # CIPS: fully-connected layers on the main path (the paper's 15), the RGB output layer included
    # when there are no skips; with skips an RGB projection follows every second layer after the first
    depth: int = 15
    style_dim: int = 512
    n_mlp: int = 8
    lr_mlp: float = 0.01
    fourier: bool = True
    embeddings: bool = True
    residual: bool = False
    skips: bool = True
    activation: Literal["lrelu", "sine"] = "lrelu"
    noise: bool = True
    coords: Literal["cartesian", "cylindrical"] = "cartesian"
    panorama_width: int | None = None  # cylindrical: circumference of the cylinder in pixels
    channels: list[int] | None = None  # CIPS: per-block widths (official narrowing); null = constant
    modfc: Literal["auto", "bmm", "act", "conv"] = "auto"
    # CIPS with one encoding off: zeros = its channels are fed as zeros (the first layer keeps its
    # 2 * width input); widen = the other encoding is 2 * width wide. Both give Table 4's CIPS-NE 10.2 M.
    encoding_fill: Literal["zeros", "widen"] = "zeros"
    # CIPS: exact = stored vectors at grid nodes, bilinear between; official = the official code's
    # grid_sample(align_corners=False) outside full-grid training (on the grid itself a shift growing from 0 at the
    # centre towards half a pixel at the edges, with bilinear mixing)
    embedding_sampling: Literal["exact", "official"] = "exact"
    # StyleGAN2 generator: channels at resolution r are min(channel_base // r, channel_max)
    channel_base: int = 32768
    channel_max: int = 512
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def check(self, key: str) -> None:
        k = f"{key}." if key else ""
        if self.size < 4 or self.size & (self.size - 1):
            raise ConfigError(f"{k}size: {self.size} is not a power of two >= 4")
        if self.arch == "cips" and not (self.fourier or self.embeddings):
            raise ConfigError(f"{k}fourier/{k}embeddings: a CIPS generator needs at least one positional encoding")
        if self.coords == "cylindrical" and not self.panorama_width:
            raise ConfigError(f"{k}panorama_width: required (pixels around the cylinder) when coords is cylindrical")
        if self.depth < 2:
            raise ConfigError(f"{k}depth: {self.depth} is too small (at least 2 layers)")
        if self.arch == "cips" and self.residual and not self.skips and (self.depth - 1) % 2:
            raise ConfigError(f"{k}depth: {self.depth}; a residual generator needs an odd depth "
                              "(the first layer, then residual blocks of two layers, as the official CIPSres)")


@dataclass
class TrainConfig:
    """The GAN training loop of a run."""

    steps: int = 300_000
    batch: int = 16
    lr: float = 0.002
    betas: list[float] = field(default_factory=lambda: [0.0, 0.99])
    eps: float = 1e-8
    r1_gamma: float | None = None  # null: 0.0002 * size^2 / batch (StyleGAN2-ADA's heuristic)
    r1_every: int = 16
    # fused: R1 on the main D step's pass (StyleGAN2-ADA); separate: an extra D step for R1 every
    # r1_every steps, as the official CIPS code (which its 16/17 Adam correction assumes)
    r1_step: Literal["fused", "separate"] = "fused"
    # G's Adam gets the lazy-regularisation correction for this interval (lr * k/(k+1), betas ** (k/(k+1)))
    # although G has no regulariser: the official CIPS code does so with 4 (lr 0.0016); null = none
    g_reg_every: int | None = None
    ema_halflife_kimg: float = 10.0
    # set: the EMA halves every this many steps, whatever the batch (the official CIPS code: 0.5^(32/10,000) per
    # step, i.e. 312.5 steps: 10 kimg at batch 32, 5 kimg at batch 16); it replaces ema_halflife_kimg
    ema_halflife_steps: float | None = None
    ema_rampup: float | None = None
    flip: bool = True
    patch: int | None = None  # K: the generator and D see KxK patches of the full grid (Table 5)
    # multiscale: the official CIPS sampling, each step one dilation 2^l, l uniform in 0..log2(size/K)
    # (l = 0 a dense KxK crop), random offsets; fixed: always the dilation patch_sigma
    patch_sampling: Literal["multiscale", "fixed"] = "multiscale"
    patch_sigma: float | None = None  # fixed sampling's dilation; null = size / K
    seed: int = 0
    amp: Literal["none", "bf16"] = "none"
    tf32: bool = False
    compile: bool = False
    device: str = "auto"
    # Data parallel: train@ starts this many processes per run through torch.distributed.run (one per GPU
    # with CUDA, gloo processes on CPU); `batch` stays the global batch. Under an outer torchrun (several
    # machines) the launcher's WORLD_SIZE counts instead.
    nproc: int = 1
    # Samples per process and pass (StyleGAN2-ADA's --batch-gpu): each process accumulates batch / processes
    # in passes of batch_gpu; null = one pass. Equal updates need it divisible by D's mbstd_group.
    batch_gpu: int | None = None
    # CIPS: keep no activations of the per-pixel MLP; recompute them in backward, this many pixels at a time
    # (memory for about one more G forward); null = off. Results agree to float summation order.
    checkpoint_pixels: int | None = None
    workers: int = 2
    checkpoint_every: int = 1000
    # learning curve: every eval_every kimg, FID/KID of eval_n EMA samples against eval_n reals (null: none)
    eval_every: float | None = None
    eval_n: int = 500
    log_every: int = 50
    sample_every: int = 1000
    n_samples: int = 16

    def check(self, key: str) -> None:
        k = f"{key}." if key else ""
        if self.steps < 1:
            raise ConfigError(f"{k}steps: must be at least 1, got {self.steps}")
        if self.batch < 1:
            raise ConfigError(f"{k}batch: must be at least 1, got {self.batch}")
        if self.nproc < 1:
            raise ConfigError(f"{k}nproc: must be at least 1, got {self.nproc}")
        if self.batch % self.nproc:
            raise ConfigError(f"{k}nproc: batch {self.batch} is not divisible by {self.nproc} processes")
        if self.batch_gpu is not None and (self.batch_gpu < 1 or (self.batch // self.nproc) % self.batch_gpu):
            raise ConfigError(f"{k}batch_gpu: {self.batch_gpu} does not divide the {self.batch // self.nproc} "
                              f"samples per process (batch {self.batch} / nproc {self.nproc})")
        if len(self.betas) != 2:
            raise ConfigError(f"{k}betas: expected two numbers, got {self.betas}")
        if self.eval_every is not None and self.eval_every <= 0:
            raise ConfigError(f"{k}eval_every: must be a positive number of kimg (or null), got {self.eval_every}")
        if self.eval_n < 2:
            raise ConfigError(f"{k}eval_n: must be at least 2, got {self.eval_n}")
        if self.g_reg_every is not None and self.g_reg_every < 1:
            raise ConfigError(f"{k}g_reg_every: must be at least 1 (or null for none), got {self.g_reg_every}")
        if self.patch_sigma is not None and self.patch_sampling != "fixed":
            raise ConfigError(f"{k}patch_sigma: only used with patch_sampling 'fixed' (it is {self.patch_sampling!r})")


@dataclass
class EvalConfig:
    """Protocol of the quality metrics and the analysis stages."""

    n_generated: int = 50_000
    n_real: int | None = None  # null: every real image
    # which reals: random = a seeded permutation; first = the first n_real in LMDB order (the official
    # CIPS protocol: FID against the first 50k reals)
    real_selection: Literal["random", "first"] = "random"
    batch: int = 64
    seed: int = 0
    truncation: float = 1.0
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    prc_k: int = 3
    # precision/recall features: auto = VGG16 (the paper's) when its weights are present, else Inception
    prc_features: Literal["auto", "vgg16", "inception"] = "auto"
    real_floor: bool = False  # also measure real vs real at the same N (the bias floor)
    feature_path: Literal["fast", "exact"] = "fast"  # exact: torch-fidelity's forward unchanged (slower)
    grid: int = 64  # samples in the evaluation's sample grid
    save_png: bool = False  # also write every generated sample as PNG (runs/<run>/samples/)
    spectra_n: int = 5000
    # spectra (Fig. 7); defaults follow Durall et al. 2020: 20 ln|F|, DC kept, profile / its DC bin
    spectrum_log_base: Literal["e", "10", "2", "none"] = "e"
    spectrum_log_scale: float = 20.0
    spectrum_dc: Literal["keep", "subtract-mean", "exclude"] = "keep"
    spectrum_radius: Literal["nyquist", "corner"] = "nyquist"
    spectrum_normalise: Literal["dc", "none", "max"] = "dc"
    device: str = "auto"

    def check(self, key: str) -> None:
        k = f"{key}." if key else ""
        if self.n_generated < 2:
            raise ConfigError(f"{k}n_generated: must be at least 2, got {self.n_generated}")
        if self.n_real is not None and self.n_real < 2:
            raise ConfigError(f"{k}n_real: must be at least 2 (or null for every image), got {self.n_real}")
        if self.batch < 1:
            raise ConfigError(f"{k}batch: must be at least 1, got {self.batch}")
        if self.prc_k < 1:
            raise ConfigError(f"{k}prc_k: must be at least 1, got {self.prc_k}")
        if self.kid_subsets < 1 or self.kid_subset_size < 2:
            raise ConfigError(f"{k}kid_subsets/kid_subset_size: must be >= 1 and >= 2")
        if self.spectrum_normalise == "dc" and self.spectrum_dc != "keep":
            raise ConfigError(f"{k}spectrum_normalise: 'dc' divides by the DC bin, which spectrum_dc="
                              f"{self.spectrum_dc!r} removes (use none or max)")


IMAGE_SOURCE_KINDS = ("folder", "zip", "lsun", "official-lmdb")  # kinds that read a user-supplied path


@dataclass
class SourceConfig:
    """Where a dataset's images come from.

    folder: a directory searched recursively for jpg/jpeg/png/webp (any case); zip: a zip of such
    images; lsun: a category LMDB as LSUN publishes it (webp values); official-lmdb: one resolution
    directory written by the official CIPS prepare_data.py; fashion-mnist: the idx files of the
    Debian package dataset-fashion-mnist (path defaults to /usr/share/datasets/fashion-mnist);
    skimage: photographs bundled with scikit-image (path defaults to the installed package's data).
    """

    kind: Literal["folder", "zip", "lsun", "official-lmdb", "fashion-mnist", "skimage"]
    path: str = ""
    published: str = ""  # where a user obtains the data when `path` is missing
    licence: str = ""
    images: list[str] | None = None  # skimage: which bundled images (names as in skimage.data)
    limit: int | None = None  # use at most this many source images (the first ones, in sorted order)
    # the file or folder dvc.yaml lists as the prepare stage's dependency (DVC re-runs prepare when it
    # changes): the source path; for skimage photos the pinned requirements that fix them
    watch: str = ""

    def check(self, key: str) -> None:
        k = f"{key}." if key else ""
        if self.kind in IMAGE_SOURCE_KINDS and not self.path:
            raise ConfigError(f"{k}path: required for a source of kind {self.kind!r}")
        if self.images is not None and self.kind != "skimage":
            raise ConfigError(f"{k}images: only a source of kind 'skimage' takes a list of images")
        if self.kind == "skimage" and not self.images:
            raise ConfigError(f"{k}images: a source of kind 'skimage' needs a non-empty list of image names")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"{k}limit: must be at least 1 (or null for every image), got {self.limit}")


@dataclass
class CropConfig:
    """Which square of each (padded) source image becomes a training image."""

    # none: the whole image, which must be square; per-load: the whole image with its shorter side resized to
    # each resolution, and a new random square of it at every training load (the official --to_crop)
    mode: Literal["none", "center", "random", "per-load"] = "none"
    size: int | None = None  # side of the square crop in source pixels; null = the shorter side
    count: int = 1  # random crops per source image

    def check(self, key: str) -> None:
        k = f"{key}." if key else ""
        if self.size is not None and self.size < 1:
            raise ConfigError(f"{k}size: must be a positive number of pixels, got {self.size}")
        if self.size is not None and self.mode in ("none", "per-load"):
            raise ConfigError(f"{k}size: a crop size needs mode 'center' or 'random' (mode is {self.mode!r})")
        if self.count < 1:
            raise ConfigError(f"{k}count: must be at least 1, got {self.count}")
        if self.count > 1 and self.mode != "random":
            raise ConfigError(f"{k}count: {self.count} crops per image need mode 'random', not {self.mode!r}")


@dataclass
class DatasetConfig:
    """A dataset: a source and the preprocessing that turns it into an LMDB per resolution.

    Order of operations: decode -> RGB (or grey) -> pad_to -> crop (with rotation) -> resize to each
    resolution with `filter` -> encode as `format`. Random crops and angles are drawn from a
    generator seeded by (seed, index of the source image), so the output does not depend on workers.
    rotation: right-angles = a random multiple of 90 degrees (exact pixel permutation); arbitrary = a
    random angle, restricted per image to the angles at which the rotated crop lies inside the image
    (every angle when crop * sqrt(2) fits the shorter side), so no border ever shows.
    """

    source: SourceConfig
    scale: Literal["demo", "small", "paper", "test"] = "paper"
    # the paper's dataset whose published numbers this one's rows are shown beside (demo stand-ins)
    stands_for: str | None = None
    resolutions: list[int] = field(default_factory=lambda: [256])
    crop: CropConfig = field(default_factory=CropConfig)
    rotation: Literal["none", "right-angles", "arbitrary"] = "none"
    pad_to: int | None = None  # pad (centred, black) to this side before cropping and resizing
    filter: Literal["lanczos", "bicubic", "bilinear", "box", "nearest"] = "lanczos"
    # JPEG sources: decode at libjpeg's reduced DCT scale (1/2, 1/4, 1/8) while the shorter side stays
    # >= jpeg_draft x the largest resolution; `filter` does the rest (Pillow's reducing_gap: from 3.0 on
    # "indistinguishable from fair resampling in most cases"; 1.0 the fastest). Needs crop.size and
    # pad_to null (they are in source pixels).
    jpeg_draft: float | None = None
    format: Literal["raw", "png", "jpeg"] = "raw"  # raw: uint8 HWC bytes, shape in the manifest
    quality: int = 95  # jpeg only
    grayscale_to_rgb: bool = True  # false: store one grey channel (colour is converted); readers give RGB
    seed: int = 0
    workers: int = 2  # processes decoding and encoding; 0 or 1 = in the calling process
    # false: a dataset this machine does not have (`cips scale paper --datasets ffhq`): no stage prepares it
    # or trains its runs, and the report marks its cells absent
    enabled: bool = True

    def check(self, key: str) -> None:
        k = f"{key}." if key else ""
        if not self.resolutions:
            raise ConfigError(f"{k}resolutions: needs at least one output resolution")
        for i, res in enumerate(self.resolutions):
            if res < 1:
                raise ConfigError(f"{k}resolutions[{i}]: {res} is not a positive number of pixels")
        if len(set(self.resolutions)) != len(self.resolutions):
            raise ConfigError(f"{k}resolutions: {self.resolutions} lists a resolution twice")
        if self.pad_to is not None and self.pad_to < 1:
            raise ConfigError(f"{k}pad_to: must be a positive number of pixels, got {self.pad_to}")
        if self.rotation == "arbitrary" and (self.crop.mode == "none" or self.crop.size is None):
            raise ConfigError(
                f"{k}crop.size: rotation 'arbitrary' needs a crop (mode center or random) with a size small "
                "enough to fit inside the rotated image (at most shorter side / sqrt(2) for every angle)"
            )
        if self.jpeg_draft is not None:
            if self.jpeg_draft < 1.0:
                raise ConfigError(f"{k}jpeg_draft: {self.jpeg_draft} is below 1 (the decode is too small)")
            if self.crop.size is not None or self.pad_to is not None:
                raise ConfigError(
                    f"{k}jpeg_draft: needs crop.size and pad_to null (both are in source pixels, which a "
                    "reduced decode changes)"
                )
        if self.crop.mode == "per-load" and (self.format == "raw" or self.rotation != "none" or self.pad_to):
            raise ConfigError(f"{k}crop.mode: per-load keeps each image's aspect, so it needs format png or jpeg "
                              f"(not {self.format}), rotation none and pad_to null")
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"{k}quality: {self.quality} is not a JPEG quality in 1..100")
        if self.workers < 0:
            raise ConfigError(f"{k}workers: must be 0 or more, got {self.workers}")
        if self.seed < 0:
            raise ConfigError(f"{k}seed: must be 0 or more, got {self.seed}")


# The official data path: prepare_data.py resizes with torchvision's default (bilinear) and stores JPEG 85.
OFFICIAL_DATA = {"filter": "bilinear", "format": "jpeg", "quality": 85}
PROTOCOLS = {
    "ours": "datasets as params.yaml says; FID reals drawn at random",
    "official": "the authors' data path: bilinear resize, JPEG quality 85; FID against the first 50k reals",
}



# key -> label in Fig. 7 (main: CIPS with skips, for Sec. 4.5's remark that skips make spectra less natural)
SPECTRA_ROLES = {"base": "CIPS-base", "ne": "CIPS-NE", "stylegan2": "StyleGAN2", "main": "CIPS-main"}


@dataclass
class SpectraConfig:
    """Fig. 7: real images of `dataset` and the runs of CIPS-base, CIPS-NE and StyleGAN2 (and CIPS-main)."""

    dataset: str
    base: str | None = None
    ne: str | None = None
    stylegan2: str | None = None
    main: str | None = None
    n: int | None = None  # images per set; null = eval.spectra_n

    def check(self, key: str) -> None:
        if not any(getattr(self, r) for r in SPECTRA_ROLES):
            raise ConfigError(f"{key}: needs at least one of {', '.join(SPECTRA_ROLES)} (the run of that model)")
        if self.n is not None and self.n < 1:
            raise ConfigError(f"{key}.n: must be at least 1 (or null for eval.spectra_n), got {self.n}")

    def runs(self) -> dict[str, str]:
        """Label -> run, for the roles that are set."""
        return {label: getattr(self, role) for role, label in SPECTRA_ROLES.items() if getattr(self, role)}


@dataclass
class EncodingsConfig:
    """Figs. 3-6: the CIPS-base run (and CIPS-NE for Fig. 3)."""

    base: str
    ne: str | None = None
    seed: int = 0


@dataclass
class AnalysisConfig:
    """Which runs the analysis stages read (Figs. 3-7); a missing section skips its stage's work."""

    spectra: SpectraConfig | None = None
    encodings: EncodingsConfig | None = None

    def run_keys(self) -> dict[str, str]:
        """analysis.<section>.<role> -> run name, for every run the analyses name."""
        out = {}
        if self.spectra:
            out.update({f"analysis.spectra.{r}": getattr(self.spectra, r) for r in SPECTRA_ROLES
                        if getattr(self.spectra, r)})
        if self.encodings:
            out.update({f"analysis.encodings.{r}": getattr(self.encodings, r) for r in ("base", "ne")
                        if getattr(self.encodings, r)})
        return out


@dataclass
class RunConfig:
    """One trained model: a dataset plus overrides of the base sections, resolved."""

    name: str
    dataset: str
    model: ModelConfig
    train: TrainConfig
    eval: EvalConfig
    # which cell of which table this run feeds (data, not code): table1/table2: cips | stylegan2 (row =
    # the dataset); table3: base | ne | nofourier | main | residual | sine; table5: full | half | quarter
    tables: dict[str, str] = field(default_factory=dict)
    group: str = ""  # the entry of `runs` this model comes from (= name unless the entry declares seeds)


def member_name(run: str, seed: int) -> str:
    """The trained model of seed `seed` of a run that declares `seeds`."""
    return f"{run}-s{seed}"


# The scales, each a file configs/<scale>.yaml (`cips.layout.scale_config`); test is the suite's tiny one.
Scale = Literal["demo", "small", "paper", "test"]
SCALES: tuple[str, ...] = typing.get_args(Scale)
USER_SCALES = ("demo", "small", "paper")  # what `cips scale NAME` offers
DEFAULT_SCALE = "demo"  # a project without params.yaml; its stages keep unprefixed names (train@fashion-cips)

# Which cells of which table a run can feed (params.yaml: runs.<run>.tables); the published numbers of each
# cell are cips.paper's
TABLE_CELLS = {
    "table1": ("cips", "stylegan2"),
    "table2": ("cips", "stylegan2"),
    "table3": ("base", "ne", "nofourier", "main", "residual", "sine"),
    "table5": ("full", "half", "quarter"),
}


@dataclass
class Params:
    """The whole of params.yaml."""

    scale: Scale
    model: dict
    train: dict
    eval: dict
    datasets: dict[str, DatasetConfig]
    runs: dict[str, dict]
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    # ours: each dataset as its entry says, reals for FID drawn at random; official: the authors' data path
    # (bilinear resize, JPEG quality 85, as prepare_data.py) and FID against the first 50k reals
    protocol: Literal["ours", "official"] = "ours"
    dvc: dict | None = None  # generated by `cips scale` (cips/plan.py): DVC's foreach keys; checked, not read

    def apply_protocol(self) -> None:
        """Rewrite the datasets and the eval section as the protocol says (official: the authors' path)."""
        if self.protocol != "official":
            return
        for ds in self.datasets.values():
            for key, value in OFFICIAL_DATA.items():
                setattr(ds, key, value)
        self.eval = {**self.eval, "real_selection": "first", "n_real": self.eval.get("n_real") or 50_000}

    @property
    def base_eval(self) -> EvalConfig:
        """The base `eval` section, validated (what the reference and analysis stages use)."""
        return from_dict(EvalConfig, self.eval, "eval")

    def base_model(self, overrides: dict | None = None) -> ModelConfig:
        """The base `model` section with `overrides` applied, validated."""
        return from_dict(ModelConfig, deep_merge(self.model, overrides), "model")

    def absent(self, run: str) -> str | None:
        """The dataset of entry `run` of runs when that dataset has enabled: false, else None."""
        dataset = (self.runs.get(run) or {}).get("dataset")
        ds = self.datasets.get(dataset) if isinstance(dataset, str) else None
        return dataset if ds is not None and not ds.enabled else None

    def members(self, absent: bool = False) -> dict[str, tuple[str, int | None]]:
        """Every model to train: name -> (entry of runs, seed). An entry with `seeds: [0, 1, 2]` gives one
        model per seed, <run>-s0, <run>-s1, <run>-s2 (each its own stages and MLflow run); an entry without
        gives one model of the same name (seed: its train.seed). `absent`: also the models of datasets with
        enabled: false."""
        out: dict[str, tuple[str, int | None]] = {}
        for run, spec in self.runs.items():
            if not absent and self.absent(run):
                continue
            seeds = (spec or {}).get("seeds")
            if seeds is None:
                out[run] = (run, None)
                continue
            seeds = _convert(list[int], seeds, f"runs.{run}.seeds")
            if not seeds or len(set(seeds)) != len(seeds):
                raise ConfigError(f"runs.{run}.seeds: expected distinct integers, got {seeds}")
            for seed in seeds:
                out[member_name(run, seed)] = (run, seed)
        return out

    def members_of(self, run: str, absent: bool = False) -> list[str]:
        """The trained models of entry `run` of runs, in seed order (none for an absent dataset's run unless
        `absent`)."""
        if run not in self.runs:
            raise ConfigError(f"runs.{run}: no such run (known: {', '.join(sorted(self.runs))})")
        return [m for m, (r, _) in self.members(absent).items() if r == run]

    @property
    def enabled_datasets(self) -> dict[str, DatasetConfig]:
        return {d: ds for d, ds in self.datasets.items() if ds.enabled}

    def run(self, name: str) -> RunConfig:
        """Resolve model `name` (an entry of runs, or one seed of an entry that declares seeds): the base
        sections with the entry's overrides (and the seed) applied and validated."""
        members = self.members(absent=True)
        if name not in members:
            if name in self.runs:
                raise ConfigError(f"runs.{name}: declares seeds; its models are {', '.join(self.members_of(name))}")
            raise ConfigError(f"runs.{name}: no such run (known: {', '.join(sorted(members))})")
        group, seed = members[name]
        spec = dict(self.runs[group] or {})
        key = f"runs.{group}"
        allowed = {"dataset", "model", "train", "eval", "tables", "seeds"}
        for k in spec:
            if k not in allowed:
                raise ConfigError(f"{key}.{k}: unknown key (known: {', '.join(sorted(allowed))})")
        if seed is not None:
            train = spec.get("train") or {}
            if isinstance(train, dict) and "seed" in train:
                raise ConfigError(f"{key}.train.seed: the entry declares seeds; give the seeds there only")
            spec["train"] = {**train, "seed": seed} if isinstance(train, dict) else train
        dataset = spec.get("dataset")
        if not isinstance(dataset, str):
            raise ConfigError(f"{key}.dataset: required, the name of an entry of datasets")
        if dataset not in self.datasets:
            raise ConfigError(f"{key}.dataset: {dataset!r} is not in datasets ({', '.join(sorted(self.datasets))})")
        sections = {}
        for section, cls in (("model", ModelConfig), ("train", TrainConfig), ("eval", EvalConfig)):
            override = spec.get(section) or {}
            if not isinstance(override, dict):
                raise ConfigError(f"{key}.{section}: expected a mapping of overrides, got {override!r}")
            sections[section] = from_dict(cls, deep_merge(getattr(self, section), override), f"{key}.{section}")
        tables = _convert(dict[str, str], spec.get("tables") or {}, f"{key}.tables")
        for table, cell in tables.items():
            if table not in TABLE_CELLS:
                raise ConfigError(f"{key}.tables.{table}: unknown table (known: {', '.join(TABLE_CELLS)})")
            if cell not in TABLE_CELLS[table]:
                raise ConfigError(f"{key}.tables.{table}: {cell!r} is not one of {', '.join(TABLE_CELLS[table])}")
        run = RunConfig(name=name, dataset=dataset, tables=tables, group=group, **sections)
        if run.train.patch is not None:
            k = run.train.patch
            if k < 4 or run.model.size % k:
                raise ConfigError(f"{key}.train.patch: {k} must divide model.size {run.model.size} and be >= 4")
        return run

    def dataset(self, name: str) -> DatasetConfig:
        if name not in self.datasets:
            raise ConfigError(f"datasets.{name}: no such dataset (known: {', '.join(sorted(self.datasets))})")
        return self.datasets[name]
