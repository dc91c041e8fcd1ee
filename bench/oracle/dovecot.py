"""A private Dovecot for the differential tests: IMAP and POP3 on loopback, nothing else.

The configuration is ``bench/reference``'s, plus what makes Dovecot's account look like a new
Postier account: the special-use mailboxes Postier creates (subscribed), a 1 GiB storage quota
(QUOTA extension) and the ``fs`` Maildir layout (so mailbox names may contain dots).
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.reference.servers import (
    MAIL_USER,
    _dovecot_conf,
    _free_ports,
    _password_hash,
    _run,
    _stop_running,
    _wait_listening,
    ensure_installed,
)

__all__ = ["DovecotServer", "start_dovecot", "stop_dovecot"]

_EXTRA = r"""
# Added by bench/oracle: Postier's default mailboxes, quota, and dots in names.
mail_location = maildir:~/Maildir:LAYOUT=fs
mail_plugins = $mail_plugins quota
namespace inbox {
  mailbox Sent {
    auto = subscribe
    special_use = \Sent
  }
  mailbox Drafts {
    auto = subscribe
    special_use = \Drafts
  }
  mailbox Trash {
    auto = subscribe
    special_use = \Trash
  }
  mailbox Junk {
    auto = subscribe
    special_use = \Junk
  }
  mailbox Archive {
    auto = subscribe
    special_use = \Archive
  }
}
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=1G
}
"""


@dataclass
class DovecotServer:
    workdir: Path
    imap: int
    pop3: int


def start_dovecot(workdir: Path, users: list[str], password: str) -> DovecotServer:
    ensure_installed()
    workdir = workdir.resolve()
    _stop_running(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    mail_user = pwd.getpwnam(MAIL_USER)
    imap_port, pop3_port = _free_ports(2)
    base = workdir / "dovecot"
    (base / "mail").mkdir(parents=True)
    os.chmod(workdir, 0o755)
    os.chmod(base, 0o755)
    os.chown(base / "mail", mail_user.pw_uid, mail_user.pw_gid)
    hashed = _password_hash(password)
    (base / "users").write_text("".join(
        f"{address}:{hashed}:{mail_user.pw_uid}:{mail_user.pw_gid}::"
        f"{base / 'mail' / address}::\n" for address in users))
    conf = _dovecot_conf(workdir, imap_port, pop3_port, mail_user.pw_uid)
    conf = conf.replace("protocols = imap pop3 lmtp", "protocols = imap pop3")
    (base / "dovecot.conf").write_text(conf + _EXTRA)
    _run("dovecot", "-c", str(base / "dovecot.conf"))
    server = DovecotServer(workdir, imap_port, pop3_port)
    try:
        _wait_listening(imap_port)
        _wait_listening(pop3_port)
    except BaseException:
        stop_dovecot(server)
        raise
    return server


def stop_dovecot(server: DovecotServer) -> None:
    _stop_running(server.workdir)
