// Chromium through playwright-core (the system's /usr/bin/chromium: nothing is downloaded).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.LIVEGATE_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (set LIVEGATE_CHROMIUM)`;
}

const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--autoplay-policy=no-user-gesture-required',
];

export interface CameraOptions {
  /** a .y4m for the fake camera; none = Chromium's built-in test pattern */
  clip?: string;
  /** refuse the camera as a person would */
  deny?: boolean;
}

export async function launch(o: CameraOptions = {}): Promise<Browser> {
  const args = [...BASE_ARGS, '--use-fake-device-for-media-stream'];
  if (o.deny) args.push('--deny-permission-prompts');
  else args.push('--use-fake-ui-for-media-stream');
  if (o.clip) args.push(`--use-file-for-fake-video-capture=${o.clip}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}
