#!/usr/bin/env bash
# Installs what the seed-002 design of `make bench` needs, ansible-playbook
# and docker-compose v1, from Debian's packages when they are missing and
# this is root on Debian. Never fails: without them the bench says in
# RESULTS.md that the Ansible design was not run, and measures the rest.
missing=()
command -v ansible-playbook >/dev/null || missing+=(ansible-core)
command -v docker-compose >/dev/null || missing+=(docker-compose)
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
	echo "bench: ${missing[*]} missing and not installable here (needs root and apt-get): the Ansible design is not measured" >&2
	exit 0
fi
echo "bench: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >/dev/null 2>&1 ||
	echo "bench: installing ${missing[*]} failed: the Ansible design is not measured" >&2
exit 0
