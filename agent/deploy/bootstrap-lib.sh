# Tiercast agent host bootstrap helpers (bash), sourced by user-data.sh. The CDK launch template writes this file to
# /usr/local/lib/tiercast/bootstrap-lib.sh before the bootstrap runs; test/cloud/infra runs these same functions.
# Nothing here evaluates a setting as shell: settings (launch template, instance tags) are data, never code.

# tc_valid_name NAME: a setting name (TIERCAST_*, AWS_REGION), nothing else.
tc_valid_name() {
  [[ "$1" =~ ^(TIERCAST_[A-Z0-9_]+|AWS_REGION)$ ]]
}

# tc_valid_value VALUE: printable, one line, none of the characters systemd's EnvironmentFile parser or a careless
# reader would give a meaning to (quotes, backslash, $, backtick).
tc_valid_value() {
  [[ "$1" =~ ^[[:print:]]*$ ]] && [[ "$1" != *[\"\'\\\$\`]* ]]
}

# tc_add_setting FILE NAME VALUE: append NAME=VALUE unless FILE already has NAME; refuse a bad name or value.
tc_add_setting() {
  local file=$1 name=$2 value=$3
  if ! tc_valid_name "$name"; then echo "tiercast: ignoring setting with a bad name: ${name//[^A-Za-z0-9_]/?}" >&2; return 1; fi
  if ! tc_valid_value "$value"; then echo "tiercast: ignoring setting $name: its value has characters settings may not carry" >&2; return 1; fi
  grep -q "^${name}=" "$file" 2>/dev/null || printf '%s=%s\n' "$name" "$value" >> "$file"
}

# tc_load_env FILE: export each NAME=VALUE line as a literal value (never `source`d: a value is data, not shell).
tc_load_env() {
  local line name value
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    name=${line%%=*}
    value=${line#*=}
    if tc_valid_name "$name" && tc_valid_value "$value"; then
      printf -v "$name" '%s' "$value"
      export "${name?}"
    else
      echo "tiercast: skipping a malformed line in $1" >&2
    fi
  done < "$1"
}

# tc_verify_release TARBALL SHA256: the release is exactly the one the stack published (sha256 of the tarball).
tc_verify_release() {
  local file=$1 want=$2 got
  if ! [[ "$want" =~ ^[0-9a-f]{64}$ ]]; then echo "tiercast: release hash missing or malformed: '$want'" >&2; return 2; fi
  if [ ! -f "$file" ]; then echo "tiercast: release $file not found" >&2; return 1; fi
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "tiercast: release $file has sha256 $got, expected $want: refusing to install it" >&2
    return 1
  fi
}

# tc_verify_deb FILE SHA256: the same check for the pinned ffmpeg package.
tc_verify_deb() {
  tc_verify_release "$1" "$2"
}
