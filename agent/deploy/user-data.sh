#!/bin/bash
# Tiercast agent host bootstrap (Debian 12 bookworm), run once by cloud-init as root.
# The CDK launch template (cloud/infra/constructs/agents.ts) first writes /etc/tiercast/agent.env (bucket, queues,
# job table, the release's S3 location and sha256, the pinned ffmpeg) and /usr/local/lib/tiercast/bootstrap-lib.sh,
# then appends this script without its first line. Run by hand, it takes the same names from its own environment and
# needs agent/deploy/bootstrap-lib.sh beside it. Optional extra settings:
#   - instance tags named TIERCAST_* (needs "instance metadata tags" on the launch template), appended to agent.env
#     as data (validated, never run as shell);
#   - TIERCAST_SSM_CONFIG_PARAMETER: an SSM parameter holding config.json (SecureString allowed).
# The app is the release the stack published (`npm run release:agent`): a tarball with its own Node 22 binary, the
# bundled CLI and its one native module, checked against TIERCAST_RELEASE_SHA256 before anything in it runs. No npm,
# no git, no compiler on the host. ffmpeg is Debian's, the pinned version, its .deb checked against its hash.
set -euo pipefail
exec > >(tee -a /var/log/tiercast-bootstrap.log | logger -t tiercast-bootstrap) 2>&1

ENV_FILE=/etc/tiercast/agent.env
APP_DIR=/opt/tiercast
DATA_DIR=/var/lib/tiercast
LIB=/usr/local/lib/tiercast/bootstrap-lib.sh
[ -f "$LIB" ] || LIB="$(dirname "$0")/bootstrap-lib.sh"
# shellcheck source=bootstrap-lib.sh
. "$LIB"
mkdir -p /etc/tiercast
touch "$ENV_FILE"
chmod 0640 "$ENV_FILE"

# Settings given to this script's environment (manual runs) that the env file does not have yet.
for name in $(compgen -e | grep -E '^(TIERCAST_|AWS_REGION$)' || true); do
  tc_add_setting "$ENV_FILE" "$name" "${!name}" || true
done

# IMDSv2 (the launch template requires it).
imds() {
  local token
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

# Instance tags named TIERCAST_* fill in what the template did not set; names and values are validated data.
if tags=$(imds meta-data/tags/instance 2>/dev/null); then
  while IFS= read -r tag; do
    tc_valid_name "$tag" || continue
    value=$(imds "meta-data/tags/instance/$tag") || continue
    tc_add_setting "$ENV_FILE" "$tag" "$value" || true
  done <<< "$tags"
fi

tc_load_env "$ENV_FILE"
: "${AWS_REGION:=$(imds meta-data/placement/region || echo us-east-1)}"
tc_add_setting "$ENV_FILE" AWS_REGION "$AWS_REGION"

# ---- packages: tools and the pinned ffmpeg ---------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends ca-certificates curl awscli logrotate
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download "ffmpeg=${TIERCAST_FFMPEG_VERSION:?TIERCAST_FFMPEG_VERSION is required}")
deb=$(ls "$tmp"/ffmpeg_*.deb)
tc_verify_deb "$deb" "${TIERCAST_FFMPEG_DEB_SHA256:?TIERCAST_FFMPEG_DEB_SHA256 is required}"
apt-get install -y --no-install-recommends "$deb"
rm -rf "$tmp"
ffmpeg -hide_banner -version | head -1 | grep -F "ffmpeg version ${TIERCAST_FFMPEG_VERSION#*:} "

# ---- user and folders -------------------------------------------------------------------------------------------------
id tiercast >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin tiercast
mkdir -p "$DATA_DIR" "$APP_DIR/releases"
chown tiercast:tiercast "$DATA_DIR"
chmod 0750 "$DATA_DIR"
chgrp tiercast "$ENV_FILE"

# ---- the release: download, check the hash, unpack, point `current` at it ---------------------------------------------
release_tgz=$(mktemp --suffix=.tgz)
aws s3 cp --only-show-errors --region "$AWS_REGION" "${TIERCAST_RELEASE_URL:?TIERCAST_RELEASE_URL is required (run npm run release:agent before cdk deploy)}" "$release_tgz"
tc_verify_release "$release_tgz" "${TIERCAST_RELEASE_SHA256:?TIERCAST_RELEASE_SHA256 is required}"
release_dir="$APP_DIR/releases/$TIERCAST_RELEASE_SHA256"
rm -rf "$release_dir"
mkdir -p "$release_dir"
tar -xzf "$release_tgz" -C "$release_dir" --strip-components=1 --no-same-owner
rm -f "$release_tgz"
chown -R root:root "$release_dir"
ln -sfn "$release_dir" "$APP_DIR/current"
"$APP_DIR/current/bin/node" "$APP_DIR/current/tiercast.mjs" agent --help >/dev/null

# ---- configuration from SSM (optional) -------------------------------------------------------------------------------
if [ -n "${TIERCAST_SSM_CONFIG_PARAMETER:-}" ]; then
  aws ssm get-parameter --region "$AWS_REGION" --with-decryption --name "$TIERCAST_SSM_CONFIG_PARAMETER" \
    --query Parameter.Value --output text > "$DATA_DIR/config.json.tmp"
  "$APP_DIR/current/bin/node" -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$DATA_DIR/config.json.tmp"
  install -o tiercast -g tiercast -m 0640 "$DATA_DIR/config.json.tmp" "$DATA_DIR/config.json"
  rm -f "$DATA_DIR/config.json.tmp"
fi

# ---- logs and metrics to CloudWatch (when the stack gave a log group) --------------------------------------------------
mkdir -p /var/log/tiercast
cat > /etc/logrotate.d/tiercast <<'ROTATE'
/var/log/tiercast/*.log {
  daily
  rotate 7
  maxsize 200M
  compress
  missingok
  notifempty
  copytruncate
}
ROTATE
if [ -n "${TIERCAST_AGENT_LOG_GROUP:-}" ]; then
  case "$(dpkg --print-architecture)" in arm64) cw_arch=arm64 ;; *) cw_arch=amd64 ;; esac
  # AWS's own package over HTTPS from AWS's bucket (Debian does not carry it).
  curl -sfL -o /tmp/amazon-cloudwatch-agent.deb "https://amazoncloudwatch-agent.s3.amazonaws.com/debian/${cw_arch}/latest/amazon-cloudwatch-agent.deb"
  apt-get install -y /tmp/amazon-cloudwatch-agent.deb
  rm -f /tmp/amazon-cloudwatch-agent.deb
  cat > /opt/aws/amazon-cloudwatch-agent/etc/tiercast.json <<CWAGENT
{
  "agent": { "run_as_user": "root" },
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          { "file_path": "/var/log/tiercast/metrics.log", "log_group_name": "${TIERCAST_AGENT_LOG_GROUP}", "log_stream_name": "{instance_id}/metrics" },
          { "file_path": "/var/log/tiercast/agent.log", "log_group_name": "${TIERCAST_AGENT_LOG_GROUP}", "log_stream_name": "{instance_id}/agent" }
        ]
      }
    }
  }
}
CWAGENT
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
    -c file:/opt/aws/amazon-cloudwatch-agent/etc/tiercast.json
fi

# ---- service (the unit ships in the release) --------------------------------------------------------------------------
install -m 0644 "$APP_DIR/current/tiercast-agent.service" /etc/systemd/system/tiercast-agent.service
systemctl daemon-reload
systemctl enable --now tiercast-agent.service
echo "tiercast agent enabled"
