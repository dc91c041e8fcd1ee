"""Command-line parsing: verbs, RFC 5321 paths, ESMTP parameters and their rendering."""

from __future__ import annotations

import pytest

from postier.smtp.commands import (
    ArgumentError,
    Auth,
    Base64Error,
    Bdat,
    BodyType,
    Command,
    CommandError,
    CommandNotImplemented,
    Data,
    DsnNotify,
    DsnReturn,
    Ehlo,
    Expn,
    Helo,
    Help,
    MailFrom,
    Noop,
    PathError,
    Quit,
    RcptTo,
    Rset,
    StartTls,
    UnknownParameter,
    UnrecognizedCommand,
    Utf8NotPermitted,
    Vrfy,
    parse_command,
    parse_sasl_response,
    xtext_decode,
    xtext_encode,
)


def parse(line: str, *, smtputf8: bool = False) -> Command:
    return parse_command(line.encode(), smtputf8=smtputf8)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("HELO client.example", Helo("client.example")),
        ("ehlo [192.0.2.1]", Ehlo("[192.0.2.1]")),
        ("EHLO my_laptop", Ehlo("my_laptop")),
        ("DATA", Data()),
        ("RSET", Rset()),
        ("QUIT", Quit()),
        ("STARTTLS", StartTls()),
        ("NOOP", Noop()),
        ("NOOP anything at all", Noop("anything at all")),
        ("HELP MAIL", Help("MAIL")),
        ("VRFY postmaster", Vrfy("postmaster")),
        ("EXPN staff", Expn("staff")),
        ("BDAT 1000", Bdat(1000)),
        ("bdat 0 last", Bdat(0, last=True)),
        ("AUTH PLAIN", Auth("PLAIN")),
        ("auth plain =", Auth("PLAIN", b"")),
        ("AUTH PLAIN AHVzZXIAcGFzcw==", Auth("PLAIN", b"\0user\0pass")),
        ("QUIT  ", Quit()),  # trailing spaces are tolerated
    ],
)
def test_verbs(line: str, command: Command) -> None:
    assert parse(line) == command


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("", UnrecognizedCommand),
        ("FOO bar", UnrecognizedCommand),
        ("NOOP\0", UnrecognizedCommand),
        ("NO\rOP", UnrecognizedCommand),
        ("TURN", CommandNotImplemented),
        ("\u017ftarttls", UnrecognizedCommand),  # "ſ".upper() == "S" must not make STARTTLS
        ("BDAT 1 la\u017ft", ArgumentError),
        ("HELO", ArgumentError),
        ("EHLO two words", ArgumentError),
        ("DATA now", ArgumentError),
        ("RSET x", ArgumentError),
        ("VRFY", ArgumentError),
        ("BDAT", ArgumentError),
        ("BDAT -1", ArgumentError),
        ("BDAT 10 FIRST", ArgumentError),
        ("BDAT 1 LAST extra", ArgumentError),
        ("AUTH", ArgumentError),
        ("AUTH PL@IN", ArgumentError),
        ("AUTH PLAIN !!!", Base64Error),
        ("AUTH PLAIN AHVzZXI", Base64Error),  # missing padding
        ("MAIL TO:<a@b>", ArgumentError),
        ("MAIL FROM:a@b", PathError),
        ("RCPT TO:<>", PathError),
        ("RCPT TO:<a@b>x", ArgumentError),
    ],
)
def test_errors(line: str, error: type[CommandError]) -> None:
    with pytest.raises(error):
        parse(line)


def test_invalid_utf8_is_unrecognized() -> None:
    with pytest.raises(UnrecognizedCommand):
        parse_command(b"MAIL FROM:<\xff@b>")


