"""Drive the Dagster UI's global asset lineage page (`/asset-groups`) in Playwright.

The page opens with every asset group collapsed to one box, so asset names are not in the DOM yet:
"Expand all groups" (the graph's ⌥E shortcut, also in its context menu) expands them and the choice
is kept in localStorage; a reload then lays out the expanded graph. (The "Join the Dagster community"
dialog is turned off in the test instance's dagster.yaml, see webserver.py.)
"""

from __future__ import annotations

import re
from typing import Any

GRAPH_PATH = "/asset-groups"
TIMEOUT_MS = 60_000
MAX_ZOOM_OUT_CLICKS = 10


def open_expanded_asset_graph(page: Any, base_url: str, expect: list[str]) -> None:
    """Load the global asset graph with all groups expanded; wait until every name in ``expect`` shows."""
    page.goto(base_url + GRAPH_PATH, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    page.get_by_text("Global asset lineage").wait_for(timeout=TIMEOUT_MS)
    page.locator("button:has([aria-label='asset_group'])").first.wait_for(timeout=TIMEOUT_MS)
    page.keyboard.press("Alt+e")  # "Expand all groups"
    page.get_by_text(expect[0], exact=True).first.wait_for(state="attached", timeout=TIMEOUT_MS)
    page.reload(wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    for name in expect:
        page.get_by_text(name, exact=True).first.wait_for(state="visible", timeout=TIMEOUT_MS)


def wait_statuses_loaded(page: Any) -> None:
    """Wait until no node shows "Loading…" (its partition/materialization status has arrived)."""
    page.get_by_text(re.compile(r"^Loading")).first.wait_for(state="hidden", timeout=TIMEOUT_MS)


# Names whose node title is not actually on screen: the first element whose text is exactly the
# name must be the topmost element at both ends of its text (toolbars overlay the graph's top edge).
_OUT_OF_VIEW_JS = """
(names) => names.filter((name) => {
  const el = Array.from(document.querySelectorAll('body *')).find(
    (e) => e.childElementCount === 0 && e.textContent.trim() === name);
  if (!el) return true;
  const r = el.getBoundingClientRect();
  const y = r.top + r.height / 2;
  return [r.left + 1, r.right - 1].some((x) => {
    const hit = document.elementFromPoint(x, y);
    return !hit || !(hit === el || el.contains(hit));
  });
})
"""


def out_of_view(page: Any, names: list[str]) -> list[str]:
    """The asset names whose graph node is missing or clipped by the graph viewport."""
    return page.evaluate(_OUT_OF_VIEW_JS, names)


def zoom_out_until_visible(page: Any, names: list[str]) -> list[str]:
    """Click the graph's zoom-out button until every name is inside the viewport; return those still out."""
    zoom_out = page.locator("button:has([aria-label='zoom_out'])").first
    for _ in range(MAX_ZOOM_OUT_CLICKS):
        missing = out_of_view(page, names)
        if not missing:
            return []
        zoom_out.click()
        page.wait_for_timeout(300)  # the viewport animates the zoom
    return out_of_view(page, names)
