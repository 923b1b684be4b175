// @vitest-environment happy-dom
import { createElement } from 'react';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileTable, ROW_HEIGHT } from '../../../desktop/renderer/src/features/upload/components/file-table.tsx';
import type { UploadRow } from '../../../desktop/renderer/src/features/upload/stores/upload-slice.ts';
import { localRoute, readyMedia } from './fake-services.tsx';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function rows(n: number): UploadRow[] {
  return Array.from({ length: n }, (_, i) => {
    const problem = i % 100 === 7;
    return {
      key: `f${i}`,
      fileId: `f${i}`,
      name: `clip-${String(i).padStart(5, '0')}.mp4`,
      relativeDir: i % 2 ? 'day1' : '',
      sizeBytes: 1_000_000 + i,
      state: problem ? 'problem' : 'ready',
      media: problem ? null : readyMedia,
      problem: problem ? { code: 'NOT_MEDIA', message: 'not a video' } : null,
      route: problem ? null : localRoute,
    };
  });
}

// happy-dom does no layout: give scrollers the size a desktop window would (the virtualiser measures them).
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 600 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1000 });

let container: HTMLDivElement;
let root: Root;
beforeEach(() => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

const renderedNames = () => [...container.querySelectorAll('[role=row][data-name]')].map((r) => r.getAttribute('data-name'));

describe('virtualised file table', () => {
  it('renders a window of rows, not 5,000, and follows the scroll position', async () => {
    const data = rows(5000);
    act(() => root.render(createElement(FileTable, { rows: data, selected: {}, uploads: {}, onSelect: () => {}, initialHeight: 600 })));
    const first = renderedNames();
    expect(first.length).toBeGreaterThan(10);
    expect(first.length).toBeLessThan(80);
    expect(first[0]).toBe('clip-00000.mp4');
    // The scroller is as tall as all rows, so the scrollbar is honest.
    const sizer = container.querySelector('[data-testid=file-table-scroll] > div') as HTMLDivElement;
    expect(sizer.style.height).toBe(`${5000 * ROW_HEIGHT}px`);

    const scroller = container.querySelector('[data-testid=file-table-scroll]') as HTMLDivElement;
    await act(async () => {
      scroller.scrollTop = 4000 * ROW_HEIGHT;
      scroller.dispatchEvent(new Event('scroll'));
      await new Promise((r) => setTimeout(r, 20));
    });
    const later = renderedNames();
    expect(later).toContain('clip-04000.mp4');
    expect(later).not.toContain('clip-00000.mp4');
    expect(later.length).toBeLessThan(80);
  });

  it('flags problem rows with their code and keeps them unselectable', () => {
    const onSelect = vi.fn();
    act(() => root.render(createElement(FileTable, { rows: rows(20), selected: { f1: true }, uploads: {}, onSelect })));
    const bad = container.querySelector('[data-name="clip-00007.mp4"]')!;
    expect(bad.getAttribute('data-state')).toBe('problem');
    expect(bad.textContent).toContain('NOT_MEDIA');
    expect((bad.querySelector('input[type=checkbox]') as HTMLInputElement).disabled).toBe(true);
    const good = container.querySelector('[data-name="clip-00001.mp4"]')!;
    expect(good.getAttribute('aria-selected')).toBe('true');
    expect(good.textContent).toContain('local');
    expect(good.textContent).toContain('320×180');

    act(() => (container.querySelector('[data-name="clip-00003.mp4"]') as HTMLElement).click());
    expect(onSelect).toHaveBeenLastCalledWith(['f3'], 'only');
    act(() => (container.querySelector('[data-name="clip-00009.mp4"]') as HTMLElement).dispatchEvent(new MouseEvent('click', { bubbles: true, shiftKey: true })));
    // Shift-click selects the ready rows of the range and skips the flagged one (7).
    expect(onSelect).toHaveBeenLastCalledWith(['f3', 'f4', 'f5', 'f6', 'f8', 'f9'], 'add');
  });
});