class TestPaths:
    @pytest.mark.parametrize(
        ("line", "address"),
        [
            ("MAIL FROM:<user@example.org>", "user@example.org"),
            ("mail from:<User.Name+tag@Example.ORG>", "User.Name+tag@Example.ORG"),
            ("MAIL FROM:<>", ""),
            ("MAIL FROM: <user@example.org>", "user@example.org"),  # lenient space
            ('MAIL FROM:<"a b"@example.org>', '"a b"@example.org'),
            ('MAIL FROM:<"user@remote"@local.example>', '"user@remote"@local.example'),
            ('MAIL FROM:<"quote\\"d"@x.example>', '"quote\\"d"@x.example'),
            ('MAIL FROM:<""@x.example>', '""@x.example'),
            ("MAIL FROM:<user@[192.0.2.1]>", "user@[192.0.2.1]"),
            ("MAIL FROM:<user@[IPv6:2001:db8::1]>", "user@[IPv6:2001:db8::1]"),
            ("MAIL FROM:<user@[ipv6:::ffff:192.0.2.1]>", "user@[ipv6:::ffff:192.0.2.1]"),
        ],
    )
    def test_reverse_paths(self, line: str, address: str) -> None:
        command = parse(line)
        assert isinstance(command, MailFrom)
        assert command.address == address
        assert not command.had_source_route

    def test_source_route_dropped_but_remembered(self) -> None:
        command = parse("RCPT TO:<@relay1.example,@relay2.example:user@final.example>")
        assert command == RcptTo("user@final.example", {}, had_source_route=True)
        single = parse("MAIL FROM:<@a.example:u@b.example>")
        assert isinstance(single, MailFrom) and single.had_source_route

    def test_postmaster_without_domain_only_for_rcpt(self) -> None:
        assert parse("RCPT TO:<Postmaster>") == RcptTo("Postmaster")
        with pytest.raises(PathError):
            parse("RCPT TO:<someone>")
        with pytest.raises(PathError):
            parse("MAIL FROM:<postmaster>")

    @pytest.mark.parametrize(
        "path",
        [
            "<user@example.org",
            "user@example.org>",
            "<user@>",
            "<@example.org>",
            "<user@-example.org>",
            "<user@example-.org>",
            "<user@example..org>",
            "<user@example.org.>",
            "<user..name@example.org>",
            "<.user@example.org>",
            "<user.@example.org>",
            "<user name@example.org>",
            '<"unterminated@example.org>',
            "<user@[300.1.1.1]>",
            "<user@[1.2.3]>",
            "<user@[IPv6:zz::1]>",
            "<user@[IPv6:fe80::1%eth0]>",
            "<user@[tag:general]>",
            "<@a.example,u@b.example>",
            "<@a.example;u@b.example>",
            "<@[192.0.2.1]:u@b.example>",
        ],
    )
    def test_bad_paths(self, path: str) -> None:
        with pytest.raises(PathError) as caught:
            parse(f"RCPT TO:{path}")
        assert not caught.value.reverse_path

    def test_bad_reverse_path_is_marked(self) -> None:
        with pytest.raises(PathError) as caught:
            parse("MAIL FROM:<a@@b>")
        assert caught.value.reverse_path


class TestSmtpUtf8:
    def test_mail_needs_its_own_smtputf8_parameter(self) -> None:
        with pytest.raises(Utf8NotPermitted):
            parse("MAIL FROM:<jöran@bücher.example>")
        command = parse("MAIL FROM:<jöran@bücher.example> SMTPUTF8")
        assert isinstance(command, MailFrom) and command.smtputf8
        assert command.address == "jöran@bücher.example"

    def test_rcpt_follows_the_transaction(self) -> None:
        with pytest.raises(Utf8NotPermitted):
            parse("RCPT TO:<用户@例子.广告>")
        assert parse("RCPT TO:<用户@例子.广告>", smtputf8=True) == RcptTo("用户@例子.广告")

    def test_quoted_utf8_local_part(self) -> None:
        command = parse('RCPT TO:<"ä b"@x.example>', smtputf8=True)
        assert command == RcptTo('"ä b"@x.example')


