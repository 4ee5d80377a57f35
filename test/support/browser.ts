// A real headless Chromium for tests of the HTML pages wcse writes, with nothing downloaded at run time:
// `@sparticuz/chromium` (a devDependency) ships a brotli-compressed Chromium build inside the npm package,
// unpacked to the temp directory on first use, and `puppeteer-core` drives it. The binary needs NSS and
// expat, which a bare Debian 12 lacks; with AWS_LAMBDA_JS_RUNTIME set when the package is imported, it
// also unpacks the copies of those libraries it bundles and puts them on LD_LIBRARY_PATH (which the
// browser process inherits), so `npm ci` alone is enough on a fresh machine: no apt, no network.
import puppeteer, { type Browser } from 'puppeteer-core';

export async function launchBrowser(): Promise<Browser> {
  process.env.AWS_LAMBDA_JS_RUNTIME ??= 'nodejs20.x';
  const { default: chromium } = await import('@sparticuz/chromium');
  const executablePath = await chromium.executablePath();
  return puppeteer.launch({ executablePath, args: chromium.args, headless: true });
}
