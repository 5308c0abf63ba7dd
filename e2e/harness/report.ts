import fs from 'node:fs';
import path from 'node:path';
import type { LoadResult } from './load';
import { OUTPUT_DIR } from './processes';

/** One scenario's figures, as printed and as written to test-output/e2e/results.json. */
export interface ScenarioFigures {
  scenario: string;
  sent: number;
  ok: number;
  failed: number;
  [extra: string]: unknown;
}

const RESULTS = path.join(OUTPUT_DIR, 'results.json');

/**
 * Prints `sent / ok / failed` (and extras) for a scenario on stdout (not console.log: no jest call-site
 * noise) and merges it into test-output/e2e/results.json, the source of README's Reliability figures.
 */
export function report(
  scenario: string,
  load: LoadResult | undefined,
  extra: Record<string, unknown> = {},
): void {
  const figures: ScenarioFigures = {
    scenario,
    sent: load?.sent ?? 0,
    ok: load?.ok ?? 0,
    failed: load?.failed ?? 0,
    ...(load ? { byStatus: load.byStatus, durationMs: load.durationMs } : {}),
    ...extra,
  };
  const extras = Object.entries(figures)
    .filter(([k]) => !['scenario', 'sent', 'ok', 'failed'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  process.stdout.write(
    `[e2e] ${scenario}: sent=${figures.sent} ok=${figures.ok} failed=${figures.failed} ${extras}\n`,
  );
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  let all: Record<string, ScenarioFigures> = {};
  try {
    all = JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as Record<string, ScenarioFigures>;
  } catch {
    /* first scenario of the run */
  }
  all[scenario] = { ...figures, at: new Date().toISOString() };
  fs.writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
}
