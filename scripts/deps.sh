#!/bin/sh
# deps.sh run|test — install the Debian packages nimbus needs on this host.
# As root on Debian or Ubuntu it installs what is missing (one apt-get update,
# one install); otherwise it says plainly what is missing and goes on, since
# nimbus still runs (with the process driver, or with tests skipped).
set -eu

mode=${1:-run}

# package:command-or-path that proves it is installed
run_pkgs="runc:runc crun:crun containernetworking-plugins:/usr/lib/cni/bridge nftables:nft busybox-static:/bin/busybox e2fsprogs:mkfs.ext4 iproute2:ip debootstrap:debootstrap tini:/usr/bin/tini-static"
# ruby: the ruby3.x Lambda runtimes; a JDK (javac builds nimbus's Java bootstrap) only where
# the host has no javac at all, since any JDK 17+ serves.
test_pkgs="curl:curl awscli:/usr/bin/aws openssh-client:ssh python3-botocore:/usr/lib/python3/dist-packages/botocore python3:/usr/bin/python3 nodejs:/usr/bin/node zip:zip ruby:ruby openjdk-17-jdk-headless:javac"

pkgs=$run_pkgs
[ "$mode" = test ] && pkgs="$run_pkgs $test_pkgs"

have() {
	case "$1" in
	/*) [ -e "$1" ] ;;
	*) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] ;;
	esac
}

missing=""
for p in $pkgs; do
	pkg=${p%%:*}
	probe=${p#*:}
	have "$probe" || missing="$missing $pkg"
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	echo "deps: installed"
else
	echo "deps: missing Debian packages:$missing"
	echo "deps: install them as root (apt-get install$missing); nimbus runs without them with weaker sandboxes, and tests that need them skip."
fi
