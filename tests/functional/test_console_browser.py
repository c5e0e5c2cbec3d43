"""The console in a real browser: Debian's headless Chromium driven by Selenium against a
live gunicorn with the demo's data (`pamgate demo`), as a cashier at the counter would use
it. A screenshot of every page lands in the test's temporary directory (`screens/`).

Skipped where Chromium or ChromeDriver is missing, except under CI (`.ci/run` installs
them), where a missing browser is a failure."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import live

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
HAVE_BROWSER = os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)
if not HAVE_BROWSER and os.environ.get("CI") == "true":
    pytest.fail("CI needs chromium and chromium-driver (.ci/run installs them)", pytrace=False)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_BROWSER, reason="needs Debian's chromium and chromium-driver"),
]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,768",
)


class Demo:
    def __init__(self, text: str) -> None:
        self.logins = {
            m.group(1): m.group(2)
            for m in re.finditer(
                r"^#\s+(demo-[\w-]+)\s+(\S+)\s+(?:ADMIN|VENTANA|VENDEDOR)", text, re.M
            )
        }
        found = re.search(r"# winning ticket ([0-9a-f-]{36}) \(receipt (\S*)\)", text)
        assert found, text
        self.winner, self.code = found.group(1), found.group(2)
        window = re.search(r"statements\?ventanaId=([0-9a-f-]{36})", text)
        assert window, text
        self.ventana = window.group(1)


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Demo, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("console-live")
    port = live.free_port()
    with live.database_url(tmp, "console") as url:
        env = live.server_env(url, live.DEMO_PARTNERS, port)
        live.pamgate(env, "migrate")
        demo = Demo(live.pamgate(env, "demo", "--base-url", f"http://127.0.0.1:{port}").stdout)
        with live.serve(env, tmp / "serve.log") as srv:
            yield srv.base, demo, env


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(10)  # elements of a page still loading on a busy machine
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    def __init__(self, driver: Any, folder: Path) -> None:
        self.driver, self.folder, self.n = driver, folder, 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        self.n += 1
        self.driver.save_screenshot(str(self.folder / f"{self.n:02d}-{name}.png"))


def by(testid: str) -> tuple[str, str]:
    return ("css selector", f'[data-testid="{testid}"]')


def login(driver: Any, base: str, username: str, password: str) -> None:
    driver.get(f"{base}/console")
    driver.find_element("name", "username").send_keys(username)
    driver.find_element("name", "password").send_keys(password)
    driver.find_element(*by("login")).click()
    driver.find_element(*by("logout"))  # signed in


def logout(driver: Any) -> None:
    driver.find_element(*by("logout")).click()
    driver.find_element(*by("login"))


def statement_row(driver: Any, base: str, ventana: str) -> list[str]:
    driver.get(f"{base}/console/statements?ventanaId={ventana}")
    rows = driver.find_elements("css selector", '[data-testid="statement"] tbody tr')
    assert rows, driver.page_source
    return [cell.text for cell in rows[-1].find_elements("css selector", "td")]


def pay(driver: Any, amount: str, *, final: bool = False, notes: str = "") -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    field = driver.find_element("name", "amount")
    field.clear()
    field.send_keys(amount)
    if final:
        driver.find_element("name", "isFinal").click()
    if notes:
        driver.find_element("name", "notes").send_keys(notes)
    driver.execute_script("window.pamgateBeforePay = true")  # gone once a new page loads
    driver.find_element(*by("pay")).click()
    # the click may return before the form's navigation: wait for the new page, then its
    # flash. Mid-navigation the driver may fail a call in several ways (a stale element,
    # "node does not belong to the document", no execution context): keep asking.
    WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.pamgateBeforePay === undefined")
    )
    driver.find_element(*by("flash"))


def test_a_cashier_pays_the_demo_winner_in_the_browser(counter, browser, tmp_path):
    base, demo, _ = counter
    shot = Shots(browser, tmp_path / "screens")
    browser.get(f"{base}/console")
    shot("login")
    login(browser, base, "demo-cajero", demo.logins["demo-cajero"])
    shot("search")
    before = statement_row(browser, base, demo.ventana)

    browser.get(f"{base}/console")
    box = browser.find_element("name", "q")
    box.send_keys(demo.code or demo.winner)
    box.submit()
    status = browser.find_element(*by("ticket-status"))
    assert status.get_attribute("data-status") == "EVALUATED"
    assert browser.find_element(*by("ticket-remaining")).get_attribute("data-amount") == "50000.00"
    shot("ticket")

    note = '<script>document.title="owned"</script>'
    pay(browser, "20000", notes=note)
    assert "20,000.00" in browser.find_element(*by("flash")).text
    assert browser.title != "owned"
    assert note in browser.find_element("css selector", "td.notes").text  # shown as text
    shot("paid-part")

    # the pay form sent twice (the same render, hence the same key): one payment
    sent = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const form = document.querySelector('form.pay');
        form.querySelector('[name=amount]').value = '100';
        const body = new URLSearchParams(new FormData(form));
        const send = () => fetch(form.action, {method: 'POST', body, redirect: 'manual'});
        Promise.all([send(), send()]).then(r => done(r.map(x => x.type)), e => done(String(e)));
        """
    )
    assert len(sent) == 2
    browser.refresh()
    rows = browser.find_elements(*by("payment-row"))
    assert len(rows) == 2, [r.text for r in rows]

    # CSRF missing: refused, nothing paid
    refused = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const form = document.querySelector('form.pay');
        const body = new URLSearchParams(new FormData(form));
        body.delete('csrf');
        body.set('amount', '1');
        fetch(form.action, {method: 'POST', body}).then(r => done(r.status), e => done(String(e)));
        """
    )
    assert refused == 403
    browser.refresh()
    assert len(browser.find_elements(*by("payment-row"))) == 2

    pay(browser, "29900", final=True)
    assert browser.find_element(*by("ticket-status")).get_attribute("data-status") == "PAID"
    shot("paid")

    after = statement_row(browser, base, demo.ventana)
    assert after != before, (before, after)
    assert browser.find_element("css selector", '[data-testid="statement-chart"] svg')
    shot("statement")

    # logout, then the old cookie again: back to the login page
    old = browser.get_cookie("accessToken")
    assert old and old["httpOnly"] and old.get("sameSite") == "Strict"
    logout(browser)
    shot("logged-out")
    browser.add_cookie({k: old[k] for k in ("name", "value", "path", "httpOnly", "sameSite")})
    browser.get(f"{base}/console/tickets/{demo.winner}")
    browser.find_element(*by("login"))
    assert "/console" in browser.current_url and "tickets" not in browser.current_url


def test_a_seller_of_another_window_is_refused_and_admin_pages_render(counter, browser, tmp_path):
    base, demo, env = counter
    shot = Shots(browser, tmp_path / "screens")
    admin = requests.post(
        f"{base}/api/v1/auth/login",
        json={"username": "demo-admin", "password": demo.logins["demo-admin"]},
        timeout=10,
    ).json()["data"]["accessToken"]
    auth = {"Authorization": f"Bearer {admin}"}
    windows = requests.get(f"{base}/api/v1/ventanas", headers=auth, timeout=10).json()["data"]
    other = next(w["id"] for w in windows if w["id"] != demo.ventana)
    seller = requests.post(
        f"{base}/api/v1/vendedores",
        json={"ventanaId": other, "name": "Otro vendedor", "commissionBps": 0},
        headers=auth,
        timeout=10,
    ).json()["data"]["id"]
    subprocess.run(
        [
            *live.PAMGATE,
            "users",
            "add",
            "otro-vendedor",
            "--role",
            "VENDEDOR",
            "--vendedor",
            seller,
            "--password-stdin",
        ],
        input="otro-vendedor-clave\n",
        env=env,
        cwd=live.ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    login(browser, base, "otro-vendedor", "otro-vendedor-clave")
    browser.get(f"{base}/console/tickets/{demo.winner}")
    error = browser.find_element(*by("error"))
    assert error.get_attribute("data-code") == "FORBIDDEN"
    shot("refused")
    browser.find_element("link text", "Volver a la búsqueda").click()
    logout(browser)

    login(browser, base, "demo-admin", demo.logins["demo-admin"])
    for page in ("approvals", "outbox", "health"):
        browser.get(f"{base}/console/{page}?lang=en")
        browser.find_element("css selector", "main h1")
        shot(page)
    assert browser.find_element(*by("reconcile")).get_attribute("data-ok") == "true"
    assert browser.find_element(*by("audit")).get_attribute("data-ok") == "true"
    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{base}/console/statements?ventanaId={demo.ventana}")
    shot("statement-phone")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400, width
