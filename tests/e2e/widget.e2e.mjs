// End-to-end in a real headless Chromium, driven by tests/api/e2e.rs:
// a host page on another origin embeds widget.js; a visitor writes; agents
// answer from the dashboard; reloads, reassignment and XSS are checked; the
// screenshots for the README are taken on the way.
import assert from "node:assert/strict";
import { dialogs, env, fail, launch, signIn as signInAs, step, watch } from "./lib.mjs";

const LIVEDESK = env.LIVEDESK_URL;
const HOST = env.HOST_URL;
const SHOTS = env.SCREENSHOTS_DIR;
const PASSWORD = env.AGENT_PASSWORD;
const ADMIN_PASSWORD = env.ADMIN_PASSWORD;
const browser = await launch();

const signIn = (username, password) => signInAs(browser, username, password);

async function online(page) {
  await page.locator("#conn:not(.off)").waitFor();
  return page;
}

try {
  step("agent lin signs in");
  const lin = await online(await signIn("lin", PASSWORD));

  step("a visitor opens a page on another origin and the widget");
  const vctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  // Every visitor socket passes through here, so the test can cut the network.
  let offline = false;
  const visitorSockets = [];
  await vctx.routeWebSocket(/\/ws\/visitor$/, (ws) => {
    if (offline) { ws.close({ code: 4000, reason: "offline" }); return; }
    ws.connectToServer();
    visitorSockets.push(ws);
  });
  const host = watch(await vctx.newPage());
  await host.goto(HOST);
  assert.notEqual(new URL(HOST).origin, new URL(LIVEDESK).origin);
  await host.locator("#livedesk-launcher").click();
  const widget = host.frameLocator("#livedesk-frame");
  await widget.locator("#ld-intro").waitFor();
  await widget.locator('#ld-intro input[name="name"]').fill("Vera");
  await widget.locator('#ld-intro button[type="submit"]').click();
  await widget.locator("#ld-input").fill("Hello from the widget");
  await widget.locator("#ld-input").press("Enter");
  await widget.locator(".msg.mine:not(.pending) .bubble", { hasText: "Hello from the widget" }).waitFor();
  await widget.locator("#ld-status", { hasText: "lin" }).waitFor();

  step("the agent sees the conversation with an unread count, opens it, replies");
  const item = lin.locator("#mine li", { hasText: "Vera" });
  await item.locator(".badge.unread", { hasText: "1" }).waitFor();
  await item.click();
  await lin.locator("#messages .bubble", { hasText: "Hello from the widget" }).waitFor();
  assert.equal(await lin.locator("#d-page").textContent(), HOST);
  await lin.locator("#input").fill("Hi Vera, how can I help?");
  await lin.locator("#input").press("Enter");
  await lin.locator("#messages .msg.agent:not(.pending) .bubble", { hasText: "Hi Vera" }).waitFor();

  step("the visitor sees the reply, from lin");
  const reply = widget.locator(".msg.theirs", { hasText: "Hi Vera, how can I help?" });
  await reply.waitFor();
  assert.match(await reply.locator(".meta").textContent(), /lin/);

  step("Shift+Enter makes a new line, Enter sends");
  await widget.locator("#ld-input").fill("first line");
  await widget.locator("#ld-input").press("Shift+Enter");
  await widget.locator("#ld-input").type("second line");
  await widget.locator("#ld-input").press("Enter");
  await lin.locator("#messages .bubble", { hasText: "second line" }).waitFor();
  assert.equal(await lin.locator("#messages .bubble", { hasText: "second line" }).textContent(), "first line\nsecond line");

  step("an XSS payload stays inert text on both sides");
  const xss = "<img src=x onerror=alert(1)>";
  await widget.locator("#ld-input").fill(xss);
  await widget.locator("#ld-input").press("Enter");
  const seen = lin.locator("#messages .bubble", { hasText: "onerror" });
  await seen.waitFor();
  assert.equal(await seen.textContent(), xss);
  await lin.locator("#input").fill(xss);
  await lin.locator("#input").press("Enter");
  const back = widget.locator(".msg.theirs .bubble", { hasText: "onerror" });
  await back.waitFor();
  assert.equal(await back.textContent(), xss);
  assert.equal(await lin.locator("#messages img").count(), 0);
  assert.equal(await widget.locator(".messages img").count(), 0);
  assert.equal(dialogs.length, 0, "no script ran");

  step("typing travels both ways");
  await widget.locator("#ld-input").type("typing…");
  await lin.locator("#typing:not([hidden])").waitFor();
  await widget.locator("#ld-input").fill("");

  await host.screenshot({ path: `${SHOTS}/widget.png` });
  await lin.screenshot({ path: `${SHOTS}/dashboard.png` });

  step("the visitor reloads the page and finds the same history");
  await host.reload();
  await host.locator("#livedesk-launcher").click();
  await widget.locator(".bubble", { hasText: "Hello from the widget" }).waitFor();
  await widget.locator(".bubble", { hasText: "Hi Vera, how can I help?" }).waitFor();
  assert.equal(await widget.locator(".bubble", { hasText: "Hello from the widget" }).count(), 1, "no duplicates");

  step("a message typed while offline waits as pending and is sent once after reconnecting");
  offline = true;
  visitorSockets.splice(0).forEach((ws) => ws.close({ code: 4000, reason: "offline" }));
  await widget.locator("#ld-status", { hasText: "Reconnecting" }).waitFor();
  await widget.locator("#ld-input").fill("Written while offline");
  await widget.locator("#ld-input").press("Enter");
  await widget.locator(".msg.mine.pending .bubble", { hasText: "Written while offline" }).waitFor();
  offline = false;
  await widget.locator(".msg.mine:not(.pending) .bubble", { hasText: "Written while offline" }).waitFor({ timeout: 30000 });
  await lin.locator("#messages .bubble", { hasText: "Written while offline" }).waitFor();
  assert.equal(await lin.locator("#messages .bubble", { hasText: "Written while offline" }).count(), 1);
  assert.equal(await widget.locator(".bubble", { hasText: "Written while offline" }).count(), 1);

  step("with the panel closed, a reply shows an unread badge and reaches the JS API");
  await host.evaluate(() => { window.__unread = []; window.livedesk.onUnreadChange((n) => window.__unread.push(n)); });
  await host.evaluate(() => window.livedesk.close());
  await lin.locator("#input").fill("Are you still there?");
  await lin.locator("#input").press("Enter");
  await host.locator("#livedesk-badge", { hasText: "1" }).waitFor();
  assert.ok((await host.evaluate(() => window.__unread)).includes(1));
  await host.evaluate(() => window.livedesk.open());
  await widget.locator(".bubble", { hasText: "Are you still there?" }).waitFor();
  assert.equal(await host.locator("#livedesk-badge").isVisible(), false);

  step("the admin console shows who is online");
  const admin = await signIn("admin", ADMIN_PASSWORD);
  await admin.goto(`${LIVEDESK}/admin/agents`);
  await admin.locator("#presence tr", { hasText: "lin" }).waitFor();
  await admin.screenshot({ path: `${SHOTS}/admin.png`, fullPage: true });

  step("lin's tab closes; wang receives the conversation after the grace period");
  const wang = await online(await signIn("wang", PASSWORD));
  await lin.context().close();
  await wang.locator("#mine li", { hasText: "Vera" }).waitFor();
  await widget.locator(".notice", { hasText: "wang" }).waitFor();
  await widget.locator("#ld-status", { hasText: "wang" }).waitFor();
  await wang.locator("#mine li", { hasText: "Vera" }).click();
  await wang.locator("#messages .bubble", { hasText: "Hello from the widget" }).waitFor();

  step("all good");
  await browser.close();
} catch (e) {
  await fail(browser, e);
}
