import { describe, expect, it } from 'vitest';
import { createStore } from 'zustand/vanilla';
import { createPreviewSlice, validateLadder, type PreviewSlice } from '../../../desktop/renderer/src/features/preview/stores/preview-slice.ts';
import { createSettingsSlice, validateDraft, type SettingsSlice } from '../../../desktop/renderer/src/features/settings/stores/settings-slice.ts';
import { periodFor, queryFor } from '../../../desktop/renderer/src/features/dashboards/stores/dashboards-slice.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import type { SettingsView } from '../../../shared/common/api-contract.ts';
import { fakeServices } from './fake-services.tsx';

describe('preview slice', () => {
  it('validates edited rungs with the ladder schema and reports the field', () => {
    const l = getLadder('default');
    expect(validateLadder(l).errors).toEqual({});
    const bad = { ...l, rungs: l.rungs.map((r, i) => (i === 1 ? { ...r, maxrate: r.videoBitrate - 1000 } : r)) };
    expect(validateLadder(bad).errors).toEqual({ 'rungs.1.maxrate': 'maxrate must be >= videoBitrate' });
  });

  it('edits a draft, runs it with the edited ladder, and saves it under a new name', async () => {
    const base = getLadder('default');
    const fake = fakeServices({
      'ladders.list': () => ({ ladders: [{ name: 'default', description: '', builtin: true, rungs: [] }], defaultLadder: 'default' }),
      'ladders.get': ({ name }) => ({ ladder: getLadder(name), builtin: true }),
      'ladders.save': ({ ladder }) => ({ ladder: ladder as never }),
      'preview.run': ({ runId }) => ({ runId, frameAtSec: 1, source: { width: 320, height: 180, frameUrl: '/media/preview/s.jpg' }, rungs: [], dropped: [], vmafAvailable: false, elapsedSec: 1 }),
    });
    const store = createStore<PreviewSlice>()(createPreviewSlice(fake.services));
    const a = store.getState().previewActions;
    await a.loadLadders();
    expect(store.getState().preview.draft?.name).toBe('default');
    a.setFile('f1');
    a.setWindow(-3, 99);
    expect([store.getState().preview.startSec, store.getState().preview.durationSec]).toEqual([0, 30]);
    a.setWindow(1, 2);
    a.editRung(0, 'videoBitrate', 5_000_000);
    a.removeRung(5);
    expect(store.getState().preview.dirty).toBe(true);
    await a.run();
    const req = fake.callsOf('preview.run')[0] as { ladder: { rungs: { videoBitrate: number }[] }; fileId: string; startSec: number; durationSec: number };
    expect(req.fileId).toBe('f1');
    expect([req.startSec, req.durationSec]).toEqual([1, 2]);
    expect(req.ladder.rungs).toHaveLength(base.rungs.length - 1);
    expect(req.ladder.rungs[0]!.videoBitrate).toBe(5_000_000);
    expect(store.getState().preview.result?.frameAtSec).toBe(1);

    // An invalid edit blocks the run and shows the field error instead.
    a.editRung(0, 'bufsize', 100_000);
    await a.run();
    expect(fake.callsOf('preview.run')).toHaveLength(1);
    expect(store.getState().preview.draftErrors['rungs.0.bufsize']).toMatch(/bufsize/);
    a.editRung(0, 'bufsize', 8_000_000);

    await a.saveAs('my-ladder');
    expect((fake.callsOf('ladders.save')[0] as { ladder: { name: string } }).ladder.name).toBe('my-ladder');
    expect(store.getState().preview.savedAs).toBe('my-ladder');
    expect(store.getState().preview.dirty).toBe(false);
  });

  it('a rung set to AV1 goes to the preview with its codec, and an added rung inherits the family above it', async () => {
    const fake = fakeServices({
      'ladders.list': () => ({ ladders: [{ name: 'default', description: '', builtin: true, rungs: [] }], defaultLadder: 'default' }),
      'ladders.get': ({ name }) => ({ ladder: getLadder(name), builtin: true }),
      'preview.run': ({ runId }) => ({ runId, frameAtSec: 1, source: { width: 320, height: 180, frameUrl: '/media/preview/s.jpg' }, rungs: [], dropped: [], vmafAvailable: false, elapsedSec: 1 }),
    });
    const store = createStore<PreviewSlice>()(createPreviewSlice(fake.services));
    const a = store.getState().previewActions;
    await a.loadLadders();
    a.setFile('f1');
    const last = getLadder('default').rungs.length - 1;
    a.setRungCodec(last, 'av1');
    a.addRung();
    await a.run();
    const req = fake.callsOf('preview.run')[0] as { ladder: { rungs: { codec: string }[] } };
    expect(req.ladder.rungs.map((r) => r.codec)).toEqual([...Array(last).fill('h264'), 'av1', 'av1']);
  });
});

