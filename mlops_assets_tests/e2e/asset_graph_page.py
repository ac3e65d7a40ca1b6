"""Drive the Dagster UI's global asset lineage page (`/asset-groups`) in Playwright.

The page opens with every asset group collapsed to one box, so asset names are not in the DOM yet:
"Expand all groups" (the graph's ⌥E shortcut, also in its context menu) expands them and the choice
is kept in the URL/localStorage; a reload then lays out the expanded graph. Only nodes inside the
viewport are rendered, and a zoomed-out graph middle-truncates long names ("parsed_doc…_events"),
so "every asset is shown" means: zoom out until each name's node title is on screen, whole or
truncated. (The "Join the Dagster community" dialog is turned off in the test instance's
dagster.yaml, see webserver.py.)
"""

from __future__ import annotations

import re
from typing import Any

GRAPH_PATH = "/asset-groups"
TIMEOUT_MS = 60_000
MAX_ZOOM_OUT_CLICKS = 6
SETTLE_MS = 3_000  # how long one zoom level may take to render its nodes

# Names whose node title is not on screen. A title matches its name exactly, or as the graph's
# middle truncation "<head>…<tail>"; it must be the topmost element at both ends of its text
# (toolbars overlay the graph's top edge) to count as shown.
_OUT_OF_VIEW_JS = """
(names) => {
  const leaves = Array.from(document.querySelectorAll('body *')).filter((e) => e.childElementCount === 0);
  const shows = (text, name) => {
    if (text === name) return true;
    const parts = text.split('\\u2026');
    return parts.length === 2 && parts[0].length + parts[1].length >= 6
      && name.startsWith(parts[0]) && name.endsWith(parts[1]);
  };
  const onScreen = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const y = r.top + r.height / 2;
    return [r.left + 1, r.right - 1].every((x) => {
      const hit = document.elementFromPoint(x, y);
      return hit !== null && (hit === el || el.contains(hit));
    });
  };
  return names.filter((name) => !leaves.some((el) => shows(el.textContent.trim(), name) && onScreen(el)));
}
"""


def open_expanded_asset_graph(page: Any, base_url: str, names: list[str]) -> None:
    """Load the global asset graph with all groups expanded; wait until some asset of ``names`` renders."""
    page.goto(base_url + GRAPH_PATH, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    page.get_by_text("Global asset lineage").wait_for(timeout=TIMEOUT_MS)
    page.locator("button:has([aria-label='asset_group'])").first.wait_for(timeout=TIMEOUT_MS)
    page.keyboard.press("Alt+e")  # "Expand all groups"
    page.wait_for_function("() => location.search.includes('expanded=')", timeout=TIMEOUT_MS)
    page.reload(wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "(names) => Array.from(document.querySelectorAll('body *')).some("
        "(e) => e.childElementCount === 0 && names.includes(e.textContent.trim()))",
        arg=names,
        timeout=TIMEOUT_MS,
    )


def wait_statuses_loaded(page: Any) -> None:
    """Wait until no rendered node shows "Loading…" (its partition/materialization status has arrived)."""
    page.get_by_text(re.compile(r"^Loading")).first.wait_for(state="hidden", timeout=TIMEOUT_MS)


def out_of_view(page: Any, names: list[str]) -> list[str]:
    """The asset names whose graph node title is not on screen."""
    return page.evaluate(_OUT_OF_VIEW_JS, names)


def _settled_out_of_view(page: Any, names: list[str]) -> list[str]:
    missing = out_of_view(page, names)
    waited = 0
    while missing and waited < SETTLE_MS:
        page.wait_for_timeout(250)
        waited += 250
        missing = out_of_view(page, names)
    return missing


def zoom_out_until_visible(page: Any, names: list[str]) -> list[str]:
    """Click the graph's zoom-out button until every name is on screen; return those still missing."""
    zoom_out = page.locator("button:has([aria-label='zoom_out'])").first
    for _ in range(MAX_ZOOM_OUT_CLICKS):
        if not _settled_out_of_view(page, names):
            return []
        zoom_out.click()
    return _settled_out_of_view(page, names)
