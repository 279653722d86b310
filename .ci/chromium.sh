#!/bin/sh
# chromium.sh installs Debian's chromium for the HTML report's browser test
# (report/browser_test.go drives /usr/bin/chromium through chromedp).
set -eu

if [ -x /usr/bin/chromium ]; then
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
