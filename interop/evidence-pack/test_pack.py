"""The evidence pack's index.html in headless Chromium: no console error, no network request,
every section shown. Usage: test_pack.py PACK_DIR CHROMIUM; prints `N passed, N failed`."""
import pathlib
import sys

from playwright.sync_api import sync_playwright

pack, chromium = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2]
SECTIONS = ["risk-management", "threat-model", "risk-assessment", "bom", "testing", "metrics",
            "traceability", "support"]
VIEWS = ["global-system", "multi-patient-harm", "updatability", "security-use-cases"]
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what} {detail}")


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"])
    page = browser.new_page()
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((pack / "index.html").as_uri())
    page.wait_for_load_state("load")
    check("no console error or warning", not problems, problems)
    others = [u for u in requests if not u.startswith("file://")]
    check("no network request", not others, others)
    for s in SECTIONS:
        el = page.locator(f"section#{s}")
        check(f"section {s} shown", el.count() == 1 and el.is_visible())
    for v in VIEWS:
        check(f"view {v} drawn", page.locator(f"figure#{v} svg").count() == 1)
    rows = page.locator("section#threat-model table tr").count()
    check("the threat table has 20 rows", rows == 21, rows)
    browser.close()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
