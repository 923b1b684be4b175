// @vitest-environment happy-dom
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStore } from 'zustand/vanilla';
import { PerTitleChart, perTitleChartData } from '../../../desktop/renderer/src/features/preview/components/per-title-chart.tsx';
import { AUTO_LADDER, createPreviewSlice, type PreviewSlice } from '../../../desktop/renderer/src/features/preview/stores/preview-slice.ts';
import { contract as ApiContract, type PerTitleView } from '../../../shared/common/api-contract.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { fakeServices } from './fake-services.tsx';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const analysis: PerTitleView = {
  metric: 'ssim-db',
  points: [
    { width: 960, height: 540, bitrate: 600_000, quality: 15.9 },
    { width: 960, height: 540, bitrate: 2_000_000, quality: 22.7 },
    { width: 640, height: 360, bitrate: 200_000, quality: 11.4 },
    { width: 640, height: 360, bitrate: 720_000, quality: 13.1 },
  ],
  hull: [
    { width: 640, height: 360, bitrate: 200_000, quality: 11.4 },
    { width: 960, height: 540, bitrate: 2_000_000, quality: 22.7 },
  ],
  chosen: [
    { width: 960, height: 540, bitrate: 2_000_000, quality: 22.5, why: 'capped at the base ladder top rate' },
    { width: 640, height: 360, bitrate: 300_000, quality: 11.9, why: 'floor rung for poor networks' },
  ],
  cpuSec: 4.2,
  elapsedSec: 9,
};

let host: HTMLDivElement;
let root: Root;
beforeEach(() => {
  host = document.createElement('div');
  document.body.append(host);
  root = createRoot(host);
  // happy-dom has no 2D canvas: chart.js then draws nothing, which is all these tests need.
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => {
  act(() => root.unmount());
  host.remove();
  vi.restoreAllMocks();
});

describe('per-title chart', () => {
  it('plots every trial, the hull and the chosen rungs at their bitrate and quality', () => {
    const data = perTitleChartData(analysis);
    expect(data.datasets.map((d) => d.label)).toEqual(['Trials', 'Convex hull', 'Chosen rungs']);
    expect(data.datasets[0]!.data.map((p) => [p.x, p.y])).toEqual(analysis.points.map((p) => [p.bitrate, p.quality]));
    expect(data.datasets[1]!.data.map((p) => p.x)).toEqual([200_000, 2_000_000]);
    expect(data.datasets[2]!.data.map((p) => p.label)).toEqual(['960×540', '640×360']);
  });

  it('renders a canvas and a row per chosen rung', () => {
    act(() => root.render(createElement(PerTitleChart, { analysis })));
    expect(host.querySelector('figure[aria-label="Per-title rate-quality hull"] canvas')).not.toBeNull();
    const rows = [...host.querySelectorAll('table[aria-label="Chosen rungs"] tbody tr')].map((tr) => tr.textContent);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('960×540');
    expect(rows[0]).toContain('22.50');
    expect(rows[1]).toContain('floor rung');
    expect(host.textContent).toContain('4 trials, 2 rungs chosen');
  });
});

describe('Automatic in the preview', () => {
  it('sends the default ladder as the base with auto, and keeps the analysis of the answer', async () => {
    const fake = fakeServices({
      'ladders.get': ({ name }) => ({ ladder: getLadder(name), builtin: true }),
      'preview.run': ({ runId }) => ({
        runId, frameAtSec: 1, source: { width: 960, height: 540, frameUrl: '/media/preview/s.jpg' }, rungs: [], dropped: [], vmafAvailable: false, elapsedSec: 1, perTitle: analysis,
      }),
    });
    const store = createStore<PreviewSlice>()(createPreviewSlice(fake.services));
    const a = store.getState().previewActions;
    await a.pickLadder(AUTO_LADDER);
    expect(fake.callsOf('ladders.get')[0]).toEqual({ name: 'default' });
    a.setFile('f1');
    await a.run();
    const req = fake.callsOf('preview.run')[0] as { auto?: boolean; ladder: { name: string } };
    expect(req.auto).toBe(true);
    expect(req.ladder.name).toBe('default');
    expect(store.getState().preview.result?.perTitle?.chosen).toHaveLength(2);
  });

  it('the contract accepts the analysis and rejects a chosen rung without its reason', () => {
    const schema = ApiContract['preview.run'].response;
    const base = { runId: 'r1', frameAtSec: 1, source: { width: 1, height: 1, frameUrl: '/x' }, rungs: [], dropped: [], vmafAvailable: false, elapsedSec: 1 };
    expect(schema.safeParse({ ...base, perTitle: analysis }).success).toBe(true);
    const bad = { ...analysis, chosen: [{ width: 1, height: 1, bitrate: 1, quality: 1 }] };
    expect(schema.safeParse({ ...base, perTitle: bad }).success).toBe(false);
    expect(ApiContract['preview.run'].request.safeParse({ runId: 'r1', fileId: 'f1', ladder: getLadder('default'), auto: true, startSec: 0, durationSec: 2 }).success).toBe(true);
    expect(ApiContract['preview.run'].request.safeParse({ runId: 'r1', fileId: 'f1', ladder: getLadder('default'), auto: 'yes', startSec: 0, durationSec: 2 }).success).toBe(false);
  });
});
