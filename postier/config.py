"""All settings as frozen dataclasses, loaded from one TOML file.

How this works: each ``[section]`` of the file maps to one dataclass below; a key that the
dataclass does not declare, or a value of the wrong type, is a ``ConfigError`` whose message names
the file, the section, the key and what is expected. Relative paths are relative to the directory
of the config file. The section and key names are a contract with users: they only ever grow.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postier.errors import ConfigError

__all__ = [
    "DEV_PORTS",
    "LISTENER_NAMES",
    "STANDARD_PORTS",
    "Config",
    "HostPort",
    "load_config",
    "parse_duration",
    "parse_host_port",
    "parse_size",
    "render_config",
]

LISTENER_NAMES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http",
                  "https")
STANDARD_PORTS = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
                  "pop3": 110, "pop3s": 995, "http": 8080, "https": 8443}
DEV_PORTS = {"smtp": 2525, "submission": 2587, "submissions": 2465, "imap": 1143, "imaps": 1993,
             "pop3": 1110, "pop3s": 1995, "http": 8025, "https": 8443}

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_MULTIPLIERS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str | int) -> int:
    """``52428800``, ``"50M"``, ``"50 MiB"``, ``"1g"`` → bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size (examples: 1048576, 500K, 50M, 2G)")
    return int(match.group(1)) * _MULTIPLIERS[match.group(2).lower()]


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float) -> float:
    """``300``, ``"90s"``, ``"5m"``, ``"4h"``, ``"4d"``, ``"1h30m"`` → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = _to_float(value)
    else:
        text = str(value).strip()
        parts = _DURATION.findall(text)
        if not text or "".join(_DURATION.sub("", text).split()) or not parts:
            raise ValueError(f"{value!r} is not a duration (examples: 300, 90s, 5m, 4h, 4d)")
        seconds = float(sum(float(number) * _SECONDS[unit.lower()] for number, unit in parts))
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if not math.isfinite(seconds):  # TOML's nan and inf, or digits beyond a float's range
        raise ValueError(f"{value!r} is not a finite duration")
    return seconds


def _to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return math.inf if value > 0 else -math.inf


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str  # "" means every interface, IPv4 and IPv6
    port: int

    def __str__(self) -> str:
        host = self.host or "*"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def parse_host_port(value: str) -> HostPort:
    """``"0.0.0.0:25"``, ``"[::1]:143"``, ``"*:993"``, ``"localhost:8080"``."""
    text = value.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]\s]*):(\d+)", text)
    if not match:
        raise ValueError(f"{value!r} is not host:port (examples: 0.0.0.0:25, [::1]:143, *:993)")
    host = match.group(1) if match.group(1) is not None else match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    return HostPort("" if host in ("*", "") else host, port)


def _listen(name: str) -> Any:
    return field(default_factory=lambda: (HostPort("", STANDARD_PORTS[name]),))


@dataclass(frozen=True, slots=True)
class ServerSection:
    hostname: str = "localhost"
    data_dir: Path = Path("postier-data")


@dataclass(frozen=True, slots=True)
class TlsSection:
    cert: Path | None = None
    key: Path | None = None


@dataclass(frozen=True, slots=True)
class ListenSection:
    smtp: tuple[HostPort, ...] = _listen("smtp")
    submission: tuple[HostPort, ...] = _listen("submission")
    submissions: tuple[HostPort, ...] = _listen("submissions")
    imap: tuple[HostPort, ...] = _listen("imap")
    imaps: tuple[HostPort, ...] = _listen("imaps")
    pop3: tuple[HostPort, ...] = _listen("pop3")
    pop3s: tuple[HostPort, ...] = _listen("pop3s")
    http: tuple[HostPort, ...] = _listen("http")
    https: tuple[HostPort, ...] = ()

    def addresses(self, name: str) -> tuple[HostPort, ...]:
        value: tuple[HostPort, ...] = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class RelaySection:
    smarthost: HostPort | None = None
    username: str | None = None
    password: str | None = None
    tls: str = "starttls"  # "starttls" (required), "implicit" (port 465) or "none"
    verify_tls: bool = True  # check the smarthost's certificate and name


@dataclass(frozen=True, slots=True)
class QueueSection:
    """The outbound queue (postier/queue). Durations are seconds or "5m", "4h", "4d"."""

    # Wait after the 1st, 2nd, ... failed attempt; the last value repeats until expiry.
    retry_schedule: tuple[float, ...] = (300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0,
                                         28800.0, 57600.0)
    expire_after: float = 4 * 86400.0  # then the message fails and bounces (RFC 5321 §4.5.4.1)
    delay_notice_after: float = 4 * 3600.0  # "delayed" DSN once a message waited this long
    domain_concurrency: int = 2  # connections at once to one destination domain
    max_connections: int = 20  # outbound connections at once in total
    connect_timeout: float = 30.0
    command_timeout: float = 300.0  # RFC 5321 §4.5.3.2: 5 minutes for MAIL, RCPT, ...
    data_timeout: float = 600.0  # RFC 5321 §4.5.3.2.6: 10 minutes after the final dot
    dns_timeout: float = 10.0
    poll_interval: float = 5.0  # how often the queue looks for new or due messages
    lease: float = 900.0  # a claimed recipient is retried after this if its delivery died
    retention: float = 7 * 86400.0  # finished entries stay visible (delivery status) this long
    remote_port: int = 25  # port of MX hosts (RFC 5321); only tests change it
    dkim_selector: str = "postier"


@dataclass(frozen=True, slots=True)
class LimitsSection:
    max_message_size: int = 50 * 1024 * 1024
    max_recipients: int = 100
    smtp_line_length: int = 1000  # RFC 5321 §4.5.3.1.4, CRLF included
    imap_line_length: int = 64 * 1024
    max_connections: int = 2000
    max_connections_per_ip: int = 50
    smtp_timeout: float = 300.0  # RFC 5321 §4.5.3.2 suggests 5 minutes
    imap_idle_timeout: float = 1800.0  # RFC 9051 §5.4: at least 30 minutes
    pop3_timeout: float = 600.0  # RFC 1939 §3: at least 10 minutes
    command_timeout: float = 60.0  # a started command line must be complete within this
    min_upload_rate: int = 1024  # octets/s averaged over a literal, DATA or BDAT payload
    max_errors: int = 20  # as Dovecot (20 BADs in a row) and Postfix (smtpd_hard_error_limit)


@dataclass(frozen=True, slots=True)
class AuthSection:
    allow_plaintext: bool = False  # allow passwords on connections without TLS
    free_failures: int = 3
    delay_base: float = 1.0
    delay_max: float = 30.0
    failure_window: float = 900.0


@dataclass(frozen=True, slots=True)
class StoreSection:
    backend: str = "sqlite"
    dsn: str | None = None
    # How long expunged UIDs are remembered for QRESYNC (RFC 7162 §3.2.5); 0 keeps them forever.
    # A client that was away longer gets a full VANISHED (EARLIER) instead of an exact one.
    expunge_history: float = 90 * 86400.0


@dataclass(frozen=True, slots=True)
class DnsSection:
    nameservers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MailauthSection:
    """Inbound SPF, DKIM and DMARC checks on the MX listener (never on submission)."""

    verify: bool = True  # check, and record an Authentication-Results field
    dmarc_reject: bool = True  # p=reject → 550 5.7.1; off: such mail goes to Junk instead
    spf_fail_reject: bool = False  # SPF fail alone (without a DMARC pass) → 550 5.7.23
    timeout: float = 30.0  # all checks of one message; then it is delivered with temperror


@dataclass(frozen=True, slots=True)
class LogSection:
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Pop3Section:
    # Days a message stays in Trash (by its internal date) for accounts whose POP3 delete policy
    # is "trash"; 0 keeps Trash forever.
    trash_retention_days: int = 30
    # Seconds between two logins of one account, advertised as LOGIN-DELAY (RFC 2449 §6.5) and
    # enforced; 0 advertises and enforces nothing.
    login_delay: int = 0


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerSection = field(default_factory=ServerSection)
    tls: TlsSection = field(default_factory=TlsSection)
    listen: ListenSection = field(default_factory=ListenSection)
    relay: RelaySection = field(default_factory=RelaySection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    auth: AuthSection = field(default_factory=AuthSection)
    store: StoreSection = field(default_factory=StoreSection)
    dns: DnsSection = field(default_factory=DnsSection)
    queue: QueueSection = field(default_factory=QueueSection)
    log: LogSection = field(default_factory=LogSection)
    pop3: Pop3Section = field(default_factory=Pop3Section)
    mailauth: MailauthSection = field(default_factory=MailauthSection)
    path: Path | None = None  # the file it was loaded from

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir


_SIZE_KEYS = {"max_message_size"}
_DURATION_KEYS = {"retry_schedule", "expire_after", "delay_notice_after", "connect_timeout",
                  "command_timeout", "data_timeout", "dns_timeout", "poll_interval", "lease",
                  "retention", "expunge_history", "timeout"}
_RELAY_TLS = {"starttls", "implicit", "none"}
_LOG_LEVELS = {"debug", "info", "warning", "error"}
_BACKENDS = {"sqlite", "postgresql"}


def load_config(path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file; create one with 'postier init DIR "
                          "--hostname mail.example.org --domain example.org'") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from exc
    return config_from_dict(raw, path)


def config_from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    where = str(path) if path else "config"
    base = path.parent.resolve() if path else Path.cwd()
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Config)
    for name, value in raw.items():
        if name not in hints or name == "path":
            known = ", ".join(f"[{n}]" for n in hints if n != "path")
            raise ConfigError(f"{where}: unknown section [{name}]; known sections: {known}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table of keys")
        sections[name] = _section(hints[name], name, value, where, base)
    config = Config(**sections, path=path)
    if not config.server.data_dir.is_absolute():
        server = dataclasses.replace(config.server, data_dir=base / config.server.data_dir)
        config = dataclasses.replace(config, server=server)
    _check(config, where)
    return config


def _section(cls: type[Any], section: str, values: dict[str, Any], where: str, base: Path) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            known = ", ".join(hints)
            raise ConfigError(f"{where}: [{section}] has no key {key!r}; known keys: {known}")
        try:
            kwargs[key] = _convert(hints[key], key, value, base)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: [{section}] {key}: {exc}") from exc
    return cls(**kwargs)


def _convert(hint: Any, key: str, value: Any, base: Path) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], key, value, base)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__} {value!r}")
        return tuple(_convert(args[0], key, item, base) for item in value)
    if hint is HostPort:
        if not isinstance(value, str):
            raise TypeError(f"expected a \"host:port\" string, got {value!r}")
        return parse_host_port(value)
    if hint is Path:
        if not isinstance(value, str) or not value or "\x00" in value:
            raise TypeError(f"expected a path string, got {value!r}")
        try:
            path = Path(value).expanduser()
        except RuntimeError as exc:  # "~user/..." for a user that does not exist
            raise ValueError(f"cannot expand {value!r}: {exc}") from exc
        return path if path.is_absolute() else base / path
    if key in _SIZE_KEYS:
        return parse_size(value)
    if key in _DURATION_KEYS:
        return parse_duration(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        number = _to_float(value)
        if not math.isfinite(number):  # TOML's nan and inf, or an integer beyond a float's range
            raise ValueError(f"expected a finite number, got {value}")
        if number < 0:
            raise ValueError(f"must not be negative, got {value}")
        return number
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported setting type {hint}")


def _check(config: Config, where: str) -> None:
    if (config.tls.cert is None) != (config.tls.key is None):
        raise ConfigError(f"{where}: [tls] needs both cert and key (or neither)")
    if config.log.level not in _LOG_LEVELS:
        raise ConfigError(f"{where}: [log] level must be one of {sorted(_LOG_LEVELS)}")
    if config.store.backend not in _BACKENDS:
        raise ConfigError(f"{where}: [store] backend must be one of {sorted(_BACKENDS)}")
    if config.store.backend == "postgresql" and not config.store.dsn:
        raise ConfigError(f"{where}: [store] backend = \"postgresql\" needs a dsn")
    if config.relay.tls not in _RELAY_TLS:
        raise ConfigError(f"{where}: [relay] tls must be one of {sorted(_RELAY_TLS)}")
    if not config.queue.retry_schedule or min(config.queue.retry_schedule) <= 0:
        raise ConfigError(f"{where}: [queue] retry_schedule needs at least one positive "
                          "duration (example: [\"5m\", \"30m\", \"2h\"])")
    if config.queue.domain_concurrency < 1 or config.queue.max_connections < 1:
        raise ConfigError(f"{where}: [queue] domain_concurrency and max_connections must be "
                          "at least 1")
    if config.limits.smtp_line_length < 512:
        raise ConfigError(f"{where}: [limits] smtp_line_length must be at least 512 "
                          "(RFC 5321 §4.5.3.1.4 requires 512 for command lines)")
    needs_tls = [n for n in ("submissions", "imaps", "pop3s", "https")
                 if config.listen.addresses(n)]
    if needs_tls and config.tls.cert is None:
        raise ConfigError(f"{where}: listeners {', '.join(needs_tls)} need [tls] cert and key;"
                          " set them or empty those listeners (e.g. imaps = [])")


def render_config(*, hostname: str, data_dir: str, cert: str, key: str,
                  ports: dict[str, int], host: str = "*") -> str:
    """The commented TOML that ``postier init`` writes."""
    listen = "\n".join(f'{name} = ["{host}:{ports[name]}"]' for name in LISTENER_NAMES
                       if name != "https")
    return f"""\
