import { sliceHook } from '../../../shared/store/store-context.tsx';
import type { SettingsSlice } from './settings-slice.ts';

export const useSettings = sliceHook<SettingsSlice>();
