import { useRef, useState, type DragEvent, type ReactNode } from 'react';
import { entriesFromDrop, pickedFromInput, walkEntries } from '../hooks/collect-files.ts';
import type { PickedFile } from '../stores/upload-slice.ts';

/** Drop files or folders anywhere on it, or use the two pickers (a file input and a folder input). */
/**
 * `onDropPaths` (Electron) gets the first chance: given what was dropped (folders included) it returns true when it
 * could take them as paths, and the renderer then never walks or reads the files itself.
 */
export function DropZone({ onFiles, onDropPaths, children }: { onFiles(files: PickedFile[]): void; onDropPaths?(dropped: File[]): boolean; children?: ReactNode }) {
  const [over, setOver] = useState(false);
  const [walking, setWalking] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const { entries, loose, topLevel } = entriesFromDrop(e.dataTransfer);
    if (topLevel.length && onDropPaths?.(topLevel)) return;
    const fromLoose = loose.map((file) => ({ file, relativeDir: '' }));
    if (!entries.length) return onFiles(fromLoose);
    setWalking(true);
    void walkEntries(entries)
      .then((walked) => onFiles([...walked, ...fromLoose]))
      .finally(() => setWalking(false));
  };

  return (
    <div
      className={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
        if (!over) setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      data-testid="dropzone"
    >
      <div className="toolbar" style={{ justifyContent: 'center' }}>
        <span>{walking ? 'Reading folders…' : 'Drop video files or folders here, or'}</span>
        <button type="button" className="btn" onClick={() => fileInput.current?.click()}>
          Choose files…
        </button>
        <button type="button" className="btn" onClick={() => folderInput.current?.click()}>
          Choose folder…
        </button>
        {children}
      </div>
      <input
        ref={fileInput}
        type="file"
        multiple
        hidden
        data-testid="file-input"
        onChange={(e) => {
          onFiles(pickedFromInput(e.currentTarget.files));
          e.currentTarget.value = '';
        }}
      />
      <input
        ref={(el) => {
          folderInput.current = el;
          // React does not know webkitdirectory; set it on the element.
          if (el) el.setAttribute('webkitdirectory', '');
        }}
        type="file"
        multiple
        hidden
        data-testid="folder-input"
        onChange={(e) => {
          onFiles(pickedFromInput(e.currentTarget.files));
          e.currentTarget.value = '';
        }}
      />
    </div>
  );
}
