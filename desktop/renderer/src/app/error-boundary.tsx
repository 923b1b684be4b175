import { Component, type ReactNode } from 'react';
import { ErrorBanner } from '../shared/components/feedback.tsx';
import { toUiError, type UiError } from '../shared/errors.ts';

/** A screen that throws while rendering shows its error instead of blanking the whole window. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: UiError | null }> {
  override state: { error: UiError | null } = { error: null };

  static getDerivedStateFromError(err: unknown) {
    return { error: toUiError(err) };
  }

  override render() {
    if (this.state.error) {
      return (
        <div className="screen">
          <ErrorBanner error={this.state.error} onRetry={() => this.setState({ error: null })} />
        </div>
      );
    }
    return this.props.children;
  }
}
