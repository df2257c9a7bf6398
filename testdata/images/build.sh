#!/usr/bin/env bash
# Builds the local images of zdplay's demo and end-to-end tests, all FROM
# scratch (no registry needed):
#
#   zdplay-demo/app:0.0.1, :0.0.2         testdata/demoapp, static Go binary
#   zdplay-demo/app:0.0.2-slowboot, ...   same binary, failure-injection ENV
#   zdplay-demo/nginx:local               Debian bookworm nginx + its libs
#   zdplay-demo/redis:local               Debian bookworm redis-server + its libs
#   zdplay-demo/haproxy:local             Debian bookworm haproxy + its libs
#   zdplay-example/shop:1, :2, :2-broken  examples/shop/app, the compose.hcl example
#
# Idempotent and quick when nothing changed: each image carries the sha256 of
# its build context in the label org.zdplay.inputs; an image whose tag exists
# with the same hash is left alone ("up to date").
#
# nginx and redis come from Debian packages fetched with `apt-get download`
# (never installed on the host) and unpacked with `dpkg-deb -x`. The staged
# root filesystems are kept under $ZDPLAY_IMAGES_CACHE (default
# <repo>/.cache/images) and only re-staged when this script or the files under
# testdata/images/{common,nginx,redis} change, or with ZDPLAY_IMAGES_REFRESH=1
# (to pick up newer Debian packages).
#
# Usage: testdata/images/build.sh          build what is missing or stale
#        testdata/images/build.sh --tags   print the image tags, one a line
#
# Needs: bash, docker, go, apt-get, dpkg-deb, flock, sha256sum. Runs as root
# (apt-get update may be needed on a fresh machine). Works from any cwd.
set -Eeuo pipefail
umask 022
trap 'echo "build.sh: error: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ZDPLAY_IMAGES_CACHE:-$ROOT/.cache/images}
LABEL=org.zdplay.inputs
export DOCKER_BUILDKIT=0 # no buildx here: the legacy builder, without its warning

# tag|ENV line appended to app/Dockerfile (APP_VERSION = the tag up to any dash).
APP_REPO=zdplay-demo/app
APP_IMAGES=(
	"0.0.1|APP_VERSION=0.0.1"
	"0.0.2|APP_VERSION=0.0.2"
	"0.0.2-slowboot|APP_VERSION=0.0.2 BOOT_DELAY=2s"
	"0.0.2-slowreq|APP_VERSION=0.0.2 REQUEST_DELAY=300ms"
	"0.0.3-ping500|APP_VERSION=0.0.3 PING_STATUS=500"
	"0.0.3-crash|APP_VERSION=0.0.3 EXIT_AFTER=500ms"
	"0.0.3-flaky|APP_VERSION=0.0.3 UNHEALTHY_AFTER=3s"
	"0.0.3-failfirst|APP_VERSION=0.0.3 FAIL_FIRST_BOOTS=1"
)
# The example app of examples/shop (playbooks/compose.hcl): tag|ENV line.
SHOP_REPO=zdplay-example/shop
SHOP_IMAGES=(
	"1|SHOP_VERSION=1"
	"2|SHOP_VERSION=2"
	"2-broken|SHOP_VERSION=2 HEALTH_STATUS=503"
)
NGINX_TAG=zdplay-demo/nginx:local
REDIS_TAG=zdplay-demo/redis:local
HAPROXY_TAG=zdplay-demo/haproxy:local

if [[ ${1:-} == --tags ]]; then
	for a in "${APP_IMAGES[@]}"; do echo "$APP_REPO:${a%%|*}"; done
	for a in "${SHOP_IMAGES[@]}"; do echo "$SHOP_REPO:${a%%|*}"; done
	echo "$NGINX_TAG"
	echo "$REDIS_TAG"
	echo "$HAPROXY_TAG"
	exit 0
