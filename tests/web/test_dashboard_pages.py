"""Operator pages against a real server (422 field errors next to the form, a new user's token shown once, revoking
it only after a confirmation), the translation dictionaries, and every page in English and Japanese with no English
left in Japanese (job and event reasons included)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from server_proc import ServerProcess, wait_for
from webutil import english_left, login, make_user, nav, shot, submit

from gpucloud.web import STATIC_DIR

PLACEHOLDER = re.compile(r"\{(\w+)\}")
PAGES = ["map", "queue", "jobs", "job", "submit", "reservations", "usage", "tariffs", "programmes", "quotas", "orgs",
         "projects", "users", "tokens", "login"]
READY = {"map": "#cluster-map[data-cells]", "queue": "#queue table", "jobs": "#jobs table", "job": "#job-events table",
         "submit": "#price-preview[data-quote]", "reservations": "#reservations table", "usage": "#usage table",
         "tariffs": "#tariffs table", "programmes": "#programmes table", "quotas": "#standing-table",
         "orgs": "#orgs table", "projects": "#projects table", "users": "#users table", "tokens": "#tokens table"}


def _dict(lang: str) -> dict[str, str]:
    text = (STATIC_DIR / "i18n" / f"{lang}.js").read_text(encoding="utf-8")
    return dict(json.loads(text[text.index("{"):text.rindex("}") + 1]))


def test_dictionaries_have_the_same_keys_and_placeholders() -> None:
    en, ja = _dict("en"), _dict("ja")
    assert set(en) == set(ja), f"only in en: {set(en) - set(ja)}; only in ja: {set(ja) - set(en)}"
    for key in en:
        assert set(PLACEHOLDER.findall(en[key])) == set(PLACEHOLDER.findall(ja[key])), key
        assert en[key].strip() or key == "dur.sep", key
        if key != "dur.sep":
            assert ja[key].strip(), key
    # every key the code names exists: in t()/tMaybe()/tParts() calls, tn() (its .one and .other), and any string
    # in the code that has the form of a key of a namespace the dictionaries use (labels in tables, routes, ...)
    spaces = {k.split(".")[0] for k in en}
    used: set[str] = set()
    for js in Path(STATIC_DIR).glob("*.js"):  # i18n.js itself only defines t()
        if js.name == "i18n.js":
            continue
        text = js.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt(?:Maybe|Parts)?\(\s*'([\w.-]+)'""", text))
        used |= {f"{k}.{n}" for k in re.findall(r"""\btn\(\s*'([\w.-]+)'""", text) for n in ("one", "other")}
        used |= {k for k in re.findall(r"'([a-z][A-Za-z]*\.[A-Za-z][\w.-]*)'", text)
                 if k.split(".")[0] in spaces and not k.endswith(".js") and f"{k}.one" not in en}
    assert used - set(en) == set()


