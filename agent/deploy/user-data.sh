#!/bin/bash
# Tiercast agent host bootstrap (Amazon Linux 2023), run once by cloud-init as root.
# The CDK launch template (cloud/infra/tiercast-stack.ts) first writes /etc/tiercast/agent.env with the bucket and
# queue URLs, then appends this script without its first line. Run by hand, it takes the same names from its own
# environment. Optional extra settings:
#   - instance tags named TIERCAST_* (needs "instance metadata tags" on the launch template), appended to agent.env;
#   - TIERCAST_SSM_CONFIG_PARAMETER: an SSM parameter holding config.json (SecureString allowed);
#   - TIERCAST_APP_SOURCE: where the app comes from: s3://bucket/key.tgz (default
#     s3://$TIERCAST_BUCKET/${TIERCAST_PREFIX}releases/tiercast-latest.tgz) or a git URL (with TIERCAST_APP_REF);
#   - TIERCAST_FFMPEG_URL: a static ffmpeg tarball (AL2023 ships no ffmpeg package).
set -euo pipefail
exec > >(tee -a /var/log/tiercast-bootstrap.log | logger -t tiercast-bootstrap) 2>&1

ENV_FILE=/etc/tiercast/agent.env
APP_DIR=/opt/tiercast
DATA_DIR=/var/lib/tiercast
mkdir -p /etc/tiercast
touch "$ENV_FILE"
chmod 0640 "$ENV_FILE"

# Settings given to this script's environment (manual runs) that the env file does not have yet.
for name in $(compgen -e | grep -E '^(TIERCAST_|AWS_REGION$)' || true); do
  grep -q "^${name}=" "$ENV_FILE" || printf '%s=%s\n' "$name" "${!name}" >> "$ENV_FILE"
done

# IMDSv2 (the launch template requires it).
imds() {
  local token
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

# Instance tags named TIERCAST_* become settings (tags win over nothing but fill what the template did not set).
if tags=$(imds meta-data/tags/instance 2>/dev/null); then
  for tag in $tags; do
    case "$tag" in
      TIERCAST_*)
        value=$(imds "meta-data/tags/instance/$tag")
        grep -q "^${tag}=" "$ENV_FILE" || printf '%s=%s\n' "$tag" "$value" >> "$ENV_FILE"
        ;;
    esac
  done
fi

set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
: "${AWS_REGION:=$(imds meta-data/placement/region || echo us-east-1)}"
grep -q '^AWS_REGION=' "$ENV_FILE" || echo "AWS_REGION=$AWS_REGION" >> "$ENV_FILE"

# ---- packages: node 20, ffmpeg, tools --------------------------------------------------------------------------------
dnf install -y nodejs20 nodejs20-npm tar xz git awscli-2 shadow-utils
[ -x /usr/bin/node ] || ln -sf /usr/bin/node-20 /usr/bin/node
[ -x /usr/bin/npm ] || ln -sf /usr/bin/npm-20 /usr/bin/npm
node --version | grep -q '^v20\.' || { echo "Tiercast needs node 20, got $(node --version)"; exit 1; }

if ! command -v ffmpeg >/dev/null; then
  case "$(uname -m)" in
    aarch64) arch=arm64 ;;
    *) arch=amd64 ;;
  esac
  url=${TIERCAST_FFMPEG_URL:-https://johnvansickle.com/ffmpeg/releases/ffmpeg-release-${arch}-static.tar.xz}
  tmp=$(mktemp -d)
  curl -sfL -o "$tmp/ffmpeg.tar.xz" "$url"
  if curl -sfL -o "$tmp/ffmpeg.tar.xz.md5" "$url.md5"; then
    (cd "$tmp" && sed 's/ .*$/  ffmpeg.tar.xz/' ffmpeg.tar.xz.md5 | md5sum -c -)
  fi
  tar -xJf "$tmp/ffmpeg.tar.xz" -C "$tmp"
  install -m 0755 "$tmp"/ffmpeg-*-static/ffmpeg "$tmp"/ffmpeg-*-static/ffprobe /usr/local/bin/
  ln -sf /usr/local/bin/ffmpeg /usr/bin/ffmpeg
  ln -sf /usr/local/bin/ffprobe /usr/bin/ffprobe
  rm -rf "$tmp"
fi
ffmpeg -hide_banner -version | head -1

# ---- user and folders -------------------------------------------------------------------------------------------------
id tiercast >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --shell /sbin/nologin tiercast
mkdir -p "$DATA_DIR" "$APP_DIR"
chown tiercast:tiercast "$DATA_DIR"
chmod 0750 "$DATA_DIR"
chgrp tiercast "$ENV_FILE"

# ---- configuration from SSM (optional) -------------------------------------------------------------------------------
if [ -n "${TIERCAST_SSM_CONFIG_PARAMETER:-}" ]; then
  aws ssm get-parameter --region "$AWS_REGION" --with-decryption --name "$TIERCAST_SSM_CONFIG_PARAMETER" \
    --query Parameter.Value --output text > "$DATA_DIR/config.json.tmp"
  node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$DATA_DIR/config.json.tmp"
  install -o tiercast -g tiercast -m 0640 "$DATA_DIR/config.json.tmp" "$DATA_DIR/config.json"
  rm -f "$DATA_DIR/config.json.tmp"
fi

# ---- the app ----------------------------------------------------------------------------------------------------------
source=${TIERCAST_APP_SOURCE:-s3://${TIERCAST_BUCKET:?TIERCAST_BUCKET or TIERCAST_APP_SOURCE is required}/${TIERCAST_PREFIX:-}releases/tiercast-latest.tgz}
case "$source" in
  s3://*)
    aws s3 cp --region "$AWS_REGION" "$source" /tmp/tiercast.tgz
    tar -xzf /tmp/tiercast.tgz -C "$APP_DIR" --strip-components="${TIERCAST_APP_STRIP:-1}"
    rm -f /tmp/tiercast.tgz
    ;;
  *)
    rm -rf "$APP_DIR"
    git clone --depth 1 ${TIERCAST_APP_REF:+--branch "$TIERCAST_APP_REF"} "$source" "$APP_DIR"
    ;;
esac
(cd "$APP_DIR" && npm ci --omit=dev --omit=optional --no-audit --no-fund)
chown -R root:root "$APP_DIR"
node "$APP_DIR/bin/tiercast.js" agent --help >/dev/null

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
  dnf install -y amazon-cloudwatch-agent
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

# ---- service ----------------------------------------------------------------------------------------------------------
install -m 0644 "$APP_DIR/agent/deploy/tiercast-agent.service" /etc/systemd/system/tiercast-agent.service
systemctl daemon-reload
systemctl enable --now tiercast-agent.service
echo "tiercast agent enabled"
