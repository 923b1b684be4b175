import { sliceHook } from '../../../shared/store/store-context.tsx';
import type { UploadSlice } from './upload-slice.ts';

export const useUpload = sliceHook<UploadSlice>();
