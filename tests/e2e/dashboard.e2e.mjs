// The dashboard and widget in daily use, in a real headless Chromium, driven
// by tests/api/e2e.rs: a long chat at three window sizes, controls shown only
// where they work, long texts in English and Chinese, errors that keep what
// was typed, the widget talking only to its page, and the small things.
import assert from "node:assert/strict";
import { dialogs, env, fail, launch, signIn as signInAs, step, watch } from "./lib.mjs";

const LIVEDESK = env.LIVEDESK_URL;
const HOST = env.HOST_URL;
const FRAMER = env.FRAMER_URL;
const SHOTS = env.SCREENSHOTS_DIR;
const PASSWORD = env.AGENT_PASSWORD;
const browser = await launch();

/// Signed in, on the dashboard, connected (1300x800 unless told).
async function signIn(username, password, opts = {}) {
  const page = await signInAs(browser, username, password, { viewport: { width: 1300, height: 800 }, ...opts });
  await page.locator("#conn:not(.off)").waitFor();
  return page;
}

// Visitors without a browser window: raw sockets from a blank page.
const raw = watch(await (await browser.newContext()).newPage());
async function rawVisitor(name, count) {
  return raw.evaluate(async ({ url, name, count }) => {
    const ws = new WebSocket(url);
    await new Promise((ok) => { ws.onopen = ok; });
    const frames = [];
    ws.onmessage = (e) => frames.push(JSON.parse(e.data));
    const next = (pred) => new Promise((ok, fail) => {
      const t0 = Date.now();
      const iv = setInterval(() => {
        const i = frames.findIndex(pred);
        if (i >= 0) { clearInterval(iv); ok(frames.splice(i, 1)[0]); }
        else if (Date.now() - t0 > 15000) { clearInterval(iv); fail(new Error("no frame")); }
      }, 10);
    });
    ws.send(JSON.stringify({ type: "hello", name }));
    await next((f) => f.type === "welcome");
    for (let i = 1; i <= count; i++) {
      ws.send(JSON.stringify({ type: "message", client_id: `${name}-${i}`, body: `${name} message ${i}` }));
      await next((f) => f.type === "ack" && f.client_id === `${name}-${i}`);
    }
    (window.__sockets = window.__sockets || []).push(ws);
  }, { url: LIVEDESK.replace(/^http/, "ws") + "/ws/visitor", name, count });
}

/// The page does not scroll; the transcript does, and the composer is in view.
async function layoutHolds(page, what) {
  const m = await page.evaluate(() => {
    const box = document.getElementById("messages");
    const comp = document.getElementById("composer").getBoundingClientRect();
    return {
      pageOverflow: document.scrollingElement.scrollHeight - window.innerHeight,
      boxOverflow: box.scrollHeight - box.clientHeight,
      compTop: comp.top, compBottom: comp.bottom, compHeight: comp.height, vh: window.innerHeight,
    };
  });
  assert.ok(m.pageOverflow <= 1, `${what}: the page scrolls by ${m.pageOverflow}px`);
  assert.ok(m.boxOverflow > 50, `${what}: the transcript does not scroll (${m.boxOverflow})`);
  assert.ok(m.compHeight > 20 && m.compTop >= 0 && m.compBottom <= m.vh + 0.5,
    `${what}: composer not fully in view: ${JSON.stringify(m)}`);
}

