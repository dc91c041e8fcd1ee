"""The reference servers: a private Postfix delivering over LMTP to a private Dovecot.

How this works: ``start_reference(workdir)`` writes everything under ``workdir`` (nothing in
/etc is touched, the system services stay off):

- ``postfix/etc/main.cf`` and ``master.cf``: an instance started with ``postfix -c DIR``, its own
  queue and data directories, one ``smtpd`` on 127.0.0.1:PORT. ``mydestination = bench.test``;
  local mail goes with ``lmtp:unix:`` to Dovecot. No DNS, no outbound mail, no TLS.
- ``dovecot/dovecot.conf``: started with ``dovecot -c FILE``, ``base_dir`` in ``dovecot/run``,
  IMAP and POP3 on 127.0.0.1 high ports without TLS, LMTP on a unix socket, users from a
  passwd-file (``bench1@bench.test`` ... with password ``bench``, stored as an Argon2id hash
  with Postier's costs, t=2, 19 MiB, p=1, so a login costs both servers the same hashing
  work), Maildir storage in
  ``dovecot/mail/DOMAIN/USER``. ``mail_fsync`` is left at its default (``optimized``): every
  delivered or appended message is fsync'd before it is acknowledged, as Postier does.

Limits that would refuse the benchmark's load (connections per user and address, process
counts) are raised; nothing that changes how a message is stored is. The ports are free ports
picked on 127.0.0.1 at start.

    ports = start_reference(Path("/tmp/postier-bench-ref"), users=40)
    ...  # SMTP on ports.smtp, IMAP on ports.imap, POP3 on ports.pop3
    stop_reference(ports)
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DOMAIN", "MAIL_USER", "PASSWORD", "ReferencePorts", "ensure_installed",
           "start_reference", "stop_reference"]

DOMAIN = "bench.test"
PASSWORD = "bench"
MAIL_USER = "postierbench"  # owns the Dovecot mail files (Dovecot refuses to store as root)
_HERE = Path(__file__).resolve().parent


@dataclass
class ReferencePorts:
    workdir: Path
    smtp: int
    imap: int
    pop3: int
    users: list[str] = field(default_factory=list)

    @property
    def postfix_config(self) -> Path:
        return self.workdir / "postfix" / "etc"

    @property
    def dovecot_config(self) -> Path:
        return self.workdir / "dovecot" / "dovecot.conf"

    def maildir(self, address: str, mailbox: str = "INBOX") -> Path:
        local, domain = address.split("@")
        root = self.workdir / "dovecot" / "mail" / domain / local / "Maildir"
        return root if mailbox == "INBOX" else root / f".{mailbox}"

    def message_count(self, address: str) -> int:
        """Messages in the user's INBOX, counted from the Maildir files."""
        total = 0
        for part in ("new", "cur"):
            try:
                total += sum(1 for _ in os.scandir(self.maildir(address) / part))
            except FileNotFoundError:
                pass
        return total

    def add_users(self, addresses: list[str]) -> None:
        """Add passwd-file users (password ``bench``; Dovecot re-reads the file when it
        changes), in bulk: one hash for all of them."""
        users = self.workdir / "dovecot" / "users"
        known = {line.split(":", 1)[0] for line in users.read_text().splitlines()}
        mail_user = pwd.getpwnam(MAIL_USER)
        hashed = users.read_text().splitlines()[0].split(":")[1]
        added = [a for a in addresses if a not in known]
        with users.open("a") as out:
            out.write("".join(_passwd_line(address, hashed, mail_user, self.workdir / "dovecot")
                              for address in added))
        self.users += added

    def master_pids(self) -> list[int]:
        """Postfix's and Dovecot's master processes (every other process descends from them)."""
        pids = []
        for path in (self.workdir / "postfix" / "queue" / "pid" / "master.pid",
                     self.workdir / "dovecot" / "run" / "master.pid"):
            try:
                pids.append(int(path.read_text().split()[0]))
            except (FileNotFoundError, ValueError, IndexError):
                pass
        return pids

    def dovecot_master_pid(self) -> int | None:
        try:
            return int((self.workdir / "dovecot" / "run" / "master.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None


def ensure_installed() -> None:
    """Install the Debian packages and the mail user if anything is missing (needs root)."""
    missing = [tool for tool in ("postfix", "dovecot", "doveadm") if shutil.which(tool) is None]
    try:
        pwd.getpwnam(MAIL_USER)
    except KeyError:
        missing.append(MAIL_USER)
    if missing:
        subprocess.run(["bash", str(_HERE / "install.sh")], check=True)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _postfix_main_cf(workdir: Path) -> str:
    lmtp_socket = workdir / "dovecot" / "run" / "lmtp"
    return f"""\
# Written by bench/reference/servers.py: a private Postfix for the benchmark.
compatibility_level = 3.6
queue_directory = {workdir}/postfix/queue
data_directory = {workdir}/postfix/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination = {DOMAIN}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
# Local recipients are checked by Dovecot at LMTP RCPT time.
local_recipient_maps =
alias_maps =
alias_database =
local_transport = lmtp:unix:{lmtp_socket}
default_transport = error:outbound mail is off in the benchmark
relay_transport = error:outbound mail is off in the benchmark
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
lmtp_tls_security_level = none
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
maillog_file_prefixes = {workdir}
maillog_file = {workdir}/postfix/maillog
"""


_POSTFIX_MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{smtp_address} inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _dovecot_conf(workdir: Path, imap_port: int, pop3_port: int, uid: int) -> str:
    base = workdir / "dovecot"
    return f"""\
# Written by bench/reference/servers.py: a private Dovecot for the benchmark.
base_dir = {base}/run
state_dir = {base}/state
instance_name = postier-bench
log_path = {base}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:~/Maildir
postmaster_address = postmaster@{DOMAIN}
hostname = mx.{DOMAIN}
# Room for the benchmark's connections (the defaults refuse them); storage is left as is.
default_client_limit = 20000
default_process_limit = 200
passdb {{
  driver = passwd-file
  args = {base}/users
}}
userdb {{
  driver = passwd-file
  args = {base}/users
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap {{
  process_limit = 12000
}}
service pop3 {{
  process_limit = 1000
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 20000
}}
protocol pop3 {{
  mail_max_userip_connections = 100
}}
"""


def _password_hash(password: str) -> str:
    """An Argon2id hash with Postier's default costs, in Dovecot's passwd-file form."""
    try:
        from argon2 import PasswordHasher, Type

        hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1,
                                type=Type.ID)
        return "{ARGON2ID}" + hasher.hash(password)
    except ImportError:
        result = subprocess.run(["doveadm", "pw", "-s", "ARGON2ID", "-p", password],
                                capture_output=True, text=True, check=True)
        return result.stdout.strip()


def _passwd_line(address: str, hashed: str, mail_user: pwd.struct_passwd,
                 dovecot: Path) -> str:
    home = dovecot / "mail" / DOMAIN / address.split("@")[0]
    return f"{address}:{hashed}:{mail_user.pw_uid}:{mail_user.pw_gid}::{home}::\n"


def _run(*args: str) -> None:
    """Run a command that may leave a daemon behind: its output goes to a file, not a pipe
    (a pipe would stay open in the daemon and never reach end of file)."""
    with tempfile.TemporaryFile() as output:
        result = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT)
        if result.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"{' '.join(args)} failed:\n{output.read().decode()}")


