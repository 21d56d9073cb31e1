"""``gpucloud server --workers N``: the API in N processes, the control loop in exactly one more.

One Python process serves at most one core (the GIL), and the API and the loop then share it. With
``--workers N`` (N > 1) the ``gpucloud server`` process becomes a small **supervisor**:

1. it migrates the database, creates the first operator (its token is printed once, here, as before) and
   stores the tariff file's new versions (``--tariff``);
2. it binds the listening socket, and a pair of local datagram sockets for wake-ups;
3. it starts one **loop process** (the :class:`~gpucloud.service.control.loop.ControlLoop` and the executor)
   and N **API processes** (uvicorn on the shared listening socket; the kernel hands each new connection to one
   of them). Each API process has its own group-commit writer; SQLite in WAL mode with a busy timeout takes the
   few concurrent writers in turn;
4. an API process that commits a change (a submission batch, a cancel...) sends one datagram to the loop
   process, which wakes the loop at once, as the in-process hook does with ``--workers 1``. The loop still
   reads ``scheduler_state.version`` every tick, so a lost datagram only delays it by one tick;
5. a cluster reload through one API process is relayed by the supervisor (``SIGHUP``) to every other process.

Every child asks the kernel to kill it when the supervisor dies (``PR_SET_PDEATHSIG``; elsewhere a thread
watches the parent pid), so ``kill -9`` of the supervisor leaves no process serving requests, and the next
start recovers exactly as after ``kill -9`` of a single-process server: jobs run in sessions of their own and
are re-attached, and an acknowledged submission was committed before its answer was sent. The loop process
holds an exclusive lock on ``DATA_DIR/loop.lock`` while it runs, so a new loop never acts on the database
while a dying old one still might. When any child exits, the supervisor stops the others and exits with an
error; ``SIGTERM`` / ``SIGINT`` stop all of them cleanly.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpucloud.service.settings import Settings

log = logging.getLogger("gpucloud.server")

#: The environment variable that hands a child its configuration.
CHILD_ENV = "GPUCLOUD_SERVER_CHILD"
PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 20.0


def default_workers() -> int:
    """API processes when ``--workers`` is not given: a single process on up to 2 cores (measured: as fast, and
    cheaper per job, than 2 or 3 API processes plus a loop process there), else half the cores, at most 8."""
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(cores // 2, 8)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise(settings: Settings, *, workers: int, interval_s: float, say: Callable[[str], Any],
              log_level: str, verbose: bool) -> int:
    """Run the supervisor until SIGTERM/SIGINT or until a child exits; the exit status."""
    from gpucloud.model.cluster_file import load_cluster
    from gpucloud.service.auth import ensure_operator
    from gpucloud.service.budgets import load_tariff_file
    from gpucloud.service.datadir import protect
    from gpucloud.service.server import _redact, banner, loop_config
    from gpucloud.service.store.engine import make_engine, make_sessionmaker
    from gpucloud.service.store.migrate import upgrade_engine

    cluster = load_cluster(settings.cluster_file)  # an invalid cluster file fails here, with the field named
    run_as = loop_config(settings, interval_s).run_as  # a bad run-as setting too
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade_engine(engine)
    protect(settings.data_dir, settings.database_url, run_as.mapping)
    with make_sessionmaker(engine).begin() as session:
        token = ensure_operator(session, time.time())
        tariffs = load_tariff_file(session, settings.tariff_file, cluster, time.time()) if settings.tariff_file else []
    engine.dispose()

    listener = _listen(settings.host, settings.port)
    port = int(listener.getsockname()[1])
    settings = settings.model_copy(update={"port": port})
    wake_recv, wake_send = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for s in (wake_recv, wake_send):
        s.set_inheritable(True)
    metrics_dir = settings.data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)

    common = {"settings": settings.model_dump(mode="json"), "parent": os.getpid(), "interval_s": interval_s,
              "log_level": log_level, "verbose": verbose}
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}

    def start(role: str, fds: dict[str, int]) -> subprocess.Popen[bytes]:
        cfg = {**common, "role": role, "fds": fds}
        return subprocess.Popen([sys.executable, "-m", "gpucloud.service.workers"],
                                env={**env, CHILD_ENV: json.dumps(cfg)}, pass_fds=tuple(fds.values()))

    children: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()
    status = 0

    def on_stop(_sig: int, _frame: Any) -> None:
        stopping.set()

    def on_reload(_sig: int, _frame: Any) -> None:  # an API process reloaded the cluster: everybody follows
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGHUP)

    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    # children inherit "ignored" across exec, so a reload relayed before a child set its handler cannot kill it
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        children.append(start("loop", {"wake": wake_recv.fileno()}))
        for _ in range(workers):
            children.append(start("api", {"listen": listener.fileno(), "wake": wake_send.fileno()}))
        signal.signal(signal.SIGHUP, on_reload)
        listener.close()
        wake_recv.close()
        wake_send.close()
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        url = f"http://{shown}:{port}"
        for line in banner(url, settings, _redact(settings.database_url), token):
            say(line)
        if settings.tariff_file:
            say(f"  tariffs: {settings.tariff_file}: {len(tariffs)} new version(s) stored")
        say(f"  processes: {workers} API workers (pids {', '.join(str(c.pid) for c in children[1:])}), "
            f"control loop pid {children[0].pid}")
        while not stopping.is_set():
            for child in children:
                if child.poll() is not None:
                    role = "the control loop" if child is children[0] else "an API worker"
                    say(f"gpucloud server: {role} (pid {child.pid}) exited with status {child.returncode}; "
                        "stopping the others")
                    status = 1
                    stopping.set()
                    break
            stopping.wait(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("gpucloud server stopped (running jobs keep running and are re-attached at the next start)")
    return status


# -- the children -------------------------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Be killed when the supervisor dies, even by ``kill -9``."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the prctl
        os._exit(1)

    def watch() -> None:  # where there is no prctl (and as a second guard)
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="gpucloud-parent-watch", daemon=True).start()


def _child_main() -> None:
    cfg = json.loads(os.environ.pop(CHILD_ENV))
    _die_with_parent(int(cfg["parent"]))
    logging.basicConfig(level=logging.INFO if cfg["verbose"] else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = Settings(**cfg["settings"])
    if cfg["role"] == "loop":
        _loop_main(settings, cfg)
    else:
        _api_main(settings, cfg)


def _loop_main(settings: Settings, cfg: dict[str, Any]) -> None:
    from gpucloud.model.cluster_file import load_cluster
    from gpucloud.service.control.loop import ControlLoop
    from gpucloud.service.metrics import Metrics
    from gpucloud.service.server import executor_for, loop_config
    from gpucloud.service.store.engine import make_engine, make_sessionmaker

    lock = _exclusive(settings.data_dir / "loop.lock")
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    cluster = [load_cluster(settings.cluster_file)]
    metrics = Metrics(sessions, lambda: cluster[0])
    loop = ControlLoop(sessions, lambda: cluster[0], executor_for(settings), engine=engine,
                       config=loop_config(settings, float(cfg["interval_s"])), on_cycle=metrics.observe_tick)
    stop = threading.Event()
    wake = socket.socket(fileno=int(cfg["fds"]["wake"]))

    def listen() -> None:
        while True:
            try:
                wake.recv(64)
            except OSError:
                return
            loop.wake()

    def reload() -> None:
        try:
            cluster[0] = load_cluster(settings.cluster_file)
        except Exception:
            log.exception("cannot reload the cluster file; keeping the old cluster")
        loop.versions.dirty = True
        loop.wake()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload, daemon=True).start())
    threading.Thread(target=listen, name="gpucloud-wake", daemon=True).start()
    loop.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        loop.stop()
        engine.dispose()
        lock.close()


def _exclusive(path: Path) -> Any:
    """An exclusive lock on ``path`` for this process's lifetime (released by the kernel when it dies)."""
    f = path.open("a")
    waited = False
    while True:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if not waited:
                log.warning("waiting for the previous control loop (lock %s) to stop", path)
                waited = True
            time.sleep(0.05)