def test_operator_forms_show_field_errors_tokens_once_and_revoke(server: ServerProcess, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    page = new_page()
    login(page, server.url, server.token or "")

    # Orgs: an invalid name is a 422 shown next to the name field; a valid one appears in the list.
    nav(page, "orgs")
    page.fill("#org-name", "no spaces allowed")
    page.click("#org-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#org-form [data-error-for=name]')?.textContent.length > 0")
    assert page.locator("#org-form .field.invalid[data-field=name]").count() == 1
    page.fill("#org-name", f"riken-{tag}")
    page.fill("#org-weight", "0")
    page.click("#org-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#org-form [data-error-for=weight]')?.textContent.length > 0")
    page.fill("#org-weight", "2.5")
    page.select_option("#org-kind", "institute")
    page.click("#org-form button[type=submit]")
    page.locator(f"#orgs tr[data-org-row='riken-{tag}'][data-kind=institute]").wait_for()
    shot(page, "orgs-en", docs=True)

    # Quotas: a negative guarantee is refused next to its field; a valid one is listed.
    nav(page, "quotas")
    page.select_option("#quota-org", f"riken-{tag}")
    page.locator("#quotas tr.empty").wait_for()
    page.fill("#quota-guaranteed", "-1")
    page.click("#quota-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#quota-form [data-error-for=guaranteed]')?.textContent.length > 0")
    page.fill("#quota-guaranteed", "4")
    page.fill("#quota-borrow", "2")
    page.click("#quota-form button[type=submit]")
    page.locator("#quotas tr[data-quota-row='H100-80GB']").wait_for()
    shot(page, "quotas-en")

    # Users: creating one shows its token once; the token works.
    nav(page, "users")
    page.fill("#user-name", f"carol-{tag}")
    page.select_option("#user-org", f"riken-{tag}")
    page.click("#user-form button[type=submit]")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("gpc_")
    page.locator(f"#users tr[data-user-row='carol-{tag}']").wait_for()
    me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == f"carol-{tag}"
    shot(page, "users-create-en")

    # Tokens: listed without the secret; revoking asks first ("no" keeps it), then the API refuses it.
    nav(page, "tokens")
    row = page.locator("#tokens tr[data-token-row]", has_text=f"carol-{tag}")
    row.wait_for()
    assert token not in page.locator("#page").inner_text()
    row.locator("button[data-revoke]").click()
    row.locator("[data-confirm-text=revoke]", has_text=token[:12]).wait_for()
    row.locator("[data-confirm=no]").click()
    assert httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    row.locator("button[data-revoke]").click()
    row.locator("[data-confirm=yes]").click()
    page.locator("#tokens tr[data-token-row]", has_text=f"carol-{tag}").locator(".state-cancelled").wait_for()
    assert httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    shot(page, "tokens-en")


def test_every_page_in_english_and_japanese(server: ServerProcess, op: httpx.Client, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    token = make_user(op, f"dave-{tag}", f"nii-{tag}")
    done = submit(token, server.url, argv=["sh", "-c", "exit 3"], num_gpus=1, name="fails")
    job = submit(token, server.url, argv=["sh", "-c", "echo hello; exec sleep 60"], num_gpus=1, name="jp-test",
                 grace="1s")
    waiting = submit(token, server.url, argv=["true"], num_gpus=8, name="waits")
    wait_for("a job to fail", lambda: op.get(f"/api/v1/jobs/{done['id']}").json()["state"] == "failed", timeout=30)
    try:
        page = new_page()
        login(page, server.url, server.token or "")
        for lang in ("en", "ja"):
            page.click(f"button[data-lang={lang}]")
            for name in PAGES:
                if name == "login":
                    page.click("#logout")
                    page.locator("#login-form").wait_for()
                else:
                    page.goto(f"{server.url}/#/{'jobs/' + str(job['id']) if name == 'job' else name}")
                    page.locator(f"#page[data-page={name}]").wait_for()
                    page.locator(READY[name]).first.wait_for()
                    if name == "job":
                        page.wait_for_function("() => document.getElementById('job-log')?.textContent.length > 0")
                shot(page, f"{name}-{lang}", docs=name in ("queue", "jobs") and lang == "ja")
                if lang == "ja":
                    english = english_left(page)
                    assert not english, f"English left on the {name} page in Japanese: {english}"
                if name == "login":
                    login(page, server.url, server.token or "")
        # reasons written by the server in Japanese: a failed job's events and its exit reason
        page.goto(f"{server.url}/#/jobs/{done['id']}")
        page.locator("#events-table tr td.reason").first.wait_for()
        reasons = page.locator("#events-table td.reason")
        assert reasons.count() == 4 == page.locator("#events-table td.reason > [data-reason]").count()
        assert "終了コード" in page.locator("#events-table").inner_text()
        assert not english_left(page), english_left(page)
    finally:
        op.post(f"/api/v1/jobs/{job['id']}/cancel")
        op.post(f"/api/v1/jobs/{waiting['id']}/cancel")
