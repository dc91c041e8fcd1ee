"""The ``postier`` command: init, serve, check-config, and account administration.

Every failure a user can cause (bad config, bad address, existing user, missing certificate) ends
with one line on stderr naming the problem and the fix, and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import shutil
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from postier import __version__
from postier.addresses import normalize_address, normalize_domain
from postier.auth.passwords import hash_password, scram_credentials
from postier.config import (
    DEV_PORTS,
    STANDARD_PORTS,
    Config,
    load_config,
    parse_size,
    render_config,
)
from postier.errors import ConfigError, InvalidArgument, MailError
from postier.queue import admin as queue_admin
from postier.queue.signing import dkim_instructions, ensure_key
from postier.server import PostierServer, open_store
from postier.store.interface import Store
from postier.types import Pop3DeletePolicy

__all__ = ["main"]

T = TypeVar("T")
DEFAULT_DIR = Path("postier-data")
CONFIG_NAME = "postier.toml"
EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    try:
        result: int = args.run(args)
        return result
    except (CliError, ConfigError, MailError) as exc:
        print(f"postier: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"postier: error: {exc.strerror or exc}"
              + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postier", description="Postier mail server")
    parser.add_argument("--version", action="version", version=f"postier {__version__}")
    parser.add_argument("--config", "-c", type=Path, metavar="FILE",
                        help=f"configuration file (default: $POSTIER_CONFIG or "
                             f"./{DEFAULT_DIR}/{CONFIG_NAME})")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    init = commands.add_parser("init", help="create a configuration, store and certificate")
    init.add_argument("directory", type=Path)
    init.add_argument("--hostname", required=True, help="this server's host name")
    init.add_argument("--domain", required=True, action="append",
                      help="a mail domain to host (repeatable)")
    init.add_argument("--cert", type=Path, help="PEM certificate (default: self-signed)")
    init.add_argument("--key", type=Path, help="PEM private key for --cert")
    init.add_argument("--dev", action="store_true",
                      help="listen on 127.0.0.1 with unprivileged ports (2525, 1143, ...)")
    init.set_defaults(run=_cmd_init)

    serve = commands.add_parser("serve", help="run every listener in one process")
    serve.add_argument("--dev", action="store_true",
                       help=f"when creating ./{DEFAULT_DIR}: use 127.0.0.1 and unprivileged ports")
    serve.set_defaults(run=_cmd_serve)

    check = commands.add_parser("check-config", help="validate the configuration and exit")
    check.set_defaults(run=_cmd_check)

    _user_commands(commands.add_parser("user", help="manage accounts"))
    _domain_commands(commands.add_parser("domain", help="manage mail domains"))
    _alias_commands(commands.add_parser("alias", help="manage aliases"))
    queue_admin.add_commands(commands.add_parser("queue", help="outbound mail: list, show, "
                                                 "retry, delete"), _with_store)
    migrate = commands.add_parser("migrate", help="bring the store's schema up to date")
    migrate.set_defaults(run=_cmd_migrate)
    _store_commands(commands.add_parser("store", help="copy a store to another backend"))
    return parser


def _store_commands(store: argparse.ArgumentParser) -> None:
    sub = store.add_subparsers(title="store commands", metavar="ACTION", required=True)
    copy = sub.add_parser("copy", help="copy everything (accounts, mail, queue) from one store"
                          " to another, e.g. embedded to PostgreSQL; resumable, verified")
    copy.add_argument("--from", dest="source", type=Path, required=True, metavar="CONFIG",
                      help="configuration file of the store to copy")
    copy.add_argument("--to", dest="target", type=Path, required=True, metavar="CONFIG",
                      help="configuration file of the (empty, or partly copied) target store")
    copy.set_defaults(run=_cmd_store_copy)


def _user_commands(user: argparse.ArgumentParser) -> None:
    sub = user.add_subparsers(title="user commands", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create an account (with Inbox, Sent, Drafts, ...)")
    add.add_argument("address")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.add_argument("--quota", help="storage limit, e.g. 2G or 500M (default: none)")
    add.set_defaults(run=_cmd_user_add)
    delete = sub.add_parser("del", help="delete an account and all its mail")
    delete.add_argument("address")
    delete.set_defaults(run=_cmd_user_del)
    listing = sub.add_parser("list", help="list accounts")
    listing.add_argument("--domain")
    listing.set_defaults(run=_cmd_user_list)
    passwd = sub.add_parser("passwd", help="set an account's password")
    passwd.add_argument("address")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(run=_cmd_user_passwd)
    quota = sub.add_parser("quota", help="set an account's storage limit ('none' removes it)")
    quota.add_argument("address")
    quota.add_argument("size")
    quota.set_defaults(run=_cmd_user_quota)
    pop3 = sub.add_parser("pop3-policy",
                          help="what a POP3 delete does: trash (default), expunge or keep")
    pop3.add_argument("address")
    pop3.add_argument("policy", choices=[p.value for p in Pop3DeletePolicy])
    pop3.set_defaults(run=_cmd_user_pop3_policy)


def _domain_commands(domain: argparse.ArgumentParser) -> None:
    sub = domain.add_subparsers(title="domain commands", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="host mail for a domain")
    add.add_argument("name")
    add.set_defaults(run=_cmd_domain_add)
    sub.add_parser("list", help="list domains").set_defaults(run=_cmd_domain_list)
    delete = sub.add_parser("del", help="stop hosting a domain (it must have no accounts)")
    delete.add_argument("name")
    delete.set_defaults(run=_cmd_domain_del)
    catch = sub.add_parser("catch-all", help="deliver unknown addresses of a domain somewhere")
    catch.add_argument("name")
    catch.add_argument("address", help="target address, or 'none' to turn it off")
    catch.set_defaults(run=_cmd_domain_catch_all)
    signing = sub.add_parser("dkim", help="print the DKIM DNS record to publish for a domain")
    signing.add_argument("name")
    signing.set_defaults(run=_cmd_domain_dkim)


def _alias_commands(alias: argparse.ArgumentParser) -> None:
    sub = alias.add_subparsers(title="alias commands", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="deliver mail for ADDRESS to one or more targets")
    add.add_argument("address")
    add.add_argument("targets", nargs="+")
    add.set_defaults(run=_cmd_alias_add)
    delete = sub.add_parser("del", help="delete an alias")
    delete.add_argument("address")
    delete.set_defaults(run=_cmd_alias_del)
    sub.add_parser("list", help="list aliases").set_defaults(run=_cmd_alias_list)


# Config resolution ------------------------------------------------------------------------------

def _config_path(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        return Path(args.config)
    env = os.environ.get("POSTIER_CONFIG")
    if env:
        return Path(env)
    default = DEFAULT_DIR / CONFIG_NAME
    return default if default.exists() else None


def _load(args: argparse.Namespace) -> Config:
    path = _config_path(args)
    if path is None:
        raise CliError(f"no configuration: pass --config FILE, or run 'postier serve' once to "
                       f"create ./{DEFAULT_DIR}")
    return load_config(path)


def _with_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[T]]) -> T:
    config = _load(args)

    async def run() -> T:
        store = await open_store(config)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


# init / serve / check-config --------------------------------------------------------------------

def _cmd_init(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    initialise(directory, hostname=args.hostname, domains=args.domain, cert=args.cert,
               key=args.key, dev=args.dev)
    print(f"created {directory / CONFIG_NAME}")
    print(f"next: postier --config {directory / CONFIG_NAME} user add you@{args.domain[0]}")
    print(f"      postier --config {directory / CONFIG_NAME} serve")
    return 0


def initialise(directory: Path, *, hostname: str, domains: list[str], cert: Path | None,
               key: Path | None, dev: bool) -> Path:
    """Write DIR/postier.toml, the store and (unless given) a self-signed certificate.

    Either everything is created or nothing is left behind.
    """
    config_file = directory / CONFIG_NAME
    if config_file.exists():
        raise CliError(f"{config_file} already exists; edit it, or choose another directory")
    if (cert is None) != (key is None):
        raise CliError("--cert and --key go together: give both, or neither for a self-signed one")
    for path in (cert, key):
        if path is not None and not path.is_file():
            raise CliError(f"{path} does not exist; give a PEM file")
    try:
        names = [normalize_domain(d) for d in domains]
        host = normalize_domain(hostname)
    except InvalidArgument as exc:
        raise CliError(str(exc)) from exc
    created_dir = not directory.exists()
    before = set(directory.iterdir()) if directory.exists() else set()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if cert is None or key is None:
            from postier.net.tls import generate_self_signed

            cert, key = Path("tls/cert.pem"), Path("tls/key.pem")
            generate_self_signed(host, directory / cert, directory / key)
        ports = DEV_PORTS if dev else STANDARD_PORTS
        text = render_config(hostname=host, data_dir=".", cert=str(cert), key=str(key),
                             ports=ports, host="127.0.0.1" if dev else "*")
        tmp = directory / (CONFIG_NAME + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        config = load_config(tmp)

        async def add_domains() -> None:
            store = await open_store(config)
            try:
                for name in names:
                    await store.add_domain(name)
            finally:
                await store.close()

        asyncio.run(add_domains())
        for name in names:
            ensure_key(config.data_dir, name, config.queue.dkim_selector)
        tmp.replace(config_file)
    except BaseException:
        if created_dir:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for entry in set(directory.iterdir()) - before:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        raise
    return config_file


def _cmd_serve(args: argparse.Namespace) -> int:
    path = _config_path(args)
    if path is None:
        host = socket.getfqdn() or "localhost"
        try:
            host = normalize_domain(host)
        except InvalidArgument:
            host = "localhost"
        print(f"first start: creating ./{DEFAULT_DIR} for host and mail domain {host}")
        path = initialise(DEFAULT_DIR, hostname=host, domains=[host], cert=None, key=None,
                          dev=args.dev)
        print(f"add a user with: postier user add you@{host}")
    config = load_config(path)
    _setup_logging(config.log.level)
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency; this keeps dev setups running
        runner = asyncio.run
    server = PostierServer(config)
    runner(server.run(announce=print))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    config = _load(args)
    if config.tls.cert is not None and config.tls.key is not None:
        from postier.net.tls import server_context

        server_context(config.tls.cert, config.tls.key)
    print(f"{config.path}: ok")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    config = _load(args)
    if config.store.backend == "postgresql" and config.store.dsn:
        from postier.store.postgres.migrations import migrate_dsn

        version, applied = asyncio.run(_database_errors(migrate_dsn(config.store.dsn)))
        done = ", ".join(map(str, applied)) if applied else "none needed"
        print(f"PostgreSQL schema at version {version} (migrations applied: {done})")
        return 0
    asyncio.run(_with_open_store(config, lambda store: asyncio.sleep(0)))
    print(f"embedded store in {config.data_dir} is up to date")
    return 0


def _cmd_store_copy(args: argparse.Namespace) -> int:
    from postier.store.copy import ProgressBar, copy_store

    source, target = load_config(args.source), load_config(args.target)
    if _store_identity(source) == _store_identity(target):
        raise CliError("--from and --to name the same store; give the target's configuration")

    async def run() -> str:
        opened = [await open_store(source)]
        try:
            opened.append(await open_store(target))
            report = await copy_store(_transfer(opened[0]), _transfer(opened[1]), ProgressBar())
        finally:
            for store in opened:
                await store.close()
        counts = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        return (f"copied {report.copied_messages} new message(s); verified {counts}\n"
                f"content sha256: {report.digest}")

    print(asyncio.run(_database_errors(run())))
    return 0


def _store_identity(config: Config) -> tuple[str, str]:
    if config.store.backend == "postgresql":
        return ("postgresql", config.store.dsn or "")
    return ("sqlite", str(config.data_dir.resolve()))


def _transfer(store: Store) -> Any:
    from postier.store.postgres.store import PostgresStore
    from postier.store.sqlite.store import SqliteStore

    if isinstance(store, SqliteStore | PostgresStore):
        return store.transfer()
    raise CliError(f"cannot copy a {type(store).__name__}")


async def _database_errors(work: Awaitable[T]) -> T:
    """Database failures a user can fix (refused connection, missing rights) as one line."""
    import asyncpg

    try:
        return await work
    except asyncpg.PostgresError as exc:
        raise CliError(f"PostgreSQL: {exc}") from exc
    except (OSError, asyncpg.InterfaceError) as exc:
        raise CliError(f"cannot reach PostgreSQL: {exc}") from exc


async def _with_open_store(config: Config, work: Callable[[Store], Awaitable[T]]) -> T:
    store = await open_store(config)
    try:
        return await work(store)
    finally:
        await store.close()


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# Accounts ---------------------------------------------------------------------------------------

def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CliError("the two passwords differ; try again")
    else:
        raise CliError("no terminal to ask for a password: use --password-stdin")
    if not password:
        raise CliError("the password is empty; give a non-empty password")
    return password


def _parse_quota(value: str | None) -> int | None:
    if value is None or value.lower() in ("none", "unlimited", "0"):
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise CliError(f"--quota: {exc}") from exc


def _cmd_user_add(args: argparse.Namespace) -> int:
    address = _address(args.address)
    quota = _parse_quota(args.quota)
    password = _read_password(args)
    hashed, scram = hash_password(password), scram_credentials(password)
    account = _with_store(args, lambda s: s.add_account(address, hashed, scram, quota))
    print(f"added {account.address}")
    return 0


def _cmd_user_del(args: argparse.Namespace) -> int:
    address = _address(args.address)
    _with_store(args, lambda s: s.delete_account(address))
    print(f"deleted {address}")
    return 0


def _cmd_user_list(args: argparse.Namespace) -> int:
    for account in _with_store(args, lambda s: s.list_accounts(args.domain)):
        quota = "unlimited" if account.quota_bytes is None else _human(account.quota_bytes)
        print(f"{account.address}\t{account.message_count} messages\t"
              f"{_human(account.used_bytes)} of {quota}")
    return 0


def _cmd_user_passwd(args: argparse.Namespace) -> int:
    address = _address(args.address)
    password = _read_password(args)
    hashed, scram = hash_password(password), scram_credentials(password)
    _with_store(args, lambda s: s.set_password(address, hashed, scram))
    print(f"password changed for {address}")
    return 0


def _cmd_user_quota(args: argparse.Namespace) -> int:
    address = _address(args.address)
    quota = _parse_quota(args.size)
    _with_store(args, lambda s: s.set_quota(address, quota))
    print(f"quota of {address}: {'unlimited' if quota is None else _human(quota)}")
    return 0


def _cmd_user_pop3_policy(args: argparse.Namespace) -> int:
    address = _address(args.address)
    policy = Pop3DeletePolicy(args.policy)
    _with_store(args, lambda s: s.set_pop3_delete_policy(address, policy))
    print(f"POP3 delete policy of {address}: {policy.value}")
    return 0


def _cmd_domain_add(args: argparse.Namespace) -> int:
    domain = _with_store(args, lambda s: s.add_domain(args.name))
    config = _load(args)
    ensure_key(config.data_dir, domain.name, config.queue.dkim_selector)
    print(f"added {domain.name}")
    print(f"publish its DKIM key: postier domain dkim {domain.name}")
    return 0


def _cmd_domain_dkim(args: argparse.Namespace) -> int:
    """RFC 6376 §3.6.2.1: the record goes at <selector>._domainkey.<domain>, as TXT."""
    config = _load(args)
    name = normalize_domain(args.name)
    if _with_store(args, lambda s: s.get_domain(name)) is None:
        raise CliError(f"{name} is not a domain of this server; add it with "
                       f"'postier domain add {name}'")
    print(dkim_instructions(config.data_dir, name, config.queue.dkim_selector))
    return 0


def _cmd_domain_list(args: argparse.Namespace) -> int:
    for domain in _with_store(args, lambda s: s.list_domains()):
        print(domain.name + (f"\tcatch-all -> {domain.catch_all}" if domain.catch_all else ""))
    return 0


def _cmd_domain_del(args: argparse.Namespace) -> int:
    _with_store(args, lambda s: s.delete_domain(args.name))
    print(f"deleted {args.name}")
    return 0


def _cmd_domain_catch_all(args: argparse.Namespace) -> int:
    target = None if args.address.lower() == "none" else _address(args.address)
    _with_store(args, lambda s: s.set_catch_all(args.name, target))
    print(f"catch-all of {args.name}: {target or 'off'}")
    return 0


def _cmd_alias_add(args: argparse.Namespace) -> int:
    alias = _with_store(args, lambda s: s.add_alias(args.address, args.targets))
    print(f"added {alias.address} -> {', '.join(alias.targets)}")
    return 0


def _cmd_alias_del(args: argparse.Namespace) -> int:
    _with_store(args, lambda s: s.delete_alias(args.address))
    print(f"deleted {args.address}")
    return 0


def _cmd_alias_list(args: argparse.Namespace) -> int:
    for alias in _with_store(args, lambda s: s.list_aliases()):
        print(f"{alias.address}\t{', '.join(alias.targets)}")
    return 0


def _address(value: str) -> str:
    try:
        return normalize_address(value)
    except InvalidArgument as exc:
        raise CliError(str(exc)) from exc


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"
