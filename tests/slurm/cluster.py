"""A throw-away single-node SLURM cluster on the local machine, to run `dora grid` on a real scheduler.

`install()` installs Debian's SLURM and MUNGE packages (`slurm-wlm`, `slurmdbd`, `munge`) and MariaDB (the
accounting database behind `sacct`, which submitit and dora read job states from) with apt-get, unless they
are already there; the packages' own services are not started (a temporary `policy-rc.d` says no).

`LocalSlurm` then starts, in a fresh folder and on private sockets and free ports, so that it touches
neither `/etc` nor any SLURM or MUNGE already running on the machine:

- `munged` with a new key;
- `mariadbd` on a new data directory, and `slurmdbd` on top of it;
- `slurmctld` and `slurmd` with a `slurm.conf` for this host only: one node `NodeAddr=127.0.0.1` with the
  machine's CPUs and memory and no GPU, no cgroups (`proctrack/linuxproc`, `task/none`), one partition,
  `PARTITION`, the default.

Clients (sbatch, squeue, sacct, hence submitit and dora) find it through `SLURM_CONF`: run them with
`cluster.env`. `stop()` cancels the jobs left, ends the daemons it started (and anything they spawned) by
process id, and removes the folder.

Requirements: Linux, root, apt-get and a Debian mirror (or the packages already installed). Where one is
missing, `install` and `LocalSlurm.start` raise `Unavailable` with the reason.

Command line, to try a grid by hand::

    python -m tests.slurm.cluster -- dora grid bandsplit.debug
"""

import argparse
import os
from pathlib import Path
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import typing as tp

PARTITION = 'debug'
PACKAGES = ['slurm-wlm', 'slurmdbd', 'munge', 'mariadb-server']
BINARIES = ['munged', 'mariadb-install-db', 'mariadbd', 'slurmdbd', 'slurmctld', 'slurmd', 'sbatch', 'squeue',
            'sacct', 'sinfo', 'scancel']
POLICY_RC = Path('/usr/sbin/policy-rc.d')


class Unavailable(RuntimeError):
    """This machine cannot run a local SLURM cluster (the reason is the message)."""


def missing_binaries() -> tp.List[str]:
    return [name for name in BINARIES if shutil.which(name) is None
            and not Path('/usr/sbin', name).exists() and not Path('/usr/bin', name).exists()]


def check_machine() -> None:
    if not sys.platform.startswith('linux'):
        raise Unavailable(f"needs Linux, this is {sys.platform}")
    if os.geteuid() != 0:
        raise Unavailable("needs root, to install packages and run the SLURM daemons")