# Postier configuration. Every key is documented in README.md ("Configuration").

[server]
hostname = "{hostname}"   # the name clients and other servers use for this host
data_dir = "{data_dir}"   # store: SQLite database and message files (relative to this file)

[tls]
cert = "{cert}"
key = "{key}"

[listen]
# Each listener is a list of "host:port"; "*" is every interface; [] disables it.
{listen}
https = []

[limits]
max_message_size = "50M"
max_recipients = 100
max_connections_per_ip = 50

[auth]
allow_plaintext = false   # true lets clients send passwords without TLS (not recommended)

# [relay]
# smarthost = "smtp.provider.example:587"   # send all outbound mail through this host
# username = "you@provider.example"
# password = "secret"
# tls = "starttls"                          # or "implicit" (port 465), or "none"

# [queue]
# retry_schedule = ["5m", "10m", "30m", "1h", "2h", "4h", "8h", "16h"]   # the last repeats
# expire_after = "4d"                       # then the sender gets a bounce
# delay_notice_after = "4h"                 # the sender is told the message is delayed

# [mailauth]                                # SPF, DKIM and DMARC of mail arriving on smtp (MX)
# verify = true                             # check and add Authentication-Results
# dmarc_reject = true                       # honour p=reject (550); false: deliver to Junk
# spf_fail_reject = false                   # true: refuse SPF -all failures (no DMARC pass)
"""
