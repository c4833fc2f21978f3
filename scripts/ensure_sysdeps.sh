#!/usr/bin/env bash
# Install the Debian packages voxclean uses (ffmpeg, sox, espeak-ng) when any is missing.
set -euo pipefail
need=()
command -v ffmpeg    >/dev/null 2>&1 || need+=(ffmpeg)
command -v sox       >/dev/null 2>&1 || need+=(sox libsox-fmt-all)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "installing Debian packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
