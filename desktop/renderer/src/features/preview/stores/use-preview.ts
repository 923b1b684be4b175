import { sliceHook } from '../../../shared/store/store-context.tsx';
import type { PreviewSlice } from './preview-slice.ts';

export const usePreview = sliceHook<PreviewSlice>();
