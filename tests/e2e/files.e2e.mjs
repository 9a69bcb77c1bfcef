// Attachments in a real headless Chromium, driven by tests/api/e2e.rs: an
// image pasted into the widget arrives at the agent as a thumbnail; a file
// the agent attaches with the button reaches the visitor as a download link
// that downloads; a file dropped on the dashboard waits in the tray.
import assert from "node:assert/strict";
import { env, fail, launch, signIn, step, visitorWrites } from "./lib.mjs";

const browser = await launch();
const online = async (page) => { await page.locator("#conn:not(.off)").waitFor(); return page; };

// A DataTransfer holding a 40×30 PNG drawn on a canvas (or a text file), as
// a paste or a drop hands it to the page; `sel` gets the event.
async function dispatchFile(frame, sel, kind, what) {
  await frame.evaluate(async ([sel, kind, what]) => {
    let file;
    if (what === "png") {
      const c = document.createElement("canvas");
      c.width = 40; c.height = 30;
      const g = c.getContext("2d"); g.fillStyle = "#d33"; g.fillRect(0, 0, 40, 30);
      const blob = await new Promise((r) => c.toBlob(r, "image/png"));
      file = new File([blob], "image.png", { type: "image/png" });
    } else {
      file = new File(["%PDF-1.4\n%%EOF\n"], "dropped.pdf", { type: "application/pdf" });
    }
    const dt = new DataTransfer();
    dt.items.add(file);
    const target = document.querySelector(sel);
    if (kind === "paste") {
      target.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    } else {
      target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
      target.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, [sel, kind, what]);
}

try {
  const lin = await online(await signIn(browser, "lin", env.AGENT_PASSWORD));

  step("a visitor writes from the widget on another site");
  const { host, widget } = await visitorWrites(browser, "Vera", "The checkout shows an error");

  step("the visitor pastes a screenshot and sends it without text");
  const panel = host.frames().find((f) => f.url().includes("/widget"));
  await dispatchFile(panel, "#ld-input", "paste", "png");
  await widget.locator("#ld-files .chip", { hasText: "image.png" }).waitFor();
  await widget.locator("#ld-input").press("Enter");
  const mine = widget.locator(".msg.mine:not(.pending) img.thumb");
  await mine.waitFor();
  await panel.waitForFunction(() => {
    const img = document.querySelector(".msg.mine:not(.pending) img.thumb");
    return img && img.complete && img.naturalWidth === 40;
  });
  assert.equal(await widget.locator("#ld-files .chip").count(), 0, "the tray is empty once sent");

  step("the agent sees it as a thumbnail");
  await lin.locator("#mine li", { hasText: "Vera" }).click();
  await lin.locator("#messages img.thumb").waitFor();
  await lin.waitForFunction(() => {
    const img = document.querySelector("#messages img.thumb");
    return img && img.complete && img.naturalWidth === 40 && img.naturalHeight === 30;
  });

  step("the agent attaches a text file with the button and writes");
  await lin.locator("#attach + input[type=file]").setInputFiles({
    name: "steps.txt", mimeType: "text/plain", buffer: Buffer.from("1. clear the cart\n2. try again\n"),
  });
  await lin.locator("#files .chip", { hasText: "steps.txt" }).waitFor();
  await lin.locator("#input").fill("These steps should help");
  await lin.locator("#input").press("Enter");
  await lin.locator("#messages .msg.agent:not(.pending) .file a", { hasText: "steps.txt" }).waitFor();

  step("the visitor gets it as a link, and it downloads");
  const link = widget.locator(".msg.theirs .file a", { hasText: "steps.txt" });
  await link.waitFor();
  const [download] = await Promise.all([host.waitForEvent("download"), link.click()]);
  assert.equal(download.suggestedFilename(), "steps.txt");
  const { readFile } = await import("node:fs/promises");
  assert.equal(await readFile(await download.path(), "utf8"), "1. clear the cart\n2. try again\n");

  step("a file dropped on the conversation waits in the tray");
  await dispatchFile(lin.mainFrame(), "#chat", "drop", "pdf");
  await lin.locator("#files .chip", { hasText: "dropped.pdf" }).waitFor();

  await host.screenshot({ path: `${env.SCREENSHOTS_DIR}/files-widget.png` });
  await lin.screenshot({ path: `${env.SCREENSHOTS_DIR}/files-dashboard.png` });
  await browser.close();
  step("all good");
} catch (e) {
  await fail(browser, e);
}
