import { sliceHook } from '../../../shared/store/store-context.tsx';
import type { JobsSlice } from './jobs-slice.ts';

export const useJobs = sliceHook<JobsSlice>();
