export function applyNagSuppressions(_stack: unknown): void {}
