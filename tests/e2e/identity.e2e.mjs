// A signed-in customer in Chromium: the host page calls
// window.livedesk.setUser({identifier, identifier_hash}) (the hash made by
// its server), and the customer is the same visitor on another browser: the
// history follows. The agent sees "verified"; a wrong hash is "not verified"
// and starts a conversation of its own.
import assert from "node:assert/strict";
import { env, fail, launch, signIn, step, watch } from "./lib.mjs";

const browser = await launch();

/// A fresh browser (its own storage) on the host page, as `user`.
async function customer(user) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const host = watch(await ctx.newPage());
  await host.goto(env.HOST_URL);
  await host.waitForFunction(() => window.livedesk && window.livedesk.setUser);
  await host.evaluate((u) => window.livedesk.setUser(u), user);
  await host.locator("#livedesk-launcher").click();
  return { host, widget: host.frameLocator("#livedesk-frame") };
}

async function say(widget, text) {
  await widget.locator("#ld-input").fill(text);
  await widget.locator("#ld-input").press("Enter");
  await widget.locator(".msg.mine:not(.pending) .bubble", { hasText: text }).waitFor();
}

try {
  step("agent lin signs in");
  const lin = await signIn(browser, "lin", env.AGENT_PASSWORD);
  await lin.locator("#conn:not(.off)").waitFor();

  const ada = { identifier: "cust-42", identifier_hash: env.IDENTITY_HASH, name: "Ada", email: "ada@example.com" };
  step("on her laptop, Ada (signed in on the shop) writes");
  const laptop = await customer(ada);
  await say(laptop.widget, "from the laptop");

  step("the agent sees her as verified");
  const item = lin.locator("#mine li", { hasText: "Ada" });
  await item.click();
  await lin.locator("#messages .bubble", { hasText: "from the laptop" }).waitFor();
  const identity = await lin.locator("#d-identity").textContent();
  assert.match(identity, /cust-42/);
  assert.match(identity, /✓ verified/);

  step("on her phone (another browser, nothing stored), her conversation follows her");
  const phone = await customer(ada);
  await phone.widget.locator(".msg.mine .bubble", { hasText: "from the laptop" }).waitFor();
  await say(phone.widget, "and from the phone");
  await lin.locator("#messages .bubble", { hasText: "and from the phone" }).waitFor();
  assert.equal(await lin.locator("#mine li", { hasText: "Ada" }).count(), 1);

  step("a page with a wrong hash: her identifier, not verified, and not her conversation");
  const forged = await customer({ ...ada, name: "Mallory", identifier_hash: "00".repeat(32) });
  await forged.widget.locator("#ld-input").waitFor();
  assert.equal(await forged.widget.locator(".bubble", { hasText: "from the laptop" }).count(), 0);
  await say(forged.widget, "let me see her orders");
  const other = lin.locator("#mine li", { hasText: "Mallory" });
  await other.click();
  await lin.locator("#messages .bubble", { hasText: "let me see her orders" }).waitFor();
  assert.match(await lin.locator("#d-identity").textContent(), /cust-42 \(not verified\)/);

  step("signing out on the laptop starts afresh: her history is not shown to whoever comes next");
  await laptop.host.evaluate(() => window.livedesk.setUser(null));
  // A new visitor: asked for a name again, nothing of hers on the page.
  await laptop.widget.locator("#ld-intro").waitFor();
  assert.equal(await laptop.widget.locator(".bubble", { hasText: "from the laptop" }).count(), 0);
  await laptop.host.reload();
  await laptop.host.locator("#livedesk-launcher").click();
  await laptop.host.frameLocator("#livedesk-frame").locator("#ld-intro").waitFor();
  assert.equal(await laptop.host.frameLocator("#livedesk-frame").locator(".bubble", { hasText: "from the laptop" }).count(), 0);

  await browser.close();
  step("all good");
} catch (e) {
  await fail(browser, e);
}