def _stop_running(workdir: Path) -> None:
    """Stop instances an earlier run left in ``workdir``."""
    if (workdir / "postfix" / "etc" / "main.cf").exists():
        subprocess.run(["postfix", "-c", str(workdir / "postfix" / "etc"), "stop"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    pid_file = workdir / "dovecot" / "run" / "master.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
        _wait_gone(pid_file, 10)


def _wait_gone(pid_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(int(pid_file.read_text().split()[0]), 0)
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            return
        time.sleep(0.05)


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _raise_inotify_limit(wanted: int = 16384) -> None:
    """Dovecot's IDLE watches each selected mailbox with inotify, one instance per ``imap``
    process, all under one uid. The kernel's default of 128 instances per user makes sessions
    past the 128th fall back to polling every 30 s (Dovecot logs "Inotify instance limit ...
    exceeded"); a server hosting many IDLE clients raises it, as Dovecot's documentation says."""
    path = Path("/proc/sys/fs/inotify/max_user_instances")
    try:
        if int(path.read_text()) < wanted:
            path.write_text(str(wanted))
    except (OSError, ValueError):
        pass


def start_reference(workdir: Path, users: int = 40, password: str = PASSWORD) -> ReferencePorts:
    """Write the configuration under ``workdir`` (emptied first) and start both servers."""
    ensure_installed()
    _raise_inotify_limit()
    workdir = workdir.resolve()
    _stop_running(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    mail_user = pwd.getpwnam(MAIL_USER)
    smtp_port, imap_port, pop3_port = _free_ports(3)

    postfix_etc = workdir / "postfix" / "etc"
    for directory in (postfix_etc, workdir / "postfix" / "queue", workdir / "postfix" / "data"):
        directory.mkdir(parents=True)
    os.chmod(workdir, 0o755)
    os.chmod(workdir / "postfix", 0o755)
    (postfix_etc / "main.cf").write_text(_postfix_main_cf(workdir))
    (postfix_etc / "master.cf").write_text(
        _POSTFIX_MASTER_CF.format(smtp_address=f"127.0.0.1:{smtp_port}"))
    os.chown(workdir / "postfix" / "data", pwd.getpwnam("postfix").pw_uid, -1)

    dovecot = workdir / "dovecot"
    (dovecot / "mail").mkdir(parents=True)
    os.chmod(dovecot, 0o755)
    os.chown(dovecot / "mail", mail_user.pw_uid, mail_user.pw_gid)
    addresses = [f"bench{n}@{DOMAIN}" for n in range(1, users + 1)]
    hashed = _password_hash(password)
    (dovecot / "users").write_text("".join(_passwd_line(address, hashed, mail_user, dovecot)
                                           for address in addresses))
    (dovecot / "dovecot.conf").write_text(
        _dovecot_conf(workdir, imap_port, pop3_port, mail_user.pw_uid))

    _run("dovecot", "-c", str(dovecot / "dovecot.conf"))
    _run("postfix", "-c", str(postfix_etc), "set-permissions")
    _run("postfix", "-c", str(postfix_etc), "start")
    ports = ReferencePorts(workdir, smtp_port, imap_port, pop3_port, addresses)
    try:
        for port in (smtp_port, imap_port, pop3_port):
            _wait_listening(port)
        deadline = time.monotonic() + 20
        while not (dovecot / "run" / "lmtp").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("Dovecot's LMTP socket did not appear")
            time.sleep(0.05)
    except BaseException:
        stop_reference(ports)
        raise
    return ports


def stop_reference(ports: ReferencePorts, *, remove: bool = False) -> None:
    """Stop both servers; with ``remove``, delete the working directory too."""
    _stop_running(ports.workdir)
    if remove:
        shutil.rmtree(ports.workdir, ignore_errors=True)
