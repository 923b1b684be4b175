import { sliceHook } from '../../../shared/store/store-context.tsx';
import type { DashboardsSlice } from './dashboards-slice.ts';

export const useDashboards = sliceHook<DashboardsSlice>();