def install(timeout: float = 600) -> None:
    """Install the packages with apt-get unless every binary is already there."""
    check_machine()
    if not missing_binaries():
        return
    if shutil.which('apt-get') is None:
        raise Unavailable(f"{', '.join(missing_binaries())} missing and no apt-get to install them")
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    wrote_policy = not POLICY_RC.exists()
    if wrote_policy:  # keep the packages' own services (munge, mariadb, slurmd, slurmctld) from starting
        POLICY_RC.write_text('#!/bin/sh\nexit 101\n')
        POLICY_RC.chmod(0o755)
    try:
        for command in [['apt-get', 'update', '-qq'],
                        ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', *PACKAGES]]:
            try:
                out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise Unavailable(f"`{' '.join(command)}` did not finish in {timeout:.0f} s") from None
            if out.returncode != 0:
                raise Unavailable(f"`{' '.join(command)}` failed (no network or no Debian mirror?): "
                                  f"{(out.stderr or out.stdout)[-1500:]}")
    finally:
        if wrote_policy:
            POLICY_RC.unlink(missing_ok=True)
    if missing_binaries():
        raise Unavailable(f"installed {', '.join(PACKAGES)} but {', '.join(missing_binaries())} still missing")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(('127.0.0.1', port)) == 0


def memory_mb() -> int:
    for line in Path('/proc/meminfo').read_text().splitlines():
        if line.startswith('MemTotal:'):
            return int(line.split()[1]) // 1024
    raise Unavailable("cannot read MemTotal from /proc/meminfo")


def descendants(pid: int) -> tp.List[int]:
    """Every live descendant of process `pid` (from /proc), deepest first."""
    children: tp.Dict[int, tp.List[int]] = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: tp.List[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found[::-1]


class LocalSlurm:
    """A single-node SLURM cluster with accounting, in a temporary folder (see the module docstring).

    Args:
        cpus (int, optional): CPUs of the node (default: this machine's).
        keep (bool): Keep the folder (logs, configs) after `stop`.
    """

    def __init__(self, cpus: tp.Optional[int] = None, keep: bool = False):
        self.cpus = int(cpus or os.cpu_count() or 1)
        self.keep = keep
        self.root: tp.Optional[Path] = None
        self.procs: tp.List[tp.Tuple[str, subprocess.Popen]] = []
        self.node = socket.gethostname().split('.')[0]

    # ---- paths and environment ---------------------------------------------------------------------------

    def path(self, *parts: str) -> Path:
        assert self.root is not None, "the cluster is not started"
        return self.root.joinpath(*parts)

    @property
    def env(self) -> tp.Dict[str, str]:
        """Environment variables pointing SLURM's clients at this cluster."""
        return {'SLURM_CONF': str(self.path('etc', 'slurm.conf'))}

    def run(self, *command: str, check: bool = True, timeout: float = 30) -> str:
        """A SLURM client command against this cluster; its stdout."""
        out = subprocess.run(command, env={**os.environ, **self.env}, capture_output=True, text=True,
                             timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` failed: {out.stderr.strip()}")
        return out.stdout

    # ---- start -------------------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> 'LocalSlurm':
        check_machine()
        if missing_binaries():
            raise Unavailable(f"{', '.join(missing_binaries())} not installed (call install() first)")
        self.root = Path(tempfile.mkdtemp(prefix='bandsplit-slurm-'))
        self.root.chmod(0o755)  # munged wants every folder above its socket searchable by all
        for sub in ['etc', 'run', 'log', 'state', 'spool', 'db', 'munge']:
            self.path(sub).mkdir(mode=0o755)
        self.path('munge').chmod(0o700)
        ports = {name: free_port() for name in ['ctld', 'slurmd', 'dbd', 'mysql']}
        try:
            self._start_munge()
            self._start_database(ports['mysql'])
            self._write_configs(ports)
            self._spawn('slurmdbd', ['slurmdbd', '-D'])
            self._wait(lambda: port_open(ports['dbd']), timeout, 'slurmdbd listening')
            self._spawn('slurmctld', ['slurmctld', '-D', '-f', str(self.path('etc', 'slurm.conf'))])
            self._spawn('slurmd', ['slurmd', '-D', '-N', self.node, '-f', str(self.path('etc', 'slurm.conf'))])
            self._wait(self._node_idle, timeout, f'node {self.node} idle')
            self._wait(self._accounting_up, timeout, 'accounting (sacct) answering')
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, command: tp.List[str]) -> subprocess.Popen:
        log = open(self.path('log', f'{name}.out'), 'w')
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **self.env}, start_new_session=True)
        log.close()
        self.procs.append((name, proc))
        return proc

    def _wait(self, ready: tp.Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for {what}:\n"
                                       f"{self.logs(name)}")
            try:
                if ready():
                    return
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"Timed out after {timeout:.0f} s waiting for {what}:\n{self.logs()}")

    def _start_munge(self) -> None:
        key = self.path('munge', 'munge.key')
        key.write_bytes(os.urandom(128))
        key.chmod(0o600)
        socket_path = self.path('run', 'munge.socket')
        self._spawn('munged', ['munged', '-F', f'--key-file={key}', f'--socket={socket_path}',
                               f"--pid-file={self.path('run', 'munged.pid')}",
                               f"--log-file={self.path('log', 'munged.log')}",
                               f"--seed-file={self.path('munge', 'munged.seed')}"])
        self._wait(socket_path.exists, 30, 'munged socket')

    def _start_database(self, port: int) -> None:
        datadir = self.path('db')
        out = subprocess.run(['mariadb-install-db', '--no-defaults', f'--datadir={datadir}', '--user=root',
                              '--auth-root-authentication-method=normal', '--skip-test-db'],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {out.stdout[-1000:]}{out.stderr[-1000:]}")
        self._spawn('mariadbd', ['mariadbd', '--no-defaults', f'--datadir={datadir}', '--user=root',
                                 f"--socket={self.path('run', 'mysqld.sock')}", f'--port={port}',
                                 '--bind-address=127.0.0.1', '--skip-name-resolve',
                                 f"--pid-file={self.path('run', 'mariadbd.pid')}",
                                 f"--log-error={self.path('log', 'mariadbd.err')}"])
        self._wait(lambda: port_open(port), 60, 'mariadbd listening')

    def _write_configs(self, ports: tp.Dict[str, int]) -> None:
        munge_socket = self.path('run', 'munge.socket')
        dbd = self.path('etc', 'slurmdbd.conf')  # slurmdbd reads it next to $SLURM_CONF
        dbd.write_text('\n'.join([
            'AuthType=auth/munge', f'AuthInfo=socket={munge_socket}',
            'DbdHost=localhost', 'DbdAddr=127.0.0.1', f"DbdPort={ports['dbd']}", 'SlurmUser=root',
            'StorageType=accounting_storage/mysql', 'StorageHost=127.0.0.1', f"StoragePort={ports['mysql']}",
            'StorageUser=root', 'StorageLoc=slurm_acct_db',
            f"PidFile={self.path('run', 'slurmdbd.pid')}", f"LogFile={self.path('log', 'slurmdbd.log')}",
        ]) + '\n')
        dbd.chmod(0o600)
        memory = max(memory_mb() * 9 // 10, 1024)
        self.path('etc', 'slurm.conf').write_text('\n'.join([
            'ClusterName=bandsplit-test',
            f'SlurmctldHost={self.node}(127.0.0.1)',
            f"SlurmctldPort={ports['ctld']}", f"SlurmdPort={ports['slurmd']}",
            'SlurmUser=root', 'SlurmdUser=root',
            'AuthType=auth/munge', 'CredType=cred/munge', f'AuthInfo=socket={munge_socket}',
            f"StateSaveLocation={self.path('state')}", f"SlurmdSpoolDir={self.path('spool')}",
            f"SlurmctldPidFile={self.path('run', 'slurmctld.pid')}",
            f"SlurmdPidFile={self.path('run', 'slurmd.pid')}",
            f"SlurmctldLogFile={self.path('log', 'slurmctld.log')}",
            f"SlurmdLogFile={self.path('log', 'slurmd.log')}",
            # No cgroups: plain process tracking, no task binding, no resource enforcement.
            'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'JobAcctGatherType=jobacct_gather/none',
            'SwitchType=switch/none', 'MpiDefault=none',
            # Accounting through slurmdbd, for sacct.
            'AccountingStorageType=accounting_storage/slurmdbd', 'AccountingStorageHost=127.0.0.1',
            f"AccountingStoragePort={ports['dbd']}", f'AccountingStoragePass={munge_socket}',
            'JobCompType=jobcomp/none',
            'SchedulerType=sched/backfill', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_CPU',
            'SlurmdParameters=config_overrides', 'ReturnToService=2', 'MinJobAge=3600',
            'SlurmctldTimeout=30', 'SlurmdTimeout=60', 'InactiveLimit=0', 'KillWait=10',
            f'NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={memory} State=UNKNOWN',
            f'PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP',
        ]) + '\n')

    def _node_idle(self) -> bool:
        return self.run('sinfo', '-h', '-n', self.node, '-o', '%T', check=False).strip() == 'idle'

    def _accounting_up(self) -> bool:
        out = subprocess.run(['sacct', '-n', '-X'], env={**os.environ, **self.env}, capture_output=True,
                             text=True, timeout=30)
        return out.returncode == 0

    # ---- queries -----------------------------------------------------------------------------------------

    def queue(self) -> tp.List[str]:
        """Ids of the jobs pending or running."""
        return self.run('squeue', '-h', '-o', '%i').split()

    def job_states(self) -> tp.Dict[str, tp.Tuple[str, str]]:
        """`job id -> (state, exit code)` of every job the accounting knows of."""
        out = self.run('sacct', '-n', '-X', '-P', '-a', '-o', 'JobID,State,ExitCode')
        states = {}
        for line in out.splitlines():
            job, state, code = line.split('|')
            states[job] = (state.split()[0], code)
        return states

    def logs(self, *names: str, tail: int = 3000) -> str:
        """The end of the daemons' log files (all, or those whose name starts with one of `names`)."""
        if self.root is None:
            return ''
        parts = []
        for log in sorted(self.path('log').iterdir()):
            if names and not log.name.startswith(names):
                continue
            text = log.read_text(errors='replace')[-tail:]
            parts.append(f"--- {log.name}\n{text}")
        return '\n'.join(parts)

    # ---- stop --------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel the jobs left, end the daemons this object started and their descendants, remove the folder."""
        names = [name for name, _ in self.procs]
        if 'slurmctld' in names and self.procs[names.index('slurmctld')][1].poll() is None:
            try:
                self.run('scancel', '--user=root', check=False)
                deadline = time.time() + 30
                while self.queue() and time.time() < deadline:
                    time.sleep(1)
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                pass
        for _, proc in reversed(self.procs):  # slurmd first, munged last
            orphans = descendants(proc.pid)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for pid in orphans:  # job steps and tasks a stopped slurmd would leave behind
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        self.procs = []
        if self.root is not None and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> 'LocalSlurm':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m tests.slurm.cluster', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--keep', action='store_true', help="keep the cluster's folder (configs, logs)")
    parser.add_argument('command', nargs='+', help="command to run against the cluster (after --)")
    args = parser.parse_args(argv)
    try:
        install()
        cluster = LocalSlurm(keep=args.keep).start()
    except Unavailable as err:
        print(f"No local SLURM cluster on this machine: {err}", file=sys.stderr)
        return 2
    try:
        print(f"SLURM cluster up in {cluster.root} (SLURM_CONF={cluster.env['SLURM_CONF']})", file=sys.stderr)
        return subprocess.run(args.command, env={**os.environ, **cluster.env}).returncode
    finally:
        cluster.stop()


if __name__ == '__main__':
    sys.exit(main())
