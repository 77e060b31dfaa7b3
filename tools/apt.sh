# Sourced by the setup scripts: `apt_install PKG...` installs the Debian packages that are
# missing, retrying while another apt holds the lock.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "$(basename "$0"): apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local i
  for i in $(seq 1 20); do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; then return 0; fi
    echo "$(basename "$0"): apt-get failed (lock?), retry $i in 15 s" >&2; sleep 15
  done
  return 1
}

# `step WHAT`: a progress line with the seconds since the script started.
setup_started=$(date +%s)
step() { echo "$(basename "$0" .sh) [$(( $(date +%s) - setup_started )) s] $*"; }
