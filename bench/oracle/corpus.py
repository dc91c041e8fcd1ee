"""The messages both servers get, APPENDed in this order with these flags and dates.

Each exercises a part of ENVELOPE/BODYSTRUCTURE/SEARCH that servers tend to get differently.
"""

from __future__ import annotations

__all__ = ["MESSAGES"]


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


PLAIN = _crlf("""\
From: Alice Example <alice@example.org>
To: Bob <bob@example.net>, carol@example.net
Cc: "Dave, Jr." <dave@example.net>
Subject: Plain hello
Date: Mon, 7 Feb 1994 21:52:25 -0800
Message-ID: <plain-1@example.org>

Hello Bob,
this is a plain message.
""")

ALTERNATIVE_MIXED = _crlf("""\
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>
To: undisclosed-recipients:;
Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?B?TcO8bmNoZW4=?=
Date: Tue, 01 Oct 2024 08:00:00 +0200
Message-ID: <mixed-2@example.de>
In-Reply-To: <plain-1@example.org>
References: <plain-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble.
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe aus M=C3=BCnchen
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<p>Grüße aus München</p>
--inner--
--outer
Content-Type: application/pdf; name="doc.pdf"
Content-Disposition: attachment; filename="doc.pdf"
Content-Transfer-Encoding: base64
Content-Description: A document
Content-Language: de
Content-Location: http://example.de/doc.pdf

JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==
--outer--
This is the epilogue.
""")

RFC822_ATTACHMENT = _crlf("""\
From: forwarder@example.com
To: alice@example.org
Subject: Fwd: Plain hello
Date: Wed, 2 Oct 2024 10:11:12 +0000
Message-ID: <fwd-3@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b1

--b1
Content-Type: text/plain

See the attached message.

--b1
Content-Type: message/rfc822

From: Alice Example <alice@example.org>
To: Bob <bob@example.net>
Subject: Inner one
Date: Mon, 7 Feb 1994 21:52:25 -0800
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=b2

--b2
Content-Type: text/plain; charset=us-ascii

inner text
--b2
Content-Type: text/html

<b>inner</b>
--b2--

--b1--
""")

EIGHT_BIT_HEADERS = _crlf("""\
From: René <rene@example.fr>
To: Zoë <zoe@example.fr>
Subject: Café crème, naïve résumé
Date: Thu, 3 Oct 2024 23:59:59 -1130
Message-ID: <8bit-4@example.fr>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Voilà, du texte en UTF-8 : ça marche.
""")

MISSING_HEADERS = _crlf("""\
X-Only: this message has no From, To, Subject, Date or Message-ID

Body without the usual headers.
""")

ODD_DATE = _crlf("""\
From: odd@example.com
To: alice@example.org
Subject: odd date
Date: 4 Oct 24 7:05 EDT
Message-ID: <odd-6@example.com>

Odd date format.
""")

LONG_LINES = _crlf(
    "From: long@example.com\n"
    "To: alice@example.org\n"
    "Subject: " + "very long subject " * 20 + "\n"
    "Date: Sat, 5 Oct 2024 12:00:00 +0000\n"
    "Message-ID: <long-7@example.com>\n"
    "X-Folded: first line\n\tsecond line\n    third line\n"
    "\n" + "x" * 1200 + "\n" + ("word " * 300).strip() + "\n")

NESTED = _crlf("""\
From: nest@example.com
To: alice@example.org
Subject: nested
Date: Sun, 6 Oct 2024 01:02:03 +0100
Message-ID: <nested-8@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="L1"

--L1
Content-Type: multipart/related; boundary="L2"; type="text/html"

--L2
Content-Type: multipart/alternative; boundary="L3"

--L3
Content-Type: text/plain; charset="us-ascii"; format=flowed

deep text
--L3
Content-Type: text/html; charset=us-ascii

<img src="cid:img1">
--L3--
--L2
Content-Type: image/png
Content-ID: <img1>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--L2--
--L1
Content-Type: text/plain; name*=utf-8''%E2%82%AC.txt
Content-Disposition: inline; filename*=utf-8''%E2%82%AC.txt

euro
--L1--
""")

EMPTY_BODY = _crlf("""\
From: empty@example.com
To: alice@example.org
Subject: empty
Date: Mon, 7 Oct 2024 09:00:00 +0000
Message-ID: <empty-9@example.com>

""")

EMPTY_MULTIPART = _crlf("""\
From: emptymp@example.com
To: alice@example.org
Subject: empty parts
Date: Mon, 7 Oct 2024 09:30:00 +0000
Message-ID: <emptymp-10@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=E

--E
Content-Type: text/plain

--E
--E--
""")

GROUPS_AND_SENDER = _crlf("""\
From: a@example.com, b@example.com
Sender: secretary@example.com
Reply-To: list@example.com
To: Friends: f1@example.com, "F Two" <f2@example.com>;, solo@example.com
Bcc: hidden@example.com
Subject: Re: [list] Fwd: groups
Date: Tue, 8 Oct 2024 10:00:00 +0000
Message-ID: <groups-11@example.com>
References: <plain-1@example.org> <mixed-2@example.de>
In-Reply-To: <mixed-2@example.de>

groups
""")

BINARY_PART = _crlf("""\
From: bin@example.com
To: alice@example.org
Subject: binary parts
Date: Wed, 9 Oct 2024 10:00:00 +0000
Message-ID: <binary-12@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=X

--X
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9 =3D soft=
break
--X
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAwQFBgcICQ==
--X
Content-Type: text/plain
Content-Transfer-Encoding: x-unknown

unknown encoding
--X--
""")

# (message, flags, INTERNALDATE)
MESSAGES: list[tuple[bytes, str, str]] = [
    (PLAIN, "(\\Seen)", "07-Feb-1994 21:52:25 -0800"),
    (ALTERNATIVE_MIXED, "(\\Flagged $Important)", "01-Oct-2024 08:00:00 +0200"),
    (RFC822_ATTACHMENT, "()", "02-Oct-2024 10:11:12 +0000"),
    (EIGHT_BIT_HEADERS, "(\\Answered \\Seen)", "03-Oct-2024 23:59:59 -1130"),
    (MISSING_HEADERS, "()", " 4-Oct-2024 01:00:00 +0000"),
    (ODD_DATE, "(\\Draft)", "04-Oct-2024 11:05:00 +0000"),
    (LONG_LINES, "(\\Seen)", "05-Oct-2024 12:00:00 +0000"),
    (NESTED, "()", "06-Oct-2024 00:02:03 +0000"),
    (EMPTY_BODY, "(\\Deleted)", "07-Oct-2024 09:00:00 +0000"),
    (EMPTY_MULTIPART, "()", "07-Oct-2024 09:30:00 +0000"),
    (GROUPS_AND_SENDER, "(\\Seen work)", "08-Oct-2024 10:00:00 +0000"),
    (BINARY_PART, "()", "09-Oct-2024 10:00:00 +0000"),
]