def _api_main(settings: Settings, cfg: dict[str, Any]) -> None:
    import uvicorn

    from gpucloud.service.api import create_app
    from gpucloud.service.api.context import AppContext
    from gpucloud.service.metrics import Metrics
    from gpucloud.service.server import _Uvicorn

    wake = socket.socket(fileno=int(cfg["fds"]["wake"]))
    wake.setblocking(False)

    def notify() -> None:
        with contextlib.suppress(OSError):  # a full buffer: the loop has wake-ups pending anyway
            wake.send(b"!")

    app = create_app(settings, on_change=notify)
    ctx: AppContext = app.state.gpucloud
    parent = int(cfg["parent"])
    ctx.on_reload = lambda: os.kill(parent, signal.SIGHUP)
    Metrics(ctx.sessions, lambda: ctx.cluster).install(app)

    def follow_reload() -> None:
        try:
            ctx.reload_cluster(announce=False)
        except Exception:
            log.exception("cannot reload the cluster file; keeping the old cluster")

    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=follow_reload, daemon=True).start())
    listener = socket.socket(fileno=int(cfg["fds"]["listen"]))
    ctx.forecasts.warm()  # this process's first start-time forecast, off the request path
    config = uvicorn.Config(app, log_level=cfg["log_level"], access_log=False, lifespan="off")
    try:
        _Uvicorn(config).run(sockets=[listener])
    finally:
        ctx.engine.dispose()


if __name__ == "__main__":
    _child_main()
