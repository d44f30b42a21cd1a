"""Licence detection and the allow-list check, in SPDX terms.

Sources of truth, in order: an explicit override, package metadata (License-Expression, License,
Trove classifiers), then the text of a LICENSE/COPYING file.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser

_CLASSIFIERS = {
    "MIT License": "MIT", "MIT No Attribution License (MIT-0)": "MIT-0",
    "BSD License": "BSD", "Apache Software License": "Apache-2.0", "ISC License (ISCL)": "ISC",
    "Python Software Foundation License": "PSF-2.0", "The Unlicense (Unlicense)": "Unlicense",
    "zlib/libpng License": "Zlib", "Zope Public License": "ZPL-2.1",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND", "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0", "GNU General Public License v3 (GPLv3)": "GPL-3.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0", "GNU Affero General Public License v3": "AGPL-3.0",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0", "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0",
    "GNU General Public License (GPL)": "GPL", "GNU Library or Lesser General Public License (LGPL)": "LGPL",
    "Public Domain": "CC0-1.0", "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}

# Free-text licence strings and LICENSE-file wording → SPDX. Order matters: the first match wins.
_PATTERNS = [
    (r"\bAGPL|Affero", "AGPL-3.0"),
    (r"\bLGPL|Lesser General Public|Library General Public", "LGPL"),
    (r"\bGPL|GNU General Public", "GPL"),
    (r"\bMPL|Mozilla Public", "MPL-2.0"),
    (r"Apache", "Apache-2.0"),
    (r"\bMIT-0\b|MIT No Attribution", "MIT-0"),
    (r"\bMIT\b|Permission is hereby granted, free of charge", "MIT"),
    (r"BSD[- ]?2|Simplified BSD|FreeBSD", "BSD-2-Clause"),
    (r"BSD[- ]?3|New BSD|Modified BSD|Neither the name of", "BSD-3-Clause"),
    (r"\bBSD\b|Redistribution and use in source and binary forms", "BSD"),
    (r"\bISC\b|Permission to use, copy, modify, and(/or)? distribute this software for any", "ISC"),
    (r"\bPSF\b|Python Software Foundation", "PSF-2.0"),
    (r"Unlicense|This is free and unencumbered software released into the public domain", "Unlicense"),
    (r"\bCC0\b|Public Domain", "CC0-1.0"),
    (r"\bzlib\b", "Zlib"),
    (r"\bZPL\b|Zope Public", "ZPL-2.1"),
    (r"\bHPND\b", "HPND"),
    (r"Boost Software", "BSL-1.0"),
    (r"Blue ?Oak", "BlueOak-1.0.0"),
    (r"\bWTFPL\b", "WTFPL"),
]

SPDX_IDS = {
    "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Apache-2.0", "ISC", "PSF-2.0", "Python-2.0",
    "Unlicense", "CC0-1.0", "Zlib", "HPND", "BSL-1.0", "ZPL-2.1", "WTFPL", "MPL-2.0", "UPL-1.0", "NCSA", "X11",
    "BlueOak-1.0.0",
}


def normalize(text: str | None) -> str:
    """One licence string (an SPDX id, an expression, a name or a licence text) → SPDX-like id(s)."""
    if not text or not text.strip() or text.strip().upper() in ("UNKNOWN", "NONE"):
        return "unknown"
    text = text.strip()
    # An SPDX expression: normalise each id and keep the operators.
    tokens = re.split(r"(\s+(?:OR|AND|WITH)\s+|[()])", text)
    if len(text) < 120 and all(t.strip() in SPDX_IDS or t.strip() in ("OR", "AND", "WITH", "(", ")", "")
                               for t in tokens):
        return " ".join(t.strip() for t in tokens if t.strip())
    for pattern, spdx in _PATTERNS:
        if re.search(pattern, text[:4000], re.IGNORECASE if len(text) < 120 else 0):
            return spdx
    return "unknown"


def from_metadata(meta: Message | str | None) -> str:
    """PKG-INFO / METADATA → SPDX id; 'unknown' when it says nothing usable."""
    if meta is None:
        return "unknown"
    if isinstance(meta, str):
        meta = HeaderParser().parsestr(meta)
    expr = meta.get("License-Expression")
    if expr:
        return normalize(expr)
    found = []
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            name = classifier.split("::")[-1].strip()
            found.append(_CLASSIFIERS.get(name) or normalize(name))
    found = [f for f in found if f != "unknown"]
    if found:
        return found[0] if len(set(found)) == 1 else " OR ".join(dict.fromkeys(found))
    return normalize(meta.get("License"))


def allowed(license_id: str, allow: list[str], allow_unknown: bool = False) -> bool:
    """True if the expression is satisfiable from the allow-list: OR needs one side, AND needs both."""
    if license_id == "unknown":
        return allow_unknown
    allow_set = set(allow)
    expr = license_id.replace("(", " ").replace(")", " ")
    # A WITH exception never narrows the permission; drop it.
    expr = re.sub(r"\s+WITH\s+\S+", "", expr)
    return any(all(term.strip() in allow_set for term in alt.split(" AND ")) for alt in expr.split(" OR "))