elif [[ $# -gt 0 ]]; then
	echo "usage: $0 [--tags]" >&2
	exit 2
fi

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}
note() { echo "build.sh: $*" >&2; }

# run LOG CMD...: runs CMD with its output in LOG; on failure shows the LOG.
run() {
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		sed 's/^/    /' "$log" >&2
		die "command failed: $*"
	fi
}

for c in docker go apt-get apt-cache dpkg-deb flock sha256sum find; do
	command -v "$c" >/dev/null || die "'$c' not found in PATH"
done
docker version -f '{{.Server.Version}}' >/dev/null 2>&1 || die "cannot reach the docker daemon (is it running? are you root?)"

case $(dpkg --print-architecture) in
amd64) TRIPLET=x86_64-linux-gnu LDSO_NAME=ld-linux-x86-64.so.2 LDSO_LINK=lib64/ld-linux-x86-64.so.2 ;;
arm64) TRIPLET=aarch64-linux-gnu LDSO_NAME=ld-linux-aarch64.so.1 LDSO_LINK=lib/ld-linux-aarch64.so.1 ;;
*) die "unsupported architecture $(dpkg --print-architecture)" ;;
esac

mkdir -p "$CACHE/logs"
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"

# hash_dir DIR: a digest of the tree (names, types, modes, link targets, file
# contents); ownership and timestamps are left out (COPY makes files root's).
hash_dir() {
	(
		cd "$1"
		find . -mindepth 1 -printf '%y %m %p -> %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	) | sha256sum | cut -c1-64
}

# build_image TAG HASH CONTEXT DOCKERFILE [SMOKE-ARGS...]: builds TAG unless it
# already carries HASH. SMOKE-ARGS, when given, are a `docker run --rm` check of
# the new image (the tag is removed again if it fails).
build_image() {
	local tag=$1 hash=$2 ctx=$3 df=$4
	shift 4
	local have old new log
	have=$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$tag" 2>/dev/null || true)
	if [[ $have == "$hash" ]]; then
		echo "$tag: up to date"
		return
	fi
	old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
	log=$CACHE/logs/build-${tag//[\/:]/_}.log
	run "$log" docker build --label "$LABEL=$hash" -t "$tag" -f "$df" "$ctx"
	if [[ $# -gt 0 ]] && ! docker run --rm "$@" >"$log.smoke" 2>&1; then
		sed 's/^/    /' "$log.smoke" >&2
		docker image rm "$tag" >/dev/null 2>&1 || true
		die "$tag was built but does not run: docker run --rm $*"
	fi
	new=$(docker image inspect -f '{{.Id}}' "$tag")
	# The previous build of this tag is now dangling: drop it (kept if in use).
	if [[ -n $old && $old != "$new" ]]; then
		docker image rm "$old" >/dev/null 2>&1 || true
	fi
	echo "$tag: built"
}

# ------------------------------------------------------------- Go app images

# build_go_images NAME PKG REPO IMAGE...: builds the main package PKG as the
# static binary NAME, then REPO:TAG for each IMAGE "TAG|ENV line": NAME's
# Dockerfile with that ENV line appended.
build_go_images() {
	local name=$1 pkg=$2 repo=$3 ctx=$CACHE/$1 bin_hash a df
	shift 3
	mkdir -p "$ctx"
	run "$CACHE/logs/go-build-$name.log" env -C "$ROOT" CGO_ENABLED=0 \
		go build -trimpath -buildvcs=false -ldflags='-s -w' -o "$ctx/$name" "$pkg"
	bin_hash=$(sha256sum <"$ctx/$name" | cut -c1-64)
	for a in "$@"; do
		df=$CACHE/Dockerfile.$name-${a%%|*}
		{
			cat "$HERE/$name/Dockerfile"
			echo "ENV ${a#*|}"
		} >"$df"
		build_image "$repo:${a%%|*}" "$( (echo "$bin_hash" && cat "$df") | sha256sum | cut -c1-64)" "$ctx" "$df"
	done
}

# ------------------------------------------------------ Debian-based images

APT_UPDATED=
# fetch_debs DIR PKG...: apt-get download PKG... into DIR (apt-get update once
# if the package lists are missing or stale).
fetch_debs() {
	local dir=$1
	shift
	local log=$CACHE/logs/apt.log
	if ! (cd "$dir" && apt-get download "$@") >"$log" 2>&1; then
		if [[ -z $APT_UPDATED ]]; then
			note "apt-get download failed, running apt-get update"
			run "$CACHE/logs/apt-update.log" apt-get update
			APT_UPDATED=1
			(cd "$dir" && apt-get download "$@") >"$log" 2>&1 && return
		fi
		sed 's/^/    /' "$log" >&2
		die "apt-get download $* failed"
	fi
}

# deb_lib_deps DEB: the library packages DEB depends on (first alternatives).
deb_lib_deps() {
	dpkg-deb -f "$1" Pre-Depends Depends |
		sed -E 's/^(Pre-Depends|Depends): //' | tr ',' '\n' |
		sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' |
		grep -E '^(lib|zlib)' || true
}

# stage_debs TREE PKG...: downloads PKG... and, transitively, the library
# packages they depend on, and unpacks them all into TREE.
stage_debs() {
	local tree=$1
	shift
	local debs=$tree.debs p deb
	local -A seen=()
	local -a level=("$@") next
	rm -rf "$tree" "$debs"
	mkdir -p "$tree" "$debs"
	chmod 755 "$debs"
	while [[ ${#level[@]} -gt 0 ]]; do
		for p in "${level[@]}"; do seen[$p]=1; done
		rm -f "$debs"/*.deb
		fetch_debs "$debs" "${level[@]}"
		next=()
		for deb in "$debs"/*.deb; do
			dpkg-deb -x "$deb" "$tree"
			for p in $(deb_lib_deps "$deb"); do
				if [[ -z ${seen[$p]:-} ]]; then
					seen[$p]=1
					next+=("$p")
				fi
			done
		done
		level=("${next[@]}")
	done
	rm -rf "$debs"
	note "  packages: $(echo "${!seen[@]}" | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ')"
}

# copy_elf TREE ROOTFS SRC [DST]: copies the executable TREE/SRC to ROOTFS/DST
# (default SRC) with the shared libraries it needs, as the unpacked loader
# resolves them among the unpacked packages, and the loader itself.
copy_elf() {
	local tree=$1 rootfs=$2 src=$3 dst=${4:-$3}
	local ldso=$tree/lib/$TRIPLET/$LDSO_NAME line path
	[[ -x $ldso ]] || die "no dynamic loader at $ldso (libc6 not unpacked?)"
	[[ -f $tree/$src ]] || die "$src not found in the unpacked packages"
	install -D -m 755 "$tree/$src" "$rootfs/$dst"
	install -D -m 755 "$ldso" "$rootfs/lib/$TRIPLET/$LDSO_NAME"
	mkdir -p "$rootfs/$(dirname "$LDSO_LINK")"
	ln -sfn "/lib/$TRIPLET/$LDSO_NAME" "$rootfs/$LDSO_LINK"
	local out
	out=$("$ldso" --inhibit-cache --library-path "$tree/lib/$TRIPLET:$tree/usr/lib/$TRIPLET" --list "$tree/$src") ||
		die "cannot list the libraries of $src: $out"
	while read -r line; do
		case $line in
		*"not found"*) die "$src: library missing from the unpacked packages: $line" ;;
		*" => "*) path=${line#* => } path=${path% (0x*} ;;
		*) continue ;; # linux-vdso, or the loader named without =>
		esac
		[[ $path == "$ldso" ]] && continue
		if [[ $path == "$tree"/* ]]; then
			install -D -m 644 "$path" "$rootfs/${path#"$tree"/}"
		else
			note "warning: $src: $path is not in the unpacked packages; copying the host's"
			install -D -m 644 "$path" "$rootfs/$path"
		fi
	done <<<"$out"
}

# recipe NAME: what the staged context of NAME is made from.
recipe() {
	(
		sha256sum <"$HERE/build.sh"
		hash_dir "$HERE/common"
		hash_dir "$HERE/$1"
		echo "$TRIPLET"
	) | sha256sum | cut -c1-64
}

# stage NAME: (re)builds $CACHE/ctx/NAME when its recipe changed, calling
# stage_NAME TREE ROOTFS to fill it.
stage() {
	local name=$1 ctx=$CACHE/ctx/$1 r
	r=$(recipe "$name")
	if [[ -z ${ZDPLAY_IMAGES_REFRESH:-} && -f $ctx.recipe && $(<"$ctx.recipe") == "$r" && -d $ctx ]]; then
		return
	fi
	note "staging the $name root filesystem from Debian packages"
	local tmp=$CACHE/ctx/$name.tmp
	rm -rf "$tmp" "$ctx" "$ctx.recipe"
	mkdir -p "$tmp/rootfs"
	"stage_$name" "$CACHE/tree/$name" "$tmp/rootfs"
	cp -a "$HERE/common/rootfs/." "$tmp/rootfs/"
	if [[ -d $HERE/$name/rootfs ]]; then cp -a "$HERE/$name/rootfs/." "$tmp/rootfs/"; fi
	cp "$HERE/$name/Dockerfile" "$tmp/Dockerfile"
	mv "$tmp" "$ctx"
	echo "$r" >"$ctx.recipe"
	rm -rf "$CACHE/tree/$name"
}

stage_nginx() {
	local tree=$1 rootfs=$2 d
	stage_debs "$tree" nginx nginx-common
	copy_elf "$tree" "$rootfs" usr/sbin/nginx
	install -D -m 644 "$tree/etc/nginx/mime.types" "$rootfs/etc/nginx/mime.types"
	for d in etc/nginx/conf.d var/lib/nginx var/log/nginx run var/lock; do
		mkdir -p "$rootfs/$d"
		chmod 755 "$rootfs/$d"
	done
	mkdir -p "$rootfs/tmp" && chmod 1777 "$rootfs/tmp"
}

stage_redis() {
	local tree=$1 rootfs=$2
	stage_debs "$tree" redis-tools
	copy_elf "$tree" "$rootfs" usr/bin/redis-check-rdb usr/bin/redis-server
	copy_elf "$tree" "$rootfs" usr/bin/redis-cli
	mkdir -p "$rootfs/data" && chmod 755 "$rootfs/data"
	mkdir -p "$rootfs/tmp" && chmod 1777 "$rootfs/tmp"
}

# haproxy: only the binary and what it links (lua, pcre2, openssl,
# systemd's lib, ...); the configuration and the runtime sockets come from
# bind mounts (see haproxy/Dockerfile).
stage_haproxy() {
	local tree=$1 rootfs=$2 d
	stage_debs "$tree" haproxy
	copy_elf "$tree" "$rootfs" usr/sbin/haproxy
	for d in etc/haproxy run/haproxy var/lib/haproxy; do
		mkdir -p "$rootfs/$d"
		chmod 755 "$rootfs/$d"
	done
	install -D -m 644 "$HERE/haproxy/haproxy.cfg" "$rootfs/etc/haproxy/haproxy.cfg"
	mkdir -p "$rootfs/tmp" && chmod 1777 "$rootfs/tmp"
}

build_go_images app ./testdata/demoapp "$APP_REPO" "${APP_IMAGES[@]}"
build_go_images shop ./examples/shop/app "$SHOP_REPO" "${SHOP_IMAGES[@]}"

stage nginx
build_image "$NGINX_TAG" "$(hash_dir "$CACHE/ctx/nginx")" "$CACHE/ctx/nginx" "$CACHE/ctx/nginx/Dockerfile" \
	"$NGINX_TAG" -t -q

stage redis
build_image "$REDIS_TAG" "$(hash_dir "$CACHE/ctx/redis")" "$CACHE/ctx/redis" "$CACHE/ctx/redis/Dockerfile" \
	"$REDIS_TAG" /usr/bin/redis-server --version

stage haproxy
build_image "$HAPROXY_TAG" "$(hash_dir "$CACHE/ctx/haproxy")" "$CACHE/ctx/haproxy" "$CACHE/ctx/haproxy/Dockerfile" \
	"$HAPROXY_TAG" -c -f /etc/haproxy/haproxy.cfg
