"""`cips lanes`: several models side by side, on CPU threads or on groups of GPUs (a fake device list)."""

import threading

import pytest
from test_training import make_project

from cips.training import lanes
from cips.training.runner import launch_command


def _project(root):
    seeds = [0, 1, 2, 3, 4, 5]
    return make_project(root, {"toy-cips": {"dataset": "toy", "seeds": seeds}}, steps=2)


def test_devices_parse_and_split_into_groups_per_run():
    assert lanes.parse_devices("0-3,6") == ["0", "1", "2", "3", "6"]
    assert lanes.device_groups(lanes.parse_devices("0-7"), 2) == [["0", "1"], ["2", "3"], ["4", "5"], ["6", "7"]]
    for bad in ("0-", "a", "3-1", "0,0"):
        with pytest.raises(ValueError, match="--devices"):
            lanes.parse_devices(bad)
    with pytest.raises(ValueError, match="--per-run 3: the 8 devices"):
        lanes.device_groups(lanes.parse_devices("0-7"), 3)


class FakeStage:
    """A stage process: `calls` records (model, stage, GPUs, cmd); it runs until done or sent SIGTERM."""

    calls: list = []
    busy: dict = {}
    lock = threading.Lock()
    on_start = None

    def __init__(self, cmd, stdout=None, stderr=None, env=None):
        self.cmd, self.gpus, self.signalled = cmd, env.get("CUDA_VISIBLE_DEVICES"), threading.Event()
        self.model, self.stage = cmd[3], cmd[2].split(".")[1]
        with self.lock:
            self.calls.append((self.model, self.stage, self.gpus, cmd))
            if self.gpus is not None:
                assert all(g != self.gpus or m == self.model for m, g in self.busy.items()), "two models, one lane"
                self.busy[self.model] = self.gpus
        if FakeStage.on_start:
            FakeStage.on_start(self)

    def send_signal(self, signum):
        self.signalled.set()

    def wait(self):
        stopped = self.signalled.wait(0.05)
        with self.lock:
            self.busy.pop(self.model, None)
        return 143 if stopped else 0


@pytest.fixture
def fake_stages(monkeypatch):
    FakeStage.calls, FakeStage.busy, FakeStage.on_start = [], {}, None
    committed = []
    monkeypatch.setattr(lanes.subprocess, "Popen", FakeStage)

    def run(cmd, **kw):
        committed.append(cmd)
        return lanes.subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(lanes.subprocess, "run", run)
    return committed


def test_each_lane_holds_its_own_gpus_and_trains_with_that_many_processes(tmp_path, fake_stages):
    path = _project(tmp_path)
    codes = lanes.run_lanes(params_path=path, root=tmp_path, logs=tmp_path / "logs",
                            devices=lanes.parse_devices("0-7"), per_run=2)
    assert sorted(codes) == [f"toy-cips-s{i}" for i in range(6)] and set(codes.values()) == {0}
    calls = FakeStage.calls
    groups = {gpus for _, _, gpus, _ in calls}
    assert groups <= {"0,1", "2,3", "4,5", "6,7"} and len(groups) >= 2
    for model, stage, gpus, cmd in calls:
        assert [g for m, s, g, _ in calls if m == model] == [gpus] * 3  # one lane runs all of a model's stages
        assert (cmd[-2:] == ["--nproc", "2"]) == (stage == "train")
    commits = [cmd[5:] for cmd in fake_stages if cmd[:5] == [*lanes.DVC, "commit", "--force"]]
    assert sorted(commits) == [[f"{s}@toy-cips-s{i}" for s in lanes.STAGES] for i in range(6)]


def test_each_model_is_committed_as_soon_as_it_finishes_and_its_parked_checkpoint_released(tmp_path, fake_stages):
    path = _project(tmp_path)
    parked = lanes.parked(tmp_path, "test", "toy-cips-s0")
    parked.parent.mkdir(parents=True)
    parked.write_bytes(b"state at step 1")
    lanes.dvc_file(parked).write_text("outs: []\n")
    seen = {}
    FakeStage.on_start = lambda stage: seen.setdefault(stage.model, list(fake_stages))
    codes = lanes.run_lanes(jobs=1, params_path=path, root=tmp_path, logs=tmp_path / "logs")
    assert set(codes.values()) == {0}
    assert seen["toy-cips-s0"] == []  # nothing recorded before the first model ran
    assert seen["toy-cips-s1"] == [[*lanes.DVC, "commit", "--force", *(f"{s}@toy-cips-s0" for s in lanes.STAGES)],
                                   [*lanes.DVC, "remove", "--quiet", str(lanes.dvc_file(parked))]]
    assert not parked.exists()  # released with its model; the next model starts after both
    assert len(seen["toy-cips-s5"]) == 5 + 1  # one commit per finished model, before the next starts


def test_a_stop_lets_no_model_start_stops_the_running_ones_and_parks(tmp_path, fake_stages, monkeypatch):
    import os
    import signal

    parked = []
    monkeypatch.setattr(lanes, "park", lambda params, root: parked.append(params) or ([], []))
    path = _project(tmp_path)

    def kill_at_second_training(stage):
        if stage.stage == "train" and stage.model == "toy-cips-s1":
            os.kill(os.getpid(), signal.SIGTERM)  # what `kill` or the end of a session sends to `cips lanes`

    FakeStage.on_start = kill_at_second_training
    before = signal.getsignal(signal.SIGTERM)
    codes = lanes.run_lanes(jobs=2, params_path=path, root=tmp_path, logs=tmp_path / "logs")
    started = {m for m, _, _, _ in FakeStage.calls}
    assert codes["toy-cips-s1"] == lanes.STOPPED and started <= {"toy-cips-s0", "toy-cips-s1", "toy-cips-s2"}
    assert all(codes[f"toy-cips-s{i}"] == lanes.STOPPED for i in range(3, 6))  # never started
    assert parked == [path]  # the unfinished ones' checkpoints are staged for the next commit
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored


