/**
 * The one ffmpeg every cloud tier runs, and the one base image it runs on (issue 9 §3):
 * Debian bookworm's ffmpeg 5.1, the build CI tests against (/usr/bin/ffmpeg on the test machines), pinned by package
 * version and by the sha256 of its .deb. The worker images install it from the pinned base image (both Dockerfiles
 * take these as build arguments, and their defaults must equal them: test/cloud/infra checks), and the EC2 agents
 * (Debian 12 hosts) install the same package version the same way, checked against the same hash.
 *
 * Updating: pick the new bookworm version (`apt-cache policy ffmpeg`), `apt-get download ffmpeg=<version>` for each
 * architecture and put `sha256sum` of each .deb here; refresh the base digest with
 * `docker buildx imagetools inspect node:22-bookworm-slim` (the index digest, which serves amd64 and arm64).
 */
export const FFMPEG_PIN = {
  /** Debian package version (epoch included), as `apt-get install ffmpeg=<version>` wants it. */
  debianVersion: '7:5.1.9-0+deb12u1',
  /** What `ffmpeg -version` prints after "ffmpeg version ". */
  version: '5.1.9-0+deb12u1',
  /** sha256 of ffmpeg_<version>_<arch>.deb. An architecture missing here cannot be built (synth says so). */
  debSha256: {
    amd64: '2ba8ead87657c123ce6de2de5ecdbc1fb4ead9a4b317b85b8ec41e16c890fe01',
  } as Readonly<Partial<Record<'amd64' | 'arm64', string>>>,
} as const;

/** Node 22 LTS on Debian bookworm, pinned by digest: the base of both worker images. */
export const NODE_BASE_IMAGE = 'node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c';

/** The Lambda runtime interface client, so the Debian image serves Lambda (npm package, pinned). */
export const LAMBDA_RIC_VERSION = '4.0.2';

export function ffmpegDebSha256(arch: 'amd64' | 'arm64'): string {
  const sha = FFMPEG_PIN.debSha256[arch];
  if (!sha) throw new Error(`CONFIG_INVALID: no pinned ffmpeg .deb hash for ${arch}: add it to cloud/infra/ffmpeg-pin.ts`);
  return sha;
}
