// What the browser tests share: Chromium as this machine runs it, pages that
// record dialogs and report script errors, screenshots when a step fails.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

export const env = process.env;
export const step = (s) => console.log(`[e2e] ${s}`);

export async function launch() {
  mkdirSync(env.SCREENSHOTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// Every dialog a page opens is dismissed and its text kept in `dialogs`.
export const dialogs = [];
export function watch(page) {
  page.setDefaultTimeout(20000);
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on("pageerror", (e) => { console.log(`[e2e] page error on ${page.url()}: ${e.message}`); });
  return page;
}

/// A new browser context signed in as `username`, on the dashboard.
export async function signIn(browser, username, password, { lang = "en", viewport = { width: 1280, height: 760 }, intercept } = {}) {
  const ctx = await browser.newContext({ viewport });
  if (intercept) await intercept(ctx);
  const page = watch(await ctx.newPage());
  if (lang === "zh") await page.goto(`${env.LIVEDESK_URL}/lang/zh?next=/login`);
  await page.goto(`${env.LIVEDESK_URL}/login`);
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await page.fill('input[name="captcha"]', env.CAPTCHA);
  await page.click('button[type="submit"]');
  await page.waitForURL("**/agent");
  return page;
}

/// A visitor on the host site (HOST_URL) opens the widget, gives `name`
/// and writes `text`; returns the host page and the widget's frame.
export async function visitorWrites(browser, name, text) {
  const vctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const host = watch(await vctx.newPage());
  await host.goto(env.HOST_URL);
  await host.locator("#livedesk-launcher").click();
  const widget = host.frameLocator("#livedesk-frame");
  await widget.locator("#ld-intro").waitFor();
  await widget.locator('#ld-intro input[name="name"]').fill(name);
  await widget.locator('#ld-intro button[type="submit"]').click();
  await widget.locator("#ld-input").fill(text);
  await widget.locator("#ld-input").press("Enter");
  await widget.locator(".msg.mine:not(.pending)", { hasText: text }).waitFor();
  return { host, widget };
}

/// What each page looked like when the test failed; then exit non-zero.
export async function fail(browser, e) {
  console.error(e);
  for (const [i, ctx] of browser.contexts().entries()) {
    for (const [j, page] of ctx.pages().entries()) {
      await page.screenshot({ path: `${env.SCREENSHOTS_DIR}/failure-${i}-${j}.png` }).catch(() => {});
    }
  }
  await browser.close().catch(() => {});
  process.exit(1);
}