const view: SettingsView = {
  configPath: '/home/op/.local/share/tiercast/config.json',
  store: { kind: 'local', path: '/home/op/.local/share/tiercast/store' },
  aws: { profile: null, region: null },
  tiers: { enabled: ['local'], lambdaFunctionName: null, lambdaFunctionNameEnhanced: null, ecsClusterName: null, ecsTaskDefinition: null, ecsSubnets: [], ecsSecurityGroups: [], queueUrl: null, localConcurrency: 1 },
  thresholds: { lambdaMaxBytes: 50 * 2 ** 20, lambdaEnhancedMaxBytes: 150 * 2 ** 20, onDemandMinBytes: 2 ** 30, spotShare: 0.7, maxInputBytes: 50 * 2 ** 30 },
  prices: { region: 'us-east-1', date: '2026-06-01', overridden: false },
};

describe('settings slice', () => {
  it('names every invalid field', () => {
    const { errors } = validateDraft({
      store: { kind: 's3', bucket: 'Bad_Bucket', prefix: '/x', endpoint: null },
      aws: { profile: null, region: 'mars-1' },
      tiers: { ...view.tiers, enabled: [] },
      thresholds: { ...view.thresholds, spotShare: 2, lambdaEnhancedMaxBytes: 1 },
    });
    expect(Object.keys(errors).sort()).toEqual(['aws.region', 'store.bucket', 'store.prefix', 'thresholds.lambdaEnhancedMaxBytes', 'thresholds.spotShare', 'tiers.enabled']);
  });

  it('saves only a valid draft and tests the connection with the unsaved values', async () => {
    const fake = fakeServices({
      'settings.get': () => ({ settings: view }),
      'settings.save': ({ patch }) => ({ settings: { ...view, ...(patch as object) } as SettingsView }),
      'settings.testConnection': () => ({ ok: false, checks: [{ name: 'store', ok: false, message: 'NoSuchBucket', elapsedMs: 12 }] }),
    });
    const store = createStore<SettingsSlice>()(createSettingsSlice(fake.services));
    const a = store.getState().settingsActions;
    await a.load();
    a.edit((d) => ({ ...d, store: { kind: 's3', bucket: 'x', prefix: '', endpoint: null } }));
    expect(store.getState().settings.errors['store.bucket']).toBeDefined();
    await a.save();
    expect(fake.callsOf('settings.save')).toHaveLength(0);
    a.edit((d) => ({ ...d, store: { kind: 's3', bucket: 'media-bucket', prefix: 'in/', endpoint: null } }));
    await a.testConnection();
    expect((fake.callsOf('settings.testConnection')[0] as { patch: { store: unknown } }).patch.store).toEqual({ kind: 's3', bucket: 'media-bucket', prefix: 'in/', endpoint: null });
    expect(store.getState().settings.test?.ok).toBe(false);
    await a.save();
    expect(fake.callsOf('settings.save')).toHaveLength(1);
    expect(store.getState().settings.saved?.store).toEqual({ kind: 's3', bucket: 'media-bucket', prefix: 'in/', endpoint: null });
  });
});

describe('dashboards ranges', () => {
  it('keeps at most ~240 points per line and aligns the end to the period', () => {
    expect(periodFor(3600)).toBe(60);
    expect(periodFor(86_400)).toBe(900);
    expect(periodFor(7 * 86_400)).toBe(3600);
    const now = Date.parse('2026-11-22T03:07:30Z');
    expect(queryFor({ range: '1h', customFrom: '', customTo: '' }, now)).toEqual({ from: '2026-11-22T02:08:00.000Z', to: '2026-11-22T03:08:00.000Z', periodSec: 60 });
    expect(queryFor({ range: 'custom', customFrom: '2026-11-01T00:00:00Z', customTo: '2026-11-03T00:00:00Z' }, now).periodSec).toBe(900);
  });
});
