#!/usr/bin/env bash
# A Docker Swarm of 3 nodes on this machine (package internal/swarmlab): each
# node a dockerd in its own network namespace on a private bridge, the demo
# images loaded from the host engine.
#
#   bash testdata/swarm/lab.sh up     # prints each node's DOCKER_HOST
#   bash testdata/swarm/lab.sh down
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
up)
	images=$(docker images --format '{{.Repository}}:{{.Tag}}' 'zdplay-demo/*' | sort)
	exec go run ./internal/swarmlab/labctl up ${NODES:+-nodes "$NODES"} $images ;;
down)
	exec go run ./internal/swarmlab/labctl down ;;
*)
	echo "usage: $0 up|down" >&2; exit 2 ;;
esac
