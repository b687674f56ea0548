"""Drives the collector's dashboard in headless Chromium (Debian's, not a downloaded one) with
an operator's client certificate. Usage: test_dashboard.py URL PKI_DIR CHROMIUM.
Prints `N passed, N failed`; exit 1 on any failure."""

import os
import sys

from playwright.sync_api import sync_playwright

url, pki, chromium = sys.argv[1], sys.argv[2], sys.argv[3]
shots = os.environ.get("DASHBOARD_SCREENSHOTS")  # a folder: keep screenshots there
passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what} {detail}")


def context(browser, who):
    # The demo CA is not in the browser's trust store; the connection is loopback only.
    return browser.new_context(
        ignore_https_errors=True,
        client_certificates=[{
            "origin": url,
            "certPath": f"{pki}/{who}.crt",
            "keyPath": f"{pki}/{who}.key",
        }],
    )


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True,
                                args=["--no-sandbox"])
    ops = context(browser, "client")  # CN demo-client: an operator
    page = ops.new_page()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)

    page.goto(url + "/")
    row = page.locator('table#fleet tr[data-device="bench-client"]')
    check("fleet row for bench-client", row.count() == 1)
    check("fleet row shows the model version", "2.1.0" in (row.inner_text() if row.count() else ""))
    link = row.locator('a[href="/devices/bench-client"]')
    check("fleet row links to the device page", link.count() == 1)
    alarm = page.locator('#alarms li[data-kind="extraction"][data-device="bench-client"]')
    check("extraction alarm in the feed", alarm.count() >= 1)
    check("alarm detail is escaped, not markup",
          alarm.count() >= 1 and "<b>ward-9</b>" in alarm.first.inner_text()
          and page.locator("#alarms b").count() == 0)
    plot = page.locator('svg[data-drift-feature="age"]')
    check("drift plot for feature age", plot.count() == 1)
    check("drift plot has a line over time",
          plot.count() == 1 and plot.locator("polyline").count() >= 1
          and len((plot.locator("polyline").first.get_attribute("points") or "").split()) >= 2)
    check("drift plot for feature heart_rate",
          page.locator('svg[data-drift-feature="heart_rate"]').count() == 1)

    if shots:
        page.screenshot(path=f"{shots}/fleet.png", full_page=True)
    link.click()
    page.wait_for_url(url + "/devices/bench-client")
    check("device page shows the checkpoint",
          page.locator("pre#checkpoint").inner_text().startswith("bench-client\n15\n"))
    buttons = page.locator("button[data-verify]")
    check("a verify button per entry", buttons.count() == 15, str(buttons.count()))
    for i in (0, 7, 10, 14):
        page.click(f'button[data-verify="{i}"]')
        result = page.locator(f'[data-verify-result="{i}"]')
        try:
            page.wait_for_selector(f'[data-verify-result="{i}"][data-status="ok"], '
                                   f'[data-verify-result="{i}"][data-status="failed"]',
                                   timeout=10_000)
        except Exception as e:  # noqa: BLE001 - reported as a failure
            problems.append(f"verify {i}: {e}")
        check(f"inclusion proof of entry {i} verified in the browser",
              result.get_attribute("data-status") == "ok", result.inner_text())

    if shots:
        page.screenshot(path=f"{shots}/device.png", full_page=True)
    # A checkpoint whose root was altered: the same proof no longer verifies.
    page.evaluate("""() => {
        const pre = document.getElementById('checkpoint');
        const lines = pre.textContent.split('\\n');
        lines[2] = (lines[2][0] === 'A' ? 'B' : 'A') + lines[2].slice(1);
        pre.textContent = lines.join('\\n');
    }""")
    page.click('button[data-verify="3"]')
    page.wait_for_selector('[data-verify-result="3"][data-status]:not([data-status=""])',
                           timeout=10_000)
    check("a tampered checkpoint root fails verification",
          page.locator('[data-verify-result="3"]').get_attribute("data-status") == "failed")

    check("no console error, page error or failed request", not problems, "; ".join(problems))

    # A device's certificate is refused the dashboard.
    dev = context(browser, "bench-client")
    resp = dev.new_page().goto(url + "/")
    check("device certificate gets 403 on the dashboard", resp is not None and resp.status == 403)
    dev.close()
    ops.close()
    browser.close()

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
