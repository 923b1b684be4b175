import { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag suppressions, each narrowed to one finding and carrying its reason (issue 9 §4). The tests run the
 * AwsSolutions pack on the synthesised stack and fail on any unsuppressed finding or a suppression without its
 * `appliesTo` (test/cloud/infra/nag.test.ts).
 */

/** A resource with a `*` in it that a statement names on purpose, and why. */
export interface Wildcard {
  readonly resource: string;
  readonly reason: string;
}

/** cdk-nag's spelling of a resolved ARN: `<Logical.Attr>` for GetAtt, `<Logical>` for Ref, joins flattened. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = value as Record<string, unknown>;
  if (typeof o.Ref === 'string') return `<${o.Ref}>`;
  if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  if (Array.isArray(o['Fn::Join'])) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  throw new Error(`nag: cannot render ${JSON.stringify(value)}`);
}

/** Suppress AwsSolutions-IAM5 for exactly these wildcard resources on `scope` (a role or policy) and its children. */
export function allowWildcards(scope: IConstruct, wildcards: readonly Wildcard[]): void {
  const stack = Stack.of(scope);
  const seen = new Set<string>();
  const rules = wildcards.flatMap((w) => {
    const finding = `Resource::${render(stack.resolve(w.resource))}`;
    if (seen.has(finding)) return [];
    seen.add(finding);
    return [{ id: 'AwsSolutions-IAM5', reason: w.reason, appliesTo: [finding] }];
  });
  NagSuppressions.addResourceSuppressions(scope, rules, true);
}

/** Suppress one rule on one resource, with the reason it is a choice. */
export function acceptFinding(scope: IConstruct, id: string, reason: string): void {
  NagSuppressions.addResourceSuppressions(scope, [{ id, reason }], true);
}
