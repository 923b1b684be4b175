import { IgnoreMode, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { FFMPEG_PIN, LAMBDA_RIC_VERSION, NODE_BASE_IMAGE, ffmpegDebSha256 } from '../ffmpeg-pin.ts';

/**
 * Where the worker images come from. `asset` (default): built from cloud/lambda/Dockerfile and
 * cloud/fargate/Dockerfile by `cdk deploy` (synth only stages the build context). `ecr`: prebuilt images.
 */
export type ImageSource =
  | { readonly kind: 'asset' }
  | { readonly kind: 'ecr'; readonly repositoryName: string; readonly lambdaTag: string; readonly fargateTag: string };

/**
 * The Docker build context is the repository root, whitelisted to what the images need, so staging at synth copies
 * a few hundred KB rather than node_modules and the other engineers' folders.
 */
export const DOCKER_CONTEXT_EXCLUDE = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!tsconfig.base.json',
  '!tsconfig.json',
  '!shared',
  '!cloud',
  'cloud/infra',
  '**/*.test.ts',
];

export type Arch = 'amd64' | 'arm64';

/** Build arguments of both Dockerfiles: the pinned base, ffmpeg and runtime interface client. */
export function buildArgs(arch: Arch): Record<string, string> {
  return {
    NODE_BASE: NODE_BASE_IMAGE,
    FFMPEG_VERSION: FFMPEG_PIN.debianVersion,
    FFMPEG_DEB_SHA256: ffmpegDebSha256(arch),
    LAMBDA_RIC_VERSION,
  };
}

const platformOf = (arch: Arch) => (arch === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64);

/** The Lambda image (both tiers; the escalation function with `cmd`), built for the functions' architecture. */
export function lambdaImage(stack: Stack, source: ImageSource, repoRoot: string, arch: Arch, cmd?: string[]): lambda.DockerImageCode {
  if (source.kind === 'ecr') {
    const repo = (stack.node.tryFindChild('LambdaRepository') as ecr.IRepository | undefined) ?? ecr.Repository.fromRepositoryName(stack, 'LambdaRepository', source.repositoryName);
    return lambda.DockerImageCode.fromEcr(repo, { tagOrDigest: source.lambdaTag, ...(cmd ? { cmd } : {}) });
  }
  return lambda.DockerImageCode.fromImageAsset(repoRoot, {
    file: 'cloud/lambda/Dockerfile',
    exclude: DOCKER_CONTEXT_EXCLUDE,
    ignoreMode: IgnoreMode.DOCKER,
    platform: platformOf(arch),
    buildArgs: buildArgs(arch),
    ...(cmd ? { cmd } : {}),
  });
}

/** The Fargate image, built for the task definition's architecture (X86_64). */
export function fargateImage(stack: Stack, source: ImageSource, repoRoot: string): ecs.ContainerImage {
  if (source.kind === 'ecr') return ecs.ContainerImage.fromEcrRepository(ecr.Repository.fromRepositoryName(stack, 'FargateRepository', source.repositoryName), source.fargateTag);
  return ecs.ContainerImage.fromAsset(repoRoot, {
    file: 'cloud/fargate/Dockerfile',
    exclude: DOCKER_CONTEXT_EXCLUDE,
    ignoreMode: IgnoreMode.DOCKER,
    platform: Platform.LINUX_AMD64,
    buildArgs: buildArgs('amd64'),
  });
}
