// Uploads files through the oci-certify serve form in headless Chromium, with JavaScript
// disabled in the page, and prints what the result page shows, one JSON line per file.
// Usage: node upload.mjs BASE_URL FILE SCREENSHOT [FILE SCREENSHOT ...]
import { chromium } from 'playwright-core';

const [base, ...pairs] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  timeout: 60000,
  // Playwright gives every launch a fresh temporary profile (--user-data-dir).
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const [file, shot] = [pairs[i], pairs[i + 1]];
    const page = await browser.newPage({
      viewport: { width: 1100, height: 900 },
      javaScriptEnabled: false,
    });
    await page.goto(`${base}/`);
    await page.setInputFiles('#file', file);
    await page.screenshot({ path: shot.replace(/\.png$/, '-form.png'), fullPage: true });
    await Promise.all([
      page.waitForURL('**/api/v1/check**'),
      page.click('form:has(#file) button[type=submit]'),
    ]);
    await page.waitForSelector('#verdict');
    const result = {
      file,
      title: await page.title(),
      verdict: await page.getAttribute('#verdict', 'data-verdict'),
      banner: (await page.textContent('#verdict')).trim(),
      total: Number(await page.textContent('#count-total strong')),
      findings: (await page.textContent('#findings')).trim(),
      finding_ids: await page.$$eval('.finding > a code', (els) => els.map((e) => e.textContent)),
      links: await page.$$eval('.finding > a', (els) => els.map((e) => e.href)),
    };
    await page.screenshot({ path: shot, fullPage: true });
    console.log(JSON.stringify(result));
    await page.close();
  }
} finally {
  await browser.close();
}
