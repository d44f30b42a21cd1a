#!/usr/bin/env bash
# Installs code-server 4.100.3 and playwright-core here (node_modules/, git-ignored), offline from
# npm alone: @vscode/ripgrep would download rg from GitHub, so it gets Debian's from its cache.
# Needs the Debian packages of editors/install-deps.sh (chromium, ripgrep, build headers).
set -euo pipefail
cd "$(dirname "$0")"
if [ -x node_modules/.bin/code-server ] && [ -d node_modules/playwright-core ]; then
  echo "code-server and playwright-core already installed"; exit 0
fi
command -v rg >/dev/null || { echo "ripgrep missing: run editors/install-deps.sh" >&2; exit 1; }
cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache"
tar czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
npm_config_yes=true npm_config_nodedir=/usr npm_config_unsafe_perm=true \
  npm ci --no-audit --no-fund --foreground-scripts
