import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './styles.css';
import { App } from './app/app.tsx';
import { createAppStore } from './app/store.ts';
import { createServices } from './services/api.ts';
import { toUiError } from './shared/errors.ts';
import { ErrorBanner } from './shared/components/feedback.tsx';

const root = createRoot(document.getElementById('root')!);
try {
  const services = createServices();
  const store = createAppStore(services);
  root.render(
    <StrictMode>
      <App services={services} store={store} />
    </StrictMode>,
  );
} catch (err) {
  root.render(
    <div className="screen">
      <h1>Tiercast console</h1>
      <ErrorBanner error={toUiError(err)} />
    </div>,
  );
}
