"""HTML mail → markup that cannot run code, fetch anything unasked, or escape its frame.

How this works: nh3 (the ammonia sanitizer) parses the HTML with a browser-grade HTML5 parser and
re-serialises only an allow-list: formatting and table tags, a few presentational attributes,
``style`` attributes restricted to harmless properties, links and images. Everything else —
script, style and title elements with their content, event handlers, forms, meta, base, link,
object/embed, iframes, SVG and MathML (with their content: classic mutation-XSS vehicles) — is
dropped, and so are comments and relative URLs (which would point at this server).

``attribute_filter`` then decides per attribute:

- links keep only http, https and mailto URLs and open in a new tab without a referrer;
- an image keeps a ``data:`` URL of a raster type, or a ``cid:`` URL that the caller maps to a
  ``data:`` URL of the message's own inline part; a remote (http/https) image is replaced by a
  placeholder unless the user asked to see images, and ``blocked`` counts the replacements;
- a ``style`` value that mentions url(), expression(), image-set(), @import, escapes or var()
  is dropped whole (what remains could not fetch anything anyway).

This is the first layer. The sanitized document is served by its own URL with a
``Content-Security-Policy: sandbox`` header and shown in an ``<iframe sandbox>`` without
``allow-scripts`` or ``allow-same-origin``, so even a sanitizer bug cannot run script or reach
the session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

import nh3

__all__ = ["BLOCKED_IMAGE", "SanitizedHtml", "sanitize_html"]

_TAGS = {
    "a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote", "br",
    "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p",
    "pre", "q", "s", "samp", "section", "small", "span", "strike", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var",
    "wbr",
}
# Removed with everything inside them. Every tag here is absent from _TAGS (nh3 requires it).
_DROP_WITH_CONTENT = {
    "script", "style", "title", "noscript", "template", "iframe", "frame", "frameset",
    "object", "embed", "applet", "svg", "math", "xmp", "noembed", "noframes", "plaintext",
    "textarea", "select", "option", "button", "head", "audio", "video",
}
_COMMON = {"align", "dir", "lang", "title", "style", "valign", "bgcolor", "width", "height"}
_ATTRIBUTES: dict[str, set[str]] = {
    "*": _COMMON,
    "a": {"href", "name"},
    "img": {"src", "alt", "border", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "summary", "frame", "rules"},
    "td": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "th": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "hr": {"size", "noshade"},
    "details": {"open"},
}
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "font-variant", "line-height", "letter-spacing", "word-spacing",
    "text-align", "text-decoration", "text-indent", "text-transform", "vertical-align",
    "white-space", "word-break", "word-wrap", "overflow-wrap", "direction",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-radius", "border-collapse", "border-spacing",
    "width", "height", "max-width", "min-width", "max-height", "min-height",
    "display", "float", "clear", "list-style-type", "table-layout", "caption-side",
    "empty-cells",
}
_URL_SCHEMES = {"http", "https", "mailto", "cid", "data"}
_LINK_SCHEMES = ("http:", "https:", "mailto:")
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*\Z",
                         re.IGNORECASE)
_DANGEROUS_STYLE = re.compile(r"url\s*\(|expression|image-set|@import|\\|var\s*\(|behavior|"
                              r"binding|javascript:", re.IGNORECASE)
_REMOTE = ("http:", "https:")

# A grey band with a picture icon, shown where a remote image was blocked (4:1, so an image
# declared 600 wide takes 150 pixels of height, not 600).
BLOCKED_IMAGE = (
    "data:image/svg+xml;base64,"
    "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSIxNjAiIGhlaWdodD0iNDAi"
    "IHZpZXdCb3g9IjAgMCAxNjAgNDAiPjxyZWN0IHdpZHRoPSIxNjAiIGhlaWdodD0iNDAiIGZpbGw9IiNlZWYx"
    "ZjUiLz48ZyB0cmFuc2Zvcm09InRyYW5zbGF0ZSg2OCA4KSIgZmlsbD0ibm9uZSIgc3Ryb2tlPSIjOTRhM2I4"
    "IiBzdHJva2Utd2lkdGg9IjIiIHN0cm9rZS1saW5lam9pbj0icm91bmQiPjxyZWN0IHg9IjEiIHk9IjEiIHdp"
    "ZHRoPSIyMiIgaGVpZ2h0PSIyMiIgcng9IjMiLz48cGF0aCBkPSJNMSAxOGw2LTYgNSA1IDMtMyA4IDgiLz48"
    "L2c+PC9zdmc+"
)


@dataclass(frozen=True, slots=True)
class SanitizedHtml:
    html: str
    blocked_images: int  # remote images replaced by the placeholder


def sanitize_html(markup: str, *, allow_remote_images: bool = False,
                  inline_images: Mapping[str, str] | None = None) -> SanitizedHtml:
    """``inline_images`` maps Content-IDs (without brackets) to data: URLs."""
    inline = {key.lower(): value for key, value in (inline_images or {}).items()}
    blocked = 0

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if attribute == "style":
            return None if _DANGEROUS_STYLE.search(value) else value
        if tag == "a" and attribute == "href":
            return value if value.strip().lower().startswith(_LINK_SCHEMES) else None
        if tag == "img" and attribute == "src":
            url = value.strip()
            lowered = url.lower()
            if lowered.startswith("cid:"):
                return inline.get(_cid(url[4:]))
            if lowered.startswith("data:"):
                return url if _DATA_IMAGE.match(url) or url == BLOCKED_IMAGE else None
            if lowered.startswith(_REMOTE):
                if allow_remote_images:
                    return url
                blocked += 1
                return BLOCKED_IMAGE
            return None
        if attribute in ("cite",):
            return value if value.strip().lower().startswith(_REMOTE) else None
        return value

    cleaned = nh3.clean(
        markup,
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=_URL_SCHEMES,
        filter_style_properties=_STYLE_PROPERTIES,
        url_relative="deny",
    )
    return SanitizedHtml(cleaned, blocked)


def _cid(value: str) -> str:
    """``cid:`` URLs are URL-encoded Content-IDs (RFC 2392)."""
    return unquote(value).strip().strip("<>").lower()
