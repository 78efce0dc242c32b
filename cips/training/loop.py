"""The GAN training loop of one run (StyleGAN2's recipe, as the paper trains every model).

D step: logistic loss on G(z) and reals, plus the R1 penalty every `r1_every` steps (lazy, scaled by the
interval, with StyleGAN2's Adam correction), on the same pass (`r1_step: fused`) or as an extra D step
(`separate`, the official CIPS code). G step: non-saturating loss. Then the EMA generator.
Patch training (Table 5) renders KxK patches P_{K,sigma}(u, v) of the full grid and shows D the real
patches at the same coordinates (one draw per step, used by the D and the G step, as the official code);
sigma is drawn per step from {1, 2, 4, ..., size/K} (`patch_sampling: multiscale`, official) or fixed.
Panorama training renders random crops of a cylinder.

Everything random in a step comes from generators seeded by (seed, step), except the per-pixel noise
(torch's global RNG, saved in checkpoints): a resumed run continues exactly as an uninterrupted one.

Data parallel: the global batch `train.batch` is split over processes (DistributedDataParallel: bucketed
all-reduce overlapped with backward) and, within a process, into accumulated passes of `train.batch_gpu`.
Process r, pass m renders samples r + W*m, r + W*m + W*A, ... of the global batch (W processes, A passes),
with the latents, patches, reals and per-pixel noise (SharedNoise) one pass of the whole batch would use,
so any split gives the same update up to float summation order. The strided split keeps D's
minibatch-stddev groups whole when batch_gpu is a multiple of mbstd_group.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from cips import coords
from cips.config import RunConfig, to_dict
from cips.images import grid_image
from cips.layout import CHECKPOINT
from cips.models import build_discriminator, build_generator
from cips.models.checkpoint import FORMAT, UnsafeCheckpointError, save_atomic, torch_load_data
from cips.models.layers import SharedNoise
from cips.resolve import resume_mismatch, resume_signature
from cips.runtime import machine, resolve_device
from cips.training import distributed as dist_utils
from cips.training.data import RealImages, step_generator
from cips.training.ema import ema_beta, update_ema
from cips.training.losses import d_logistic, g_nonsaturating, lazy_adam_correction, r1_penalty

log = logging.getLogger(__name__)



class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(RuntimeError):
    """SIGTERM/SIGINT: a checkpoint was saved, the run resumes when started again."""


@dataclass
class TrainResult:
    step: int
    steps: int
    img_per_s: float
    wall_time_s: float
    params_g: int
    params_d: int
    resumed_from: int | None = None
    mlflow_run_id: str | None = None
    max_rank_divergence: float = 0.0
    last: dict = field(default_factory=dict)
    curve: list = field(default_factory=list)  # learning curve: {step, kimg, fid, kid} per measurement
    curve_seconds: float = 0.0
    rank: int = 0
    machines: list = field(default_factory=list)  # {from_step, device, name, torch, threads, world_size} per start
    world_size: int = 1
    batch_gpu: int = 0


def r1_gamma(run: RunConfig) -> float:
    """The run's R1 weight: the param, else StyleGAN2-ADA's heuristic 0.0002 * resolution^2 / batch."""
    if run.train.r1_gamma is not None:
        return run.train.r1_gamma
    return 0.0002 * run.model.size**2 / run.train.batch


def check_run(run: RunConfig, world_size: int = 1) -> None:
    """Training-specific checks, before any work (one line naming the key)."""
    from cips.config import ConfigError

    key = f"runs.{run.name}"
    if run.train.patch is not None:
        if run.model.arch != "cips":
            raise ConfigError(f"{key}.train.patch: patch training needs model.arch cips, got {run.model.arch}")
        if run.model.coords == "cylindrical":
            raise ConfigError(f"{key}.train.patch: not combinable with cylindrical coordinates")
        sigma = run.train.patch_sigma or run.model.size / run.train.patch
        if run.train.patch_sampling == "fixed" and (run.train.patch - 1) * sigma >= run.model.size:
            raise ConfigError(f"{key}.train.patch_sigma: {sigma} makes a {run.train.patch}-point patch wider "
                              f"than model.size {run.model.size}")
    if run.train.batch % world_size:
        raise ConfigError(f"{key}.train.batch: {run.train.batch} is not divisible by the {world_size} processes")
    if run.train.checkpoint_pixels is not None and run.model.arch != "cips":
        raise ConfigError(f"{key}.train.checkpoint_pixels: recomputes the per-pixel MLP of model.arch cips, got "
                          f"{run.model.arch}")
    per_process = run.train.batch // world_size
    if run.train.batch_gpu is not None and per_process % run.train.batch_gpu:
        raise ConfigError(f"{key}.train.batch_gpu: {run.train.batch_gpu} does not divide the {per_process} samples "
                          f"of each of the {world_size} processes (batch {run.train.batch})")


class _StopFlag:
    """SIGTERM/SIGINT set a flag; the loop saves a checkpoint at the end of the step and stops."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Trainer:
    """One run's models, optimizers and loop; `run()` trains to `train.steps`."""

    def __init__(self, run: RunConfig, lmdb: str | Path, out_dir: str | Path, scale: str = "demo", *,
                 track: bool = True, progress: bool = True, root: str | Path | None = None) -> None:
        self.cfg, self.scale, self.root, self.lmdb = run, scale, root, Path(lmdb)
        self.out_dir = Path(out_dir)
        self.checkpoint_path = self.out_dir / CHECKPOINT
        self.device = resolve_device(run.train.device)
        self.world = dist_utils.init_from_env(self.device.type)
        check_run(run, self.world.size)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", self.world.local_rank)
            torch.cuda.set_device(self.device)
            torch.backends.cuda.matmul.allow_tf32 = run.train.tf32
            torch.backends.cudnn.allow_tf32 = run.train.tf32
        self.track, self.progress = track and self.world.is_main, progress
        t = run.train
        self.local_batch = t.batch // self.world.size
        self.batch_gpu = t.batch_gpu or self.local_batch
        self.accum = self.local_batch // self.batch_gpu
        if self.batch_gpu % run.model.discriminator.mbstd_group and self.world.is_main:
            log.warning("%s: batch_gpu %d is not a multiple of mbstd_group %d: D's minibatch-stddev groups are "
                        "smaller than in one pass of the batch", run.name, self.batch_gpu,
                        run.model.discriminator.mbstd_group)
        self.gamma = r1_gamma(run)
        self.reg_every = t.r1_every if self.gamma > 0 else 0
        self.patch = t.patch
        self.sigma = (t.patch_sigma or run.model.size / t.patch) if t.patch else None  # fixed sampling

        torch.manual_seed(t.seed)  # identical initial weights on every rank
        self.G = build_generator(run.model).to(self.device)
        self.D = build_discriminator(run.model, size=t.patch or run.model.size).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if t.checkpoint_pixels:
            self.G.checkpoint_chunk = t.checkpoint_pixels
        g_lr, g_betas = lazy_adam_correction(t.lr, t.betas, t.g_reg_every or 0)
        self.g_opt = torch.optim.Adam(self.G.parameters(), lr=g_lr, betas=g_betas, eps=t.eps)
        d_lr, d_betas = lazy_adam_correction(t.lr, t.betas, self.reg_every)
        self.d_opt = torch.optim.Adam(self.D.parameters(), lr=d_lr, betas=d_betas, eps=t.eps)
        self.G_fwd = self.G
        if t.compile:
            try:
                self.G_fwd = torch.compile(self.G)
            except Exception as err:  # optional speed-up: fall back to eager
                log.warning("torch.compile unavailable (%s); training eagerly", err)
        # The wrappers that all-reduce gradients: G's in the G step, D's in the D and R1 steps. Passes without
        # gradients for a network use it unwrapped (G under no_grad in the D step, D frozen in the G step).
        self.G_train, self.D_train = dist_utils.wrap(self.G_fwd, self.world, self.device), \
            dist_utils.wrap(self.D, self.world, self.device)
        self.step, self.seen_img, self.wall_time = 0, 0, 0.0
        self.curve: list[dict] = []
        self.curve_seconds = 0.0
        self.machines: list[dict] = []
        self.mlflow_run_id: str | None = None
        self.resumed_from: int | None = None
        ckpt = self._maybe_resume()
        # per-pixel noise: every process draws the whole batch's (SharedNoise) from the same global RNG
        torch.manual_seed(t.seed * 7919 + 1 + (0 if ckpt is None else self.step))
        if ckpt is not None:  # the noise RNG continues exactly
            torch.set_rng_state(ckpt["rng"]["torch"])
            if self.device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)
        self.reals = RealImages(lmdb, run.model.size, t.batch, t.seed, t.flip, rank=self.world.rank,
                                world=self.world.size, workers=t.workers, start=self.step, device=self.device)
        self.fixed_z = torch.randn(t.n_samples, run.model.style_dim,
                                   generator=torch.Generator().manual_seed(t.seed + 12345)).to(self.device)
        self.amp = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=t.amp == "bf16")

    # ------------------------------------------------------------------ checkpoints

    def _maybe_resume(self) -> dict | None:
        """Load a compatible checkpoint into the models and optimizers; returns it (None: from scratch)."""
        if not self.checkpoint_path.is_file():
            return None
        try:
            ckpt = torch_load_data(self.checkpoint_path, map_location=self.device)
        except UnsafeCheckpointError:
            raise
        except Exception as err:  # noqa: BLE001 - an unreadable file is not resumable, whatever the reason
            log.warning("%s: unreadable (%s); training from scratch", self.checkpoint_path, err)
            return None
        if ckpt.get("format") != FORMAT or "g" not in ckpt or "signature" not in ckpt:
            log.warning("%s: not a training checkpoint of this project; training from scratch", self.checkpoint_path)
            return None
        changed = resume_mismatch(resume_signature(self.cfg), ckpt["signature"])
        if changed:
            log.info("%s: params changed (%s); training from scratch", self.checkpoint_path, ", ".join(changed[:5]))
            return None
        if ckpt["step"] > self.cfg.train.steps:
            log.info("%s: at step %d, beyond train.steps %d; training from scratch", self.checkpoint_path,
                     ckpt["step"], self.cfg.train.steps)
            return None
        self.G.load_state_dict(ckpt["g"])
        self.G_ema.load_state_dict(ckpt["g_ema"])
        self.D.load_state_dict(ckpt["d"])
        self.g_opt.load_state_dict(ckpt["g_opt"])
        self.d_opt.load_state_dict(ckpt["d_opt"])
        self.step, self.seen_img = ckpt["step"], ckpt["seen_img"]
        self.curve, self.curve_seconds = list(ckpt.get("curve", [])), ckpt.get("curve_seconds", 0.0)
        self.machines = list(ckpt.get("machines", []))
        self.wall_time = ckpt.get("wall_time_s", 0.0)
        # A DVC experiment that continues the baseline's checkpoint (e.g. `-S train.steps=...`) is a new
        # MLflow run; a plain restart after a kill continues the same one.
        if ckpt.get("dvc_exp_name") == os.environ.get("DVC_EXP_NAME"):
            self.mlflow_run_id = ckpt.get("mlflow_run_id")
        self.resumed_from = self.step
        if self.world.is_main:
            log.info("resuming %s at step %d", self.cfg.name, self.step)
        return ckpt

    def save(self) -> None:
        """Write the checkpoint atomically (rank 0 only)."""
        if not self.world.is_main:
            return
        cuda_rng = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        save_atomic({
            "format": FORMAT,
            "model": to_dict(self.cfg.model),
            "g_ema": self.G_ema.state_dict(),
            "g": self.G.state_dict(),
            "d": self.D.state_dict(),
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
            "step": self.step,
            "seen_img": self.seen_img,
            "wall_time_s": self.wall_time,
            "rng": {"torch": torch.get_rng_state(), "cuda": cuda_rng},
            "run": to_dict(self.cfg),
            "signature": resume_signature(self.cfg),
            "curve": self.curve,
            "curve_seconds": self.curve_seconds,
            "machines": self.machines,
            "scale": self.scale,
            "mlflow_run_id": self.mlflow_run_id,
            "dvc_exp_name": os.environ.get("DVC_EXP_NAME"),
        }, self.checkpoint_path)

    # ------------------------------------------------------------------ one step

    def _patches(self, g: torch.Generator) -> tuple[float, torch.Tensor, torch.Tensor]:
        """This step's patch sampling (dilation, corners u, v) of the global batch."""
        m, t = self.cfg.model, self.cfg.train
        if t.patch_sampling == "multiscale":
            return coords.multiscale_patch_offsets(t.batch, m.size, self.patch, generator=g)
        u, v = coords.random_patch_offsets(t.batch, m.size, self.patch, self.sigma, generator=g)
        return self.sigma, u, v

    def _coords(self, g: torch.Generator, patches: tuple | None = None) -> torch.Tensor | None:
        """Coordinates the generator renders this step (None: the full training grid), this rank's share."""
        m, b, w = self.cfg.model, self.cfg.train.batch, self.world
        if patches is not None:
            sigma, u, v = patches
            return coords.patch_grid(m.size, self.patch, sigma, u[w.rank:: w.size],
                                     v[w.rank:: w.size]).to(self.device)
        if m.coords == "cylindrical":
            x0 = coords.random_cylinder_offsets(b, m.panorama_width, generator=g)
            return coords.cylinder_grid(m.size, m.panorama_width, x0[w.rank:: w.size], m.size).to(self.device)
        return None

    def _latents(self, g: torch.Generator) -> torch.Tensor:
        z = torch.randn(self.cfg.train.batch, self.cfg.model.style_dim, generator=g)
        return z[self.world.rank:: self.world.size].to(self.device)

    def _part(self, x: torch.Tensor | None, m: int) -> torch.Tensor | None:
        """Pass m's samples of this process's share (all of them in one pass)."""
        return x if x is None or self.accum == 1 else x[m:: self.accum]

    def _noise(self) -> SharedNoise | None:
        """The per-pixel noise of one phase's global batch when it is split (None: one pass draws its own)."""
        return SharedNoise(self.cfg.train.batch) if self.world.size * self.accum > 1 else None

    def _sync(self, net: torch.nn.Module, m: int):
        """All-reduce gradients after the last pass only."""
        return net.no_sync() if m < self.accum - 1 and hasattr(net, "no_sync") else contextlib.nullcontext()

    def _generate(self, net, z: torch.Tensor, xy: torch.Tensor | None, noise: SharedNoise | None,
                  m: int) -> torch.Tensor:
        kwargs = {} if xy is None else {"coords": xy}
        if noise is not None:
            w = self.world
            rows = torch.arange(self.cfg.train.batch)[w.rank:: w.size][m:: self.accum]
            kwargs["noise_generator"] = noise.part(rows)
        return net(z, **kwargs)

    def _mean(self, parts: list[torch.Tensor]) -> float:
        """A logged value: the mean over passes and processes."""
        total = parts[0] if len(parts) == 1 else torch.stack(parts).mean()
        return float(dist_utils.mean_scalar(total, self.world))

    def _real_view(self, reals: torch.Tensor, patches: tuple | None) -> torch.Tensor:
        if patches is None:
            return reals
        sigma, u, v = patches
        w = self.world
        return coords.extract_patches(reals, u[w.rank:: w.size].to(self.device), v[w.rank:: w.size].to(self.device),
                                      self.patch, sigma)

    def train_step(self) -> dict[str, float]:
        """One D step (with R1 when due), one G step, one EMA update; returns the losses (mean over ranks)."""
        seed, step, a = self.cfg.train.seed, self.step, self.accum
        g_d, g_g = step_generator(seed, step, 2), step_generator(seed, step, 3)
        reals = next(self.reals)
        out: dict[str, float] = {}
        scale = (lambda loss: loss) if a == 1 else (lambda loss: loss / a)

        # discriminator
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        patches = self._patches(g_d) if self.patch else None
        z, xy, noise = self._latents(g_d), self._coords(g_d, patches), self._noise()
        reals = self._real_view(reals, patches).detach()
        do_r1 = self.reg_every > 0 and step % self.reg_every == 0
        fused_r1 = do_r1 and self.cfg.train.r1_step == "fused"
        logs: dict[str, list[torch.Tensor]] = {"r1": [], "loss_d": [], "d_real": [], "d_fake": []}
        self.d_opt.zero_grad(set_to_none=True)
        for m in range(a):
            with self._sync(self.D_train, m):
                with torch.no_grad(), self.amp:
                    fakes = self._generate(self.G_fwd, self._part(z, m), self._part(xy, m), noise, m)
                real = self._part(reals, m).requires_grad_(fused_r1)
                with self.amp:
                    real_logits = self.D_train(real)
                    fake_logits = self.D_train(fakes.float())
                    loss_d = d_logistic(real_logits.float(), fake_logits.float())
                loss_d_total = loss_d
                if fused_r1:
                    r1 = r1_penalty(real_logits.float(), real)
                    loss_d_total = loss_d + (self.gamma / 2) * r1 * self.reg_every
                    logs["r1"].append(r1.detach())
                logs["loss_d"].append(loss_d.detach())
                logs["d_real"].append(real_logits.detach().float().mean())
                logs["d_fake"].append(fake_logits.detach().float().mean())
                scale(loss_d_total).backward()
        out.update({k: self._mean(v) for k, v in logs.items() if v})
        self._check_finite(out)
        self.d_opt.step()
        if do_r1 and not fused_r1:  # the official code's separate R1 step
            parts = []
            self.d_opt.zero_grad(set_to_none=True)
            for m in range(a):
                with self._sync(self.D_train, m):
                    real = self._part(reals, m).detach().requires_grad_(True)
                    with self.amp:
                        real_logits = self.D_train(real)
                    r1 = r1_penalty(real_logits.float(), real)
                    parts.append(r1.detach())
                    # + 0 * logits, as the official code: every D parameter takes part in the Adam step (zero grad)
                    scale((self.gamma / 2) * r1 * self.reg_every + 0 * real_logits.float().sum()).backward()
            out["r1"] = self._mean(parts)
            self._check_finite(out)
            self.d_opt.step()

        # generator (on the D step's patch coordinates, as the official code)
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        z, xy, noise = self._latents(g_g), self._coords(g_g, patches), self._noise()
        parts = []
        self.g_opt.zero_grad(set_to_none=True)
        for m in range(a):
            with self._sync(self.G_train, m):
                with self.amp:
                    fakes = self._generate(self.G_train, self._part(z, m), self._part(xy, m), noise, m)
                    loss_g = g_nonsaturating(self.D(fakes.float()).float())
                parts.append(loss_g.detach())
                scale(loss_g).backward()
        out["loss_g"] = self._mean(parts)
        self._check_finite(out)
        self.g_opt.step()

        # EMA
        t = self.cfg.train
        self.seen_img += t.batch
        beta = ema_beta(t.batch, t.ema_halflife_kimg, self.seen_img, t.ema_rampup, t.ema_halflife_steps)
        update_ema(self.G_ema, self.G, beta)
        out["ema_beta"] = beta
        self.step += 1
        return out

    def _check_finite(self, values: dict[str, float]) -> None:
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(f"run {self.cfg.name}: {', '.join(bad)} not finite at step {self.step}; "
                                   f"kept the last good checkpoint {self.checkpoint_path} (lower train.lr or "
                                   f"raise train.r1_gamma)")

    # ------------------------------------------------------------------ samples and the whole loop

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """EMA samples of the fixed latents (noise off), (N, 3, H, W) in [-1, 1]."""
        imgs = []
        for z in self.fixed_z.split(16):
            imgs.append(self.G_ema(z, noise_mode="zero").float().clamp(-1, 1).cpu())
        return torch.cat(imgs)

    def _curve_due(self) -> bool:
        t = self.cfg.train
        if t.eval_every is None or not self.world.is_main:
            return False
        every = t.eval_every * 1000
        crossed = self.seen_img // every > (self.seen_img - t.batch) // every
        return crossed or (self.step == t.steps and (not self.curve or self.curve[-1]["step"] != self.step))

    def _measure_curve(self, tracker) -> float:
        """One point of the learning curve (FID/KID of G_ema at small N); returns the seconds it took."""
        from cips.data.dataset import resolve_lmdb
        from cips.training.curve import LearningCurve

        start = time.perf_counter()
        if getattr(self, "_curve_meter", None) is None:
            # Building the meter draws from the global RNG (Inception's init), which also feeds the training
            # noise. A straight run pays that draw once, at its first point; a run resumed after that point
            # must not pay it again, or its noise leaves the straight run's stream.
            with torch.random.fork_rng(devices=[], enabled=bool(self.curve)):
                self._curve_meter = LearningCurve(resolve_lmdb(self.lmdb, self.cfg.model.size),
                                                  self.cfg.train.eval_n, device=self.device)
        point = {"step": self.step, "kimg": self.seen_img / 1000, **self._curve_meter.measure(self.G_ema)}
        self.curve.append(point)
        if tracker:
            tracker.log_metrics({"curve_fid": point["fid"], "curve_kid": point["kid"]}, self.step)
        log.info("%s: step %d, %.1f kimg: FID %.2f, KID %.4f (N=%d)", self.cfg.name, self.step, point["kimg"],
                 point["fid"], point["kid"], self.cfg.train.eval_n)
        spent = time.perf_counter() - start
        self.curve_seconds += spent
        return spent

    def run(self) -> TrainResult:
        t = self.cfg.train
        if self.step < t.steps:  # this stretch of training, and where it ran
            self.machines.append({"from_step": self.step, **machine(self.device), "world_size": self.world.size})
        tracker = None
        if self.track:
            from cips.tracking import TrainingRun

            tracker = TrainingRun(self.cfg, self.scale, self.mlflow_run_id, self.root)
            self.mlflow_run_id = tracker.run_id
        bar = tqdm(total=t.steps, initial=self.step, desc=f"train {self.cfg.name}", unit="step",
                   disable=not (self.progress and self.world.is_main), dynamic_ncols=True)
        last: dict[str, float] = {}
        status = "FAILED"
        t0 = time.perf_counter()
        window_t, window_step = t0, self.step
        try:
            with _StopFlag() as stop:
                while self.step < t.steps:
                    last.update(self.train_step())
                    bar.update(1)
                    now = time.perf_counter()
                    if self.step % t.log_every == 0 or self.step == t.steps:
                        rate = (self.step - window_step) * t.batch / max(now - window_t, 1e-9)
                        window_t, window_step = now, self.step
                        last["img_per_s"] = rate
                        bar.set_postfix(loss_d=f"{last['loss_d']:.3f}", loss_g=f"{last['loss_g']:.3f}",
                                        img_s=f"{rate:.0f}")
                        if tracker:
                            lrs = {"lr_g": self.g_opt.param_groups[0]["lr"], "lr_d": self.d_opt.param_groups[0]["lr"]}
                            tracker.log_metrics({**last, **lrs, "kimg": self.seen_img / 1000}, self.step)
                    if self._curve_due():
                        spent = self._measure_curve(tracker)
                        window_t += spent  # the logged rate counts training only
                    if tracker and (self.step % t.sample_every == 0 or self.step == t.steps):
                        tracker.log_image(grid_image(self.samples()), f"samples/step_{self.step:07d}.png")
                    if stop.signal is not None:
                        self.wall_time += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        self.save()
                        status = "KILLED"
                        raise TrainingInterrupted(f"run {self.cfg.name}: stopped by signal {stop.signal} at step "
                                                  f"{self.step}; checkpoint saved, run the stage again to resume")
                    if self.step % t.checkpoint_every == 0 or self.step == t.steps:
                        self.wall_time += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        self.save()
            status = "FINISHED"
        finally:
            bar.close()
            if tracker:
                tracker.finish(status)
        result = TrainResult(
            step=self.step, steps=t.steps,
            img_per_s=self.seen_img / (self.wall_time - self.curve_seconds) if self.wall_time > self.curve_seconds
            else 0.0,
            wall_time_s=self.wall_time,
            params_g=sum(p.numel() for p in self.G.parameters()),
            params_d=sum(p.numel() for p in self.D.parameters()),
            resumed_from=self.resumed_from, mlflow_run_id=self.mlflow_run_id,
            max_rank_divergence=max(dist_utils.max_divergence(self.G, self.world),
                                    dist_utils.max_divergence(self.D, self.world)),
            last=last, rank=self.world.rank, curve=self.curve, curve_seconds=self.curve_seconds,
            world_size=self.world.size, batch_gpu=self.batch_gpu, machines=self.machines,
        )
        return result


def train(run: RunConfig, lmdb: str | Path, out_dir: str | Path, scale: str = "demo", **kwargs) -> TrainResult:
    """Train run `run` from `lmdb` into `out_dir/checkpoint.pt`, resuming a compatible checkpoint."""
    trainer = Trainer(run, lmdb, out_dir, scale, **kwargs)
    try:
        return trainer.run()
    finally:
        dist_utils.shutdown(trainer.world)
