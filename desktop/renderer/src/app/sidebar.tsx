import { useRef, type KeyboardEvent } from 'react';
import { SCREENS, type ScreenId } from './screens.ts';

/** Roving focus: Up/Down/Home/End move between items, Enter/Space (native buttons) activate. */
export function Sidebar({ current, onSelect, footer }: { current: ScreenId; onSelect: (id: ScreenId) => void; footer?: string }) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const onKeyDown = (e: KeyboardEvent<HTMLElement>) => {
    const i = refs.current.findIndex((el) => el === document.activeElement);
    if (i < 0) return;
    const next =
      e.key === 'ArrowDown' ? (i + 1) % SCREENS.length
      : e.key === 'ArrowUp' ? (i - 1 + SCREENS.length) % SCREENS.length
      : e.key === 'Home' ? 0
      : e.key === 'End' ? SCREENS.length - 1
      : -1;
    if (next >= 0) {
      e.preventDefault();
      refs.current[next]?.focus();
    }
  };
  return (
    <nav className="sidebar" aria-label="Screens" onKeyDown={onKeyDown}>
      <div className="brand">
        Tiercast<small>operator console</small>
      </div>
      {SCREENS.map((s, i) => (
        <button
          key={s.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          type="button"
          className="nav-item"
          data-screen={s.id}
          aria-current={s.id === current ? 'page' : undefined}
          tabIndex={s.id === current ? 0 : -1}
          onClick={() => onSelect(s.id)}
        >
          {s.label}
          <kbd aria-hidden="true">Alt+{i + 1}</kbd>
        </button>
      ))}
      {footer && <div className="sidebar-foot">{footer}</div>}
    </nav>
  );
}
