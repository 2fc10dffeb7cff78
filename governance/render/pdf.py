"""audit_report.pdf: the audit HTML laid out by WeasyPrint, with a URL fetcher that cannot leak.

WeasyPrint fetches every URL a document names (``file://``, relative paths, ``http://``), and
``<link rel="attachment">`` embeds whatever it fetched into the PDF. Our fetcher allows ``data:`` URIs and
files inside the template folders only; anything else is refused before any I/O, and each refusal is
reported as a :class:`RefusedURLWarning` (the CLI prints one stderr line per refusal).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import InputError

INSTALL_HINT = ("WeasyPrint is needed for audit_report.pdf: pip install weasyprint "
                "(and the Pango/HarfBuzz libraries: scripts/system-deps.sh)")


class RefusedURLWarning(UserWarning):
    """A document asked for a URL outside ``data:`` and the template folders; nothing was fetched."""


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
        raise InputError(None, None, f"{INSTALL_HINT} ({exc.__class__.__name__}: {exc})") from None
    return weasyprint


def _inside(path: Path, roots: list[Path]) -> bool:
    real = Path(os.path.realpath(path))
    return any(real == root or root in real.parents for root in roots)


def safe_fetcher(roots: list[Path]):
    """A WeasyPrint URL fetcher for ``data:`` URIs and files under ``roots`` (symlinks resolved); nothing else."""
    _weasyprint()
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    real_roots = [Path(os.path.realpath(r)) for r in roots]

    class SafeFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(timeout=1, allowed_protocols=("data", "file"), allow_redirects=False,
                             fail_on_errors=False)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            scheme = urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(unquote(urlsplit(url).path))
                if _inside(path, real_roots) and path.is_file():
                    return URLFetcherResponse(url, body=path.read_bytes(),
                                              headers={"Content-Type": _mime(path)})
            self.refused.append(url)
            warnings.warn(f"audit_report.pdf: refused to fetch {url} (only data: URIs and files in the "
                          f"template folders are allowed)", RefusedURLWarning, stacklevel=2)
            raise ValueError(f"refused to fetch {url}")

    return SafeFetcher()


_MIME = {".css": "text/css", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".svg": "image/svg+xml", ".gif": "image/gif", ".woff": "font/woff", ".woff2": "font/woff2",
         ".ttf": "font/ttf", ".otf": "font/otf"}


def _mime(path: Path) -> str:
    return _MIME.get(path.suffix.lower(), "application/octet-stream")


def html_to_pdf(html: str, roots: list[Path]) -> bytes:
    """Lay out ``html`` as a PDF; relative URLs resolve against the first template folder."""
    weasyprint = _weasyprint()
    fetcher = safe_fetcher(roots)
    base_url = roots[0].resolve().as_uri() + "/"
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return document.write_pdf()
