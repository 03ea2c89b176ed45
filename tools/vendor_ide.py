"""Vendor GraphiQL's files into gateway/static/ide, each checked against the SRI hash the page
strawberry renders names it with: ``python -m tools.vendor_ide`` (needs ``npm`` and the package
registry; the gateway itself never fetches anything).

The files are taken from the packages ``npm pack`` downloads, so a run repeats the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

from gateway.graphql_view import IDE_CDN, IDE_FILES

ASSET = re.compile(
    r'(?:src|href)="' + re.escape(IDE_CDN) + r'([^"]+)"\s*integrity="sha384-([^"]+)"'
)


def sri(data: bytes) -> str:
    return base64.b64encode(hashlib.sha384(data).digest()).decode()


def package_of(path: str) -> tuple[str, str]:
    """``@scope/name@1.0.2/dist/x.js`` → (``@scope/name@1.0.2``, ``dist/x.js``)."""
    parts = path.split("/")
    head = 2 if parts[0].startswith("@") else 1
    return "/".join(parts[:head]), "/".join(parts[head:])


def main() -> int:
    assets = ASSET.findall(get_graphql_ide_html("graphiql"))
    with tempfile.TemporaryDirectory() as scratch:
        for path, expected in assets:
            package, inner = package_of(path)
            tarball = subprocess.run(
                ["npm", "pack", "--silent", package],
                cwd=scratch,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
            with tarfile.open(Path(scratch) / tarball) as archive:
                member = archive.extractfile(f"package/{inner}")
                assert member is not None, path
                data = member.read()
            if sri(data) != expected:
                print(f"{path}: the package's file is not the one the page names", file=sys.stderr)
                return 1
            target = IDE_FILES / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"{path}: {len(data):,} bytes, sha384 matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