def test_cpu_processes_share_the_cores_and_start_through_torchs_launcher(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cmd, env = launch_command("toy-cips", 2, "params.yaml", ".", False, "cpu", cores=4)
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc-per-node=2" in cmd
    assert cmd[cmd.index("-m", 2):][:3] == ["-m", "stages.train", "toy-cips"] and cmd[-1] == "--no-track"
    assert env["OMP_NUM_THREADS"] == "2"
    _, env = launch_command("toy-cips", 2, "params.yaml", ".", True, "cuda", cores=4)
    assert "OMP_NUM_THREADS" not in env


@pytest.mark.parametrize("remote", [False, True], ids=["git-without-a-remote", "dvc-with-a-remote"])
def test_park_commits_the_checkpoints_of_unfinished_runs_where_another_machine_finds_them(tmp_path, remote):
    import shutil
    import subprocess

    from cips.training.runner import train_from_params

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    subprocess.run([*lanes.DVC, "init", "-q"], cwd=tmp_path, check=True)
    if remote:
        subprocess.run([*lanes.DVC, "remote", "add", "-d", "store", str(tmp_path / "remote")], cwd=tmp_path,
                       check=True)
    (tmp_path / ".gitignore").write_text("checkpoint.pt\nremote/\n")
    path = make_project(tmp_path, {"toy-cips": {"dataset": "toy", "seeds": [0, 1]}}, steps=1)
    train_from_params("toy-cips-s0", path, tmp_path, track=False, progress=False)
    path = make_project(tmp_path, {"toy-cips": {"dataset": "toy", "seeds": [0, 1]}}, steps=2)  # longer: unfinished
    assert lanes.park_store(tmp_path) == ("dvc" if remote else "git")
    if not remote:  # parked with DVC by older code: git takes it over
        lanes.park(path, tmp_path, store="dvc")
        assert "parked/test/toy-cips-s0.pt.dvc" in git("diff", "--cached", "--name-only")
    kept, released = lanes.park(path, tmp_path)
    assert kept == [tmp_path / "parked" / "test" / "toy-cips-s0.pt"] and released == []  # s1 has no checkpoint
    staged = git("diff", "--cached", "--name-only")
    if remote:  # git holds its hash, the remote the megabytes
        assert "parked/test/toy-cips-s0.pt.dvc" in staged and "toy-cips-s0.pt\n" not in staged
    else:  # no remote: DVC's cache would stay on this machine, so git holds the file itself
        assert "parked/test/toy-cips-s0.pt\n" in staged and ".pt.dvc" not in staged
    assert "checkpoint.pt" not in staged
    checkpoint = tmp_path / "runs" / "test" / "toy-cips-s0" / "checkpoint.pt"
    saved = checkpoint.read_bytes()
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "parked")
    other = tmp_path / "other"  # another machine: a fresh clone, with no checkpoint.pt and no DVC cache
    subprocess.run(["git", "clone", "-q", str(tmp_path), str(other)], check=True)
    shutil.copytree(tmp_path / "data", other / "data", dirs_exist_ok=True)  # (prepared data, not what is tested)
    if remote:
        subprocess.run([*lanes.DVC, "pull", "-q"], cwd=other, check=True)
    moved = other / "runs" / "test" / "toy-cips-s0" / "checkpoint.pt"
    assert not moved.exists()
    assert lanes.unpark("toy-cips-s1", "test", other) is None  # never parked
    assert lanes.unpark("toy-cips-s0", "test", other) == moved and moved.read_bytes() == saved
    resumed = train_from_params("toy-cips-s0", other / path.name, other, track=False, progress=False)
    assert resumed.resumed_from == 1  # from the parked step, not from 0
    kept, released = lanes.park(other / path.name, other)
    assert kept == [] and released == [other / "parked" / "test" / "toy-cips-s0.pt"]
    assert not released[0].exists() and not lanes.dvc_file(released[0]).exists() and moved.is_file()
    status = subprocess.run(["git", "status", "--short"], cwd=other, capture_output=True, text=True).stdout
    gone = [line.split()[1] for line in status.splitlines() if line.split()[0] == "D"]
    assert any(name.startswith("parked/test/toy-cips-s0.pt") for name in gone)  # for the next commit to drop


def test_a_parked_checkpoint_is_in_place_before_its_model_trains(tmp_path, fake_stages):
    path = _project(tmp_path)
    parked = lanes.parked(tmp_path, "test", "toy-cips-s3")
    parked.parent.mkdir(parents=True)
    parked.write_bytes(b"state at step 1")
    lanes.dvc_file(parked).write_text("outs: []\n")  # what `dvc add` leaves for git
    seen = {}
    checkpoint = tmp_path / "runs" / "test" / "toy-cips-s3" / "checkpoint.pt"
    FakeStage.on_start = lambda stage: seen.setdefault(stage.model, checkpoint.is_file())
    lanes.run_lanes(jobs=1, params_path=path, root=tmp_path, logs=tmp_path / "logs")
    assert seen["toy-cips-s3"] and checkpoint.read_bytes() == b"state at step 1"
    assert not seen["toy-cips-s2"]
