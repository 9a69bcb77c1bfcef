// Notes and team rooms in a real headless Chromium, driven by tests/api/e2e.rs:
// a private note is shown as a note to agents and appears nowhere in the
// visitor's page (live or after a reload); a room message with a mention
// reaches the other member with a mention badge, typing and unread counts.
import assert from "node:assert/strict";
import { env, fail, launch, signIn, step, visitorWrites, watch } from "./lib.mjs";

const browser = await launch();
const PASSWORD = env.AGENT_PASSWORD;
const online = async (page) => { await page.locator("#conn:not(.off)").waitFor(); return page; };

try {
  // labels.js arrives late (a slow network, a busy machine): the first
  // welcome must still reach it (it did not when the socket opened before
  // the page's last scripts had run).
  const slowLabels = async (ctx) => ctx.route("**/static/labels.js", async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  const lin = await online(await signIn(browser, "lin", PASSWORD, { intercept: slowLabels }));

  step("a visitor writes from the widget");
  const { host, widget } = await visitorWrites(browser, "Vera", "My parcel is lost");

  step("lin writes a private note: shown as a note, to agents only");
  await lin.locator("#mine li", { hasText: "Vera" }).click();
  await lin.locator("#messages .bubble", { hasText: "My parcel is lost" }).waitFor();
  await lin.locator("#note-toggle").check();
  await lin.locator("#input").fill("SECRET-NOTE refund approved by finance");
  await lin.locator("#input").press("Enter");
  const note = lin.locator("#messages .msg.note:not(.pending)", { hasText: "SECRET-NOTE" });
  await note.waitFor();
  assert.match(await note.locator(".meta").textContent(), /Note/);
  await lin.locator("#note-toggle").uncheck();
  await lin.locator("#input").fill("Checking that for you now");
  await lin.locator("#input").press("Enter");
  await widget.locator(".msg.theirs", { hasText: "Checking that for you now" }).waitFor();
  await widget.locator("#ld-input").fill("thanks");
  await widget.locator("#ld-input").press("Enter");
  await lin.locator("#messages .bubble", { hasText: "thanks" }).waitFor();
  const order = await lin.locator("#messages .bubble").allTextContents();
  assert.deepEqual(order, ["My parcel is lost", "SECRET-NOTE refund approved by finance", "Checking that for you now", "thanks"]);
  const visitorText = async () => (await widget.locator("body").textContent()) + (await host.content());
  assert.ok(!(await visitorText()).includes("SECRET-NOTE"), "the note is nowhere in the visitor's page");

  step("the / picker fills in saved replies, two in one message, Chinese too");
  await lin.locator("#input").fill("");
  await lin.locator("#input").type("/THÁN");
  await lin.locator("#canned-picker li.active", { hasText: "/thanks" }).waitFor();
  await lin.locator("#input").press("Enter");
  assert.equal(await lin.locator("#input").inputValue(), "Thank you, Vera!");
  assert.ok(await lin.locator("#canned-picker").isHidden());
  await lin.locator("#input").type(" /by");
  await lin.locator("#canned-picker li.active", { hasText: "/bye" }).waitFor();
  await lin.locator("#input").press("Tab");
  assert.equal(await lin.locator("#input").inputValue(), "Thank you, Vera! Have a nice day. lin");
  await lin.locator("#input").press("Enter");
  await widget.locator(".msg.theirs", { hasText: "Thank you, Vera! Have a nice day. lin" }).waitFor();
  await lin.locator("#input").type("/退");
  await lin.locator("#canned-picker li.active", { hasText: "退款将在" }).waitFor();
  await lin.locator("#input").press("Escape");
  assert.equal(await lin.locator("#input").inputValue(), "/退", "Escape keeps what was typed");
  await lin.locator("#input").fill("");

  step("a label from the pane shows on the conversation and filters the lists");
  await lin.locator("#label-select").selectOption({ label: "vip" });
  await lin.locator("#pane-labels .chip", { hasText: "vip" }).waitFor();
  await lin.locator("#mine li", { hasText: "Vera" }).locator(".chip", { hasText: "vip" }).waitFor();
  await lin.locator("#label-filter").selectOption({ label: "spam" });
  await lin.locator("#mine li", { hasText: "Vera" }).waitFor({ state: "detached" });
  await lin.locator("#label-filter").selectOption({ label: "vip" });
  await lin.locator("#mine li", { hasText: "Vera" }).waitFor();
  await lin.locator("#label-filter").selectOption({ index: 0 });

  step("after a reload the visitor's history has no note either");
  await host.reload();
  await host.locator("#livedesk-launcher").click();
  await widget.locator(".msg.theirs", { hasText: "Checking that for you now" }).waitFor();
  await widget.locator(".msg.mine", { hasText: "thanks" }).waitFor();
  assert.ok(!(await visitorText()).includes("SECRET-NOTE"));

  step("the visitor downloads its transcript: replies in it, the note not");
  const [download] = await Promise.all([host.waitForEvent("download"), widget.locator("#ld-transcript").click()]);
  const file = await download.path();
  const { readFileSync } = await import("node:fs");
  const saved = readFileSync(file, "utf8");
  assert.ok(saved.includes("Checking that for you now") && saved.includes("My parcel is lost"), saved);
  assert.ok(!saved.includes("SECRET-NOTE"), saved);

  step("the archive finds the conversation by its text and opens its transcript");
  const arch = watch(await lin.context().newPage());
  await arch.goto(new URL("/agent/archive", lin.url()).href);
  await arch.locator('input[name="q"]').fill("PARCEL is");
  await arch.locator('form.filters button[type="submit"]').click();
  const row = arch.locator("table.archive tr[data-conversation]", { hasText: "Vera" });
  await row.waitFor();
  assert.equal(await arch.locator("table.archive tr[data-conversation]").count(), 1);
  await row.locator("a").first().click();
  await arch.locator("body", { hasText: "My parcel is lost" }).waitFor();
  assert.ok((await arch.locator("body").textContent()).includes("SECRET-NOTE"), "agents see the note in the transcript");
  await arch.goto(new URL("/agent/archive?q=nobody+wrote+this", lin.url()).href);
  assert.equal(await arch.locator("table.archive tr[data-conversation]").count(), 0);
  await arch.close();

  step("a room: lin mentions wang; wang sees a mention badge, then the message marked");
  const wang = await online(await signIn(browser, "wang", PASSWORD));
  await wang.locator("#rooms li", { hasText: "# support" }).waitFor();
  await lin.locator("#rooms li", { hasText: "# support" }).click();
  await lin.locator("#room-pane:not([hidden])").waitFor();
  assert.ok(await lin.locator("#chat").isHidden(), "one pane at a time");
  await lin.locator("#room-input").fill("@wang can you take my chats at 6?");
  await lin.locator("#room-input").press("Enter");
  await lin.locator("#room-messages .msg:not(.pending)", { hasText: "take my chats" }).waitFor();
  await wang.locator("#rooms li", { hasText: "# support" }).locator(".badge.mention", { hasText: "@1" }).waitFor();
  await wang.locator("#rooms li", { hasText: "# support" }).click();
  const got = wang.locator("#room-messages .msg.mentioned", { hasText: "take my chats" });
  await got.waitFor();
  assert.equal(await got.locator("mark").textContent(), "@wang");
  assert.equal(await wang.locator("#rooms li", { hasText: "# support" }).locator(".badge.mention").count(), 0);

  step("typing shows to the other member; a reply comes back");
  await wang.locator("#room-input").type("sure");
  await lin.locator("#room-typing:not([hidden])", { hasText: "wang" }).waitFor();
  await wang.locator("#room-input").press("Enter");
  await lin.locator("#room-messages .msg", { hasText: "sure" }).waitFor();

  step("away from the room, a new message counts as unread");
  await lin.locator("#mine li", { hasText: "Vera" }).click();
  await lin.locator("#room-pane").waitFor({ state: "hidden" });
  await wang.locator("#room-input").fill("done, all yours");
  await wang.locator("#room-input").press("Enter");
  await lin.locator("#rooms li", { hasText: "# support" }).locator(".badge.unread", { hasText: "1" }).waitFor();
  await lin.screenshot({ path: `${env.SCREENSHOTS_DIR}/rooms.png` });

  step("all good");
  await browser.close();
} catch (e) {
  await fail(browser, e);
}