class TestParameters:
    def test_mail_parameters_and_accessors(self) -> None:
        command = parse(
            "MAIL FROM:<a@b.example> size=1024 BODY=8bitmime RET=HDRS ENVID=QQ+2B1 "
            "AUTH=<> SMTPUTF8"
        )
        assert isinstance(command, MailFrom)
        assert command.params == {
            "SIZE": "1024", "BODY": "8bitmime", "RET": "HDRS", "ENVID": "QQ+2B1",
            "AUTH": "<>", "SMTPUTF8": None,
        }
        assert command.size == 1024
        assert command.body is BodyType.EIGHT_BIT_MIME
        assert command.ret is DsnReturn.HEADERS
        assert command.envid == "QQ+1"
        assert command.auth == "<>"
        assert command.smtputf8

    def test_absent_parameters(self) -> None:
        command = parse("MAIL FROM:<>")
        assert isinstance(command, MailFrom)
        assert (command.size, command.body, command.ret, command.envid, command.auth) == (
            None, None, None, None, None,
        )
        assert not command.smtputf8

    def test_rcpt_dsn_parameters(self) -> None:
        command = parse("RCPT TO:<a@b.example> NOTIFY=SUCCESS,delay ORCPT=rfc822;a+2Bx@b.example")
        assert isinstance(command, RcptTo)
        assert command.notify == frozenset({DsnNotify.SUCCESS, DsnNotify.DELAY})
        assert command.orcpt == ("rfc822", "a+x@b.example")
        never = parse("RCPT TO:<a@b.example> NOTIFY=NEVER")
        assert isinstance(never, RcptTo) and never.notify == frozenset({DsnNotify.NEVER})

    @pytest.mark.parametrize(
        "params",
        [
            "SIZE=", "SIZE=abc", "SIZE", "SIZE=1 SIZE=2", "BODY=9BIT", "SMTPUTF8=yes",
            "RET=ALL", "ENVID=a=b", "ENVID=+zz", "ENVID=" + "x" * 101, "AUTH=bad+", "-X=1",
            "X\u00e9=1",
        ],
    )
    def test_bad_mail_parameters(self, params: str) -> None:
        with pytest.raises(ArgumentError):
            parse(f"MAIL FROM:<a@b.example> {params}")

    @pytest.mark.parametrize(
        "params",
        ["NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=", "ORCPT=rfc822",
         "ORCPT=;a@b", "ORCPT=rfc822;"],
    )
    def test_bad_rcpt_parameters(self, params: str) -> None:
        with pytest.raises(ArgumentError):
            parse(f"RCPT TO:<a@b.example> {params}")

    @pytest.mark.parametrize(
        "line",
        [
            "MAIL FROM:<a@b.example> REQUIRETLS",
            "MAIL FROM:<a@b.example> NOTIFY=NEVER",
            "RCPT TO:<a@b.example> SIZE=10",
            "RCPT TO:<a@b.example> X-UNKNOWN=1",
        ],
    )
    def test_unknown_parameters(self, line: str) -> None:
        with pytest.raises(UnknownParameter):
            parse(line)


class TestXtext:
    def test_round_trip(self) -> None:
        for text in ["plain", "a+b=c", "with space", "ünï", "<>", ""]:
            assert xtext_decode(xtext_encode(text)) == text
        assert xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d"

    @pytest.mark.parametrize("bad", ["+", "+4", "+GG", "a=b", "a b", "+FF"])
    def test_invalid(self, bad: str) -> None:
        with pytest.raises(ValueError):
            xtext_decode(bad)


class TestRendering:
    @pytest.mark.parametrize(
        "command",
        [
            Helo("a.example"), Ehlo("b.example"), Data(), Rset(), Quit(), StartTls(), Noop(),
            Noop("x y"), Help(), Vrfy("u"), Expn("list"), Bdat(10), Bdat(0, last=True),
            Auth("LOGIN"), Auth("PLAIN", b""), Auth("PLAIN", b"\0u\0p"),
            MailFrom(""), MailFrom("a@b.example", {"SIZE": "10", "SMTPUTF8": None}),
            MailFrom('"a b"@[IPv6:::1]', {"BODY": "BINARYMIME"}),
            RcptTo("Postmaster"), RcptTo("c@d.example", {"NOTIFY": "NEVER"}),
        ],
    )
    def test_round_trip(self, command: Command) -> None:
        line = command.to_bytes()
        assert line.endswith(b"\r\n")
        assert parse_command(line[:-2]) == command


class TestSaslResponses:
    def test_lines(self) -> None:
        assert parse_sasl_response(b"*") is None
        assert parse_sasl_response(b"") == b""
        assert parse_sasl_response(b"=") == b""
        assert parse_sasl_response(b"dXNlcg==") == b"user"
        with pytest.raises(Base64Error):
            parse_sasl_response(b"not base64!")
        with pytest.raises(Base64Error):
            parse_sasl_response(b"\xff\xfe")
