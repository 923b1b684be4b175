/** The six screens, in sidebar order; Alt+1..6 jumps to them. */
export const SCREENS = [
  { id: 'upload', label: 'Upload' },
  { id: 'preview', label: 'Ladder preview' },
  { id: 'jobs', label: 'Jobs' },
  { id: 'dashboards', label: 'Dashboards' },
  { id: 'player', label: 'Player' },
  { id: 'settings', label: 'Settings' },
] as const;

export type ScreenId = (typeof SCREENS)[number]['id'];

export function isScreenId(v: unknown): v is ScreenId {
  return SCREENS.some((s) => s.id === v);
}
