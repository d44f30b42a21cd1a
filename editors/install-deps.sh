#!/usr/bin/env bash
# Installs what the editor tests need and the repository does not: Emacs + eglot and Vim + ALE
# (Debian), Chromium and the headers code-server builds against (Debian), then code-server
# 4.100.3 and playwright-core (npm, into editors/vscode/test-e2e/node_modules).
#   editors/install-deps.sh            everything (~3 min on a fresh machine)
#   editors/install-deps.sh --light    only Emacs/eglot and Vim/ALE (~30 s)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

light=(emacs-nox elpa-eglot vim-ale)
heavy=(chromium ripgrep pkg-config libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev)
want=("${light[@]}")
[ "${1:-}" = "--light" ] || want+=("${heavy[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "apt-get install: ${missing[*]}"
  # Refresh the package lists only when they are missing or a day old.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    $SUDO apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Debian packages already installed: ${want[*]}"
fi

[ "${1:-}" = "--light" ] || "$here/vscode/test-e2e/install.sh"
