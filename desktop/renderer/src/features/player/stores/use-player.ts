import { sliceHook } from '../../../shared/store/store-context.tsx';
import type { PlayerSlice } from './player-slice.ts';

export const usePlayer = sliceHook<PlayerSlice>();
