"""Every fleet alert links the README entry that says what to do about it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
RULE_FILES = (
    ROOT / "config" / "prometheus" / "sesd.rules.yml",
    ROOT / "config" / "kubernetes" / "prometheusrule.yaml",
    ROOT / "config" / "kubernetes-fleet" / "prometheusrule.yaml",
)
# Where the shipped rules link; README says how a team points it at its own copy.
BASE = "https://github.com/example/sesd/blob/main/README.md"


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings: the text lower-cased, what is not
    a letter, digit, space, hyphen or underscore dropped, spaces made hyphens, and a
    repeated one numbered. Lines in fenced code (a TOML comment) are not headings."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        heading = re.match(r"#{1,6} +(.*?)[ #]*$", line)
        if fenced or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def alerting_rules(path: Path) -> list[dict[str, Any]]:
    """The alerting rules of a rules file or of a PrometheusRule (its spec holds the groups)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups = document.get("spec", document)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_heading_anchors_are_githubs() -> None:
    """Headings with punctuation and code, as GitHub links them; a `#` comment in a fenced
    block is not a heading, and a repeated heading gets a number."""
    text = (
        "# sesd\n## Fleet mode: several replicas\n## Provisioning: `sesd setup`\n"
        "```toml\n# rule  fired\n```\n### SesdNoEvents\n### Notes\n### Notes\n"
    )
    assert heading_anchors(text) == {
        "sesd",
        "fleet-mode-several-replicas",
        "provisioning-sesd-setup",
        "sesdnoevents",
        "notes",
        "notes-1",
    }


def test_every_fleet_alert_links_its_readme_entry() -> None:
    """Paged at night by a fleet alert, the on-call engineer follows its runbook_url
    (Alertmanager's templates and PagerDuty show it). Every alert of the rules file and
    of the PrometheusRule has one: the documented base, which README tells how to
    change, then the anchor of a README heading named for the alert. An alert added
    without its entry, or a heading renamed, fails here rather than link nowhere."""
    readme = README.read_text(encoding="utf-8")
    assert f"`{BASE}`" in readme
    anchors = heading_anchors(readme)
    for path in RULE_FILES:
        rules = alerting_rules(path)
        assert len(rules) > 20, path
        for rule in rules:
            url = rule.get("annotations", {}).get("runbook_url")
            assert url == f"{BASE}#{rule['alert'].lower()}", (path.name, rule["alert"], url)
            assert url.partition("#")[2] in anchors, (path.name, rule["alert"])


def test_every_fleet_alert_says_what_happened_and_what_to_do() -> None:
    """Alertmanager's templates show a `summary` and a `description`, and PagerDuty
    takes what to do from the description: an alert with none pages with a title only.
    Each alert of the rules file and of the PrometheusRule has both."""
    for path in RULE_FILES:
        for rule in alerting_rules(path):
            annotations = rule.get("annotations", {})
            assert annotations.get("summary"), (path.name, rule["alert"])
            description = annotations.get("description", "")
            assert len(description) > 80, (path.name, rule["alert"])
