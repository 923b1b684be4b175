import { createContext, useContext, type ReactNode } from 'react';
import { useStore, type StoreApi } from 'zustand';

/**
 * The app composes one zustand store out of every feature's slice (app/store.ts). Features must not import
 * the app, so they reach the store through this context and see only their own slice's type: the combined
 * store is a superset of each slice, so reading it as `StoreApi<Slice>` is sound.
 */
const StoreContext = createContext<StoreApi<unknown> | null>(null);

export function StoreProvider({ store, children }: { store: StoreApi<unknown>; children: ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

export function useStoreApi<S>(): StoreApi<S> {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useStoreApi: no StoreProvider above this component');
  return store as StoreApi<S>;
}

/** A typed hook for one slice: `export const useUpload = sliceHook<UploadSlice>()`. */
export function sliceHook<S>() {
  return function useSlice<T>(selector: (state: S) => T): T {
    return useStore(useStoreApi<S>(), selector);
  };
}
