"""The documentation a newcomer reads: the README stays short, and every link in the Markdown files
and every ``docs/api.md#…`` reference in the code leads to a file and a section that exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 200

# [text](target) and ![alt](target); a target never holds spaces in these files.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# A reference to a section of the API guide as the code writes it: docs/api.md#<section>.
API_REFERENCE = re.compile(r"docs/api\.md#([a-z0-9_-]+)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", pattern],  # noqa: S607 (git from PATH, as the developer runs it)
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def markdown_files() -> list[Path]:
    return [path for path in tracked("*.md") if path.exists()]


def github_slug(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.replace("`", "").replace("*", "")
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every fragment that opens a section of ``path`` on GitHub: headings outside code blocks
    (repeats numbered as GitHub numbers them) and explicit ``<a id="…">`` anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        found.update(EXPLICIT_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[str]:
    targets = []
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
            continue
        if not in_code:
            targets.extend(LINK.findall(line))
    return targets


def broken(path: Path, target: str) -> str | None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not checked offline
        return None
    file_part, _, fragment = target.partition("#")
    destination = (path.parent / file_part).resolve() if file_part else path
    if not destination.exists():
        return f"{target}: no such file"
    if fragment and destination.suffix == ".md" and fragment not in anchors(destination):
        return f"{target}: no section #{fragment} in {destination.name}"
    return None


def test_readme_fits_in_200_lines() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move details to docs/"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    problems = [problem for target in links(path) if (problem := broken(path, target))]
    assert not problems, "\n".join(problems)


def test_code_references_name_sections_of_the_api_guide() -> None:
    sections = anchors(ROOT / "docs" / "api.md")
    problems = [
        f"{path.relative_to(ROOT)}: docs/api.md#{anchor}"
        for path in tracked("*.py")
        if path.exists()
        for anchor in API_REFERENCE.findall(path.read_text(encoding="utf-8"))
        if anchor not in sections
    ]
    assert not problems, "no such section in docs/api.md:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        pytest.param("other.md", "other.md: no such file", id="missing-file"),
        pytest.param("guide.md#nowhere", "guide.md#nowhere: no section #nowhere in", id="missing-section"),
        pytest.param("#nowhere", "#nowhere: no section #nowhere in", id="missing-section-here"),
        pytest.param("guide.md#tokens-and-scopes", None, id="heading"),
        pytest.param("guide.md#stable", None, id="explicit-anchor"),
        pytest.param("guide.md#example-1", None, id="repeated-heading"),
        pytest.param("guide.md#not-a-heading", "guide.md#not-a-heading: no section", id="heading-in-code"),
    ],
)
def test_broken_links_are_reported(tmp_path: Path, target: str, problem: str | None) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(
        '## Tokens and `scopes`\n<a id="stable"></a>\n## Example\n## Example\n```sh\n# not a heading\n```\n',
        encoding="utf-8",
    )
    page = tmp_path / "page.md"
    page.write_text("x", encoding="utf-8")
    found = broken(page, target) if not target.startswith("#") else broken(guide, target)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem), found


def test_code_cites_no_numbered_sections_readers_cannot_open() -> None:
    """Numbered sections ("§" and a number) pointed at a document outside the repository; the code
    names docs/api.md sections instead. Sections of an RFC ("RFC 9110 §13.1.2") are public and stay."""
    numbered = re.compile(r"§\d")
    left = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked("*.py")
        if path.exists() and path != Path(__file__)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if numbered.search(re.sub(r"RFC \d+ §[\d.]+", "", line))
    ]
    assert not left, "point these at a docs/api.md section:\n" + "\n".join(left)