try {
  step("lin signs in; a visitor writes 80 messages");
  const lin = await signIn("lin", PASSWORD);
  await rawVisitor("Long", 80);
  const longItem = lin.locator("#mine li", { hasText: "Long" });
  await longItem.waitFor();
  // A fresh page holds none of it: opening it loads the newest part only.
  await lin.reload();
  await lin.locator("#conn:not(.off)").waitFor();
  await longItem.click();
  await lin.locator("#messages .bubble", { hasText: "Long message 80" }).waitFor();
  assert.equal(await lin.locator("#messages .msg").count(), 50, "the newest 50 first");

  step("the transcript scrolls inside the window, the composer stays in view (1300x800)");
  await layoutHolds(lin, "1300x800");
  const atBottom = await lin.evaluate(() => {
    const b = document.getElementById("messages");
    return b.scrollHeight - b.scrollTop - b.clientHeight;
  });
  assert.ok(atBottom < 5, `opens at the newest message (${atBottom}px from the bottom)`);
  assert.equal(await lin.locator("#messages li.day", { hasText: "Today" }).count(), 1, "a date separator");
  await lin.screenshot({ path: `${SHOTS}/dashboard-long-1300.png` });

  step("scrolling up loads older messages and keeps the reader's place");
  // At the top, message 31 (the oldest loaded) is the first thing the reader sees;
  // once the older ones are in above it, it must still be there, not pushed away.
  await lin.evaluate(() => { document.getElementById("messages").scrollTop = 0; });
  await lin.waitForFunction(() => document.querySelectorAll("#messages .msg").length === 80);
  const after = await lin.evaluate(() => {
    const box = document.getElementById("messages");
    const top = document.querySelector('#messages .msg[data-seq="31"]').getBoundingClientRect().top;
    return { offset: top - box.getBoundingClientRect().top, scroll: box.scrollTop };
  });
  assert.ok(after.scroll > 100, `kept below the older messages (scrollTop ${after.scroll})`);
  assert.ok(after.offset >= 0 && after.offset < 120, `message 31 is ${after.offset}px from the top of the list`);

  step("the same at 820x600 (details under the lists) and on a phone (390x740)");
  await lin.setViewportSize({ width: 820, height: 600 });
  await layoutHolds(lin, "820x600");
  assert.ok(await lin.locator("#details").isVisible(), "visitor details shown below 900px");
  await lin.screenshot({ path: `${SHOTS}/dashboard-long-820.png` });
  await lin.setViewportSize({ width: 390, height: 740 });
  await layoutHolds(lin, "390x740");
  await lin.setViewportSize({ width: 1300, height: 800 });

  step("a text over the limit is not sent and not lost");
  const han = "汉".repeat(1500); // 4,500 bytes in UTF-8, under 4,096 characters
  await lin.locator("#input").fill(han);
  await lin.locator("#input").press("Enter");
  await lin.locator("#hint", { hasText: "4500 of 4096 bytes" }).waitFor();
  assert.equal(await lin.locator("#input").inputValue(), han);
  assert.equal(await lin.locator("#messages .msg.pending").count(), 0);
  await lin.locator("#input").fill("");
  assert.equal(await lin.locator("#hint").isVisible(), false);

  step("queued conversations: oldest first with their wait, no composer until claimed");
  await lin.locator("#status-toggle").uncheck();
  await lin.locator("#status-label", { hasText: "Away" }).waitFor();
  await rawVisitor("First", 1);
  await lin.locator("#queue li", { hasText: "First" }).waitFor();
  // A frame about another conversation leaves this item as it is (not rebuilt).
  await lin.locator("#queue li", { hasText: "First" }).evaluate((li) => { li.dataset.kept = "yes"; });
  await rawVisitor("Second", 1);
  await lin.locator("#queue li", { hasText: "Second" }).waitFor();
  assert.equal(await lin.locator("#queue li", { hasText: "First" }).getAttribute("data-kept"), "yes");
  assert.deepEqual(await lin.locator("#queue li .who").allTextContents(), ["First", "Second"]);
  assert.match(await lin.locator("#queue li", { hasText: "First" }).locator(".wait").textContent(), /waiting/);
  await lin.locator("#queue li", { hasText: "First" }).click();
  await lin.locator("#claim-btn").waitFor();
  for (const id of ["#composer", "#transfer-select", "#transfer-btn"]) {
    assert.equal(await lin.locator(id).isVisible(), false, `${id} hidden on a queued conversation`);
  }
  await lin.locator("#claim-btn").click();
  await lin.locator("#composer").waitFor();
  await lin.locator("#mine li", { hasText: "First" }).waitFor();

  step("closed: no composer; still listed after a reload");
  await lin.locator("#close-btn").click();
  await lin.locator("#composer").waitFor({ state: "hidden" });
  assert.equal(await lin.locator("#transfer-select").isVisible(), false);
  await lin.reload();
  await lin.locator("#conn:not(.off)").waitFor();
  await lin.locator("#closed li", { hasText: "First" }).waitFor();
  await lin.locator("#closed li", { hasText: "First" }).click();
  await lin.locator("#messages .bubble", { hasText: "First message 1" }).waitFor();
  assert.equal(await lin.locator("#composer").isVisible(), false);

  step("wang signs in in Chinese; an error keeps the typed text and speaks Chinese");
  let fakeRefusal = false;
  const wang = await signIn("wang", PASSWORD, {
    lang: "zh",
    intercept: (ctx) => ctx.routeWebSocket(/\/ws\/agent$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => {
        const f = JSON.parse(m);
        // The first message wang sends is refused as the server would refuse it.
        if (fakeRefusal && f.type === "message") {
          fakeRefusal = false;
          ws.send(JSON.stringify({ type: "error", code: "forbidden", message: "that conversation is not yours",
                                   conversation_id: f.conversation_id, client_id: f.client_id }));
          return;
        }
        server.send(m);
      });
    }),
  });
  // "Second" waited in the queue; wang is the only agent online who can take it now or claim it.
  const second = wang.locator("#mine li, #queue li", { hasText: "Second" }).first();
  await second.waitFor();
  await second.click();
  if (await wang.locator("#claim-btn").isVisible()) await wang.locator("#claim-btn").click();
  await wang.locator("#composer").waitFor();
  await wang.locator("#input").fill("汉".repeat(1500));
  await wang.locator("#input").press("Enter");
  await wang.locator("#hint", { hasText: "字节" }).waitFor();
  fakeRefusal = true;
  await wang.locator("#input").fill("您好，请问需要什么帮助？");
  await wang.locator("#input").press("Enter");
  await wang.locator("#toast", { hasText: "这不是您的会话。" }).waitFor();
  assert.equal(await wang.locator("#input").inputValue(), "您好，请问需要什么帮助？");
  await lin.locator("#status-toggle").check();
  await lin.locator("#status-label", { hasText: "Online" }).waitFor();

  step("after a transfer away, lin's pane says so and offers nothing to type into");
  await longItem.click();
  await lin.locator("#transfer-select option", { hasText: "wang" }).waitFor({ state: "attached" });
  await lin.locator("#transfer-select").selectOption({ label: await lin.locator("#transfer-select option", { hasText: "wang" }).textContent() });
  await lin.locator("#transfer-btn").click();
  await lin.locator("#pane-notice", { hasText: "another agent" }).waitFor();
  assert.equal(await lin.locator("#composer").isVisible(), false);
  assert.equal(await lin.locator("#mine li", { hasText: "Long" }).count(), 0);
  await wang.locator("#mine li", { hasText: "Long" }).waitFor();

  step("the widget: no 'Reconnecting…' after 'Start chatting', a long text kept, right-to-left text");
  const vctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const host = watch(await vctx.newPage());
  await host.goto(HOST);
  await host.locator("#livedesk-launcher").click();
  const widget = host.frameLocator("#livedesk-frame");
  await widget.locator("#ld-intro").waitFor();
  const frame = host.frames().find((f) => f.url().includes("/widget"));
  await frame.evaluate(() => {
    window.__statuses = [];
    const s = document.getElementById("ld-status");
    new MutationObserver(() => window.__statuses.push(s.textContent)).observe(s, { childList: true, characterData: true, subtree: true });
  });
  await widget.locator('#ld-intro input[name="name"]').fill("Vera");
  await widget.locator('#ld-intro button[type="submit"]').click();
  await widget.locator("#ld-input").fill(han);
  await widget.locator("#ld-input").press("Enter");
  await widget.locator("#ld-hint", { hasText: "4500" }).waitFor();
  assert.equal(await widget.locator("#ld-input").inputValue(), han, "the widget keeps the text");
  assert.equal(await widget.locator(".msg.mine").count(), 0, "nothing sent");
  await widget.locator("#ld-input").fill("مرحبا، كيف حالك؟");
  await widget.locator("#ld-input").press("Enter");
  await widget.locator(".msg.mine:not(.pending) .bubble", { hasText: "مرحبا" }).waitFor();
  const statuses = await frame.evaluate(() => window.__statuses);
  assert.ok(!statuses.some((s) => /Reconnecting/.test(s)), `statuses: ${JSON.stringify(statuses)}`);

  step("the agent sees it right to left, the page as a link, the visitor's local time");
  const never = () => new Promise(() => {}); // the other one never gets it: not an error
  const owner = await Promise.race([
    lin.locator("#mine li", { hasText: "Vera" }).waitFor().then(() => ["lin", lin, "wang"], never),
    wang.locator("#mine li", { hasText: "Vera" }).waitFor().then(() => ["wang", wang, "lin"], never),
  ]);
  const [ownerName, ownerPage, otherName] = owner;
  await ownerPage.locator("#mine li", { hasText: "Vera" }).click();
  const rtl = ownerPage.locator("#messages .bubble", { hasText: "مرحبا" });
  await rtl.waitFor();
  assert.equal(await rtl.getAttribute("dir"), "auto");
  assert.equal(await ownerPage.locator("#d-page a").getAttribute("href"), HOST);
  assert.match(await ownerPage.locator("#d-local").textContent(), /\d\d:\d\d/);

  step("a voluntary transfer reads as one to the visitor");
  const opt = ownerPage.locator("#transfer-select option", { hasText: otherName });
  await opt.waitFor({ state: "attached" });
  await ownerPage.locator("#transfer-select").selectOption({ label: await opt.textContent() });
  await ownerPage.locator("#transfer-btn").click();
  const notice = widget.locator(".notice", { hasText: otherName });
  await notice.waitFor();
  assert.equal(await notice.textContent(), `${otherName} took over from ${ownerName}`);

  step("the admin console: a clean title, outcomes in words, disabling asks first");
  const admin = await signIn("admin", env.ADMIN_PASSWORD);
  await admin.goto(`${LIVEDESK}/admin/agents`);
  assert.equal(await admin.title(), "Agents · livedesk");
  await admin.locator(".attempts td", { hasText: "signed in" }).first().waitFor();
  await admin.locator('tr[data-username="wang"] a').click();
  const shown = dialogs.length;
  await admin.locator('form[action$="/active"] button').click();
  assert.equal(dialogs.length, shown + 1, "a confirmation was asked");
  assert.match(dialogs[dialogs.length - 1], /Disable this account/);
  await admin.locator(".ok", { hasText: "Active" }).waitFor();
  assert.ok(await wang.locator("#conn:not(.off)").isVisible(), "wang stayed signed in");

  step("a page that frames the panel hears nothing but 'ready' until it speaks");
  const fctx = await browser.newContext();
  const framer = watch(await fctx.newPage());
  await framer.goto(`${FRAMER}?panel=${encodeURIComponent(LIVEDESK + "/widget")}`);
  await framer.waitForFunction(() => window.__got.length >= 1);
  const got = await framer.evaluate(() => window.__got);
  assert.deepEqual(got, [{ livedesk: "ready" }]);

  step("all good");
  await browser.close();
} catch (e) {
  await fail(browser, e);
}
