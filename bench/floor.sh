#!/usr/bin/env bash
# The floor of `make bench`: zdplay's upgrade steps, and nothing else, as a
# plain script, against a stack that `zdplay run playbooks/app.hcl -t
# provision` brought up. For each replica in turn:
#
#   1. render nginx/default.conf with the replica `down`
#   2. nginx -t, nginx -s reload (docker exec), then poll `docker top` every
#      50 ms until the old worker processes are gone and a new one runs
#   3. recreate the replica at the new release: graceful `docker stop` (the
#      compose file's stop_grace_period, 15s), `docker rm`, `docker run` with
#      the service's spec from templates/docker-compose.yml.tmpl (MODE=docker,
#      the default: plain docker CLI, the cheapest honest way); or MODE=compose:
#      `docker-compose stop app_N` + `docker-compose up -d --no-deps
#      --force-recreate app_N` on the rendered file (docker-compose v1)
#   4. wait until healthy exactly as zdplay's wait_healthy does: every 100 ms,
#      GET http://IP:3000/ping answered 200 three times in a row (counted
#      while Docker's health is still `starting`) and Docker health `healthy`
#   5. render the conf with every replica in service, reload as in 2 but,
#      as zdplay, only until the new workers run (it takes no server out)
#
# It skips what zdplay also does (loading and validating the playbook,
# checking images, comparing config hashes, recording the release, rollback
# on failure): the least any tool can take for the same upgrade.
#
# Usage: bench/floor.sh PROJECT DIR REPLICAS VERSION [docker|compose]
# Prints one line per step: STEP <replica> <step> <milliseconds>, and
# SUB <replica> reload_wait <milliseconds> for the part of a reload from the
# signal to the old workers' exit.
set -euo pipefail

project=$1 dir=$2 replicas=$3 version=$4 mode=${5:-docker}
image=${IMAGE:-zdplay-demo/app}
conf=$dir/nginx/default.conf
compose=$dir/docker-compose.yml
proxy=$project-proxy-1

now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }
step() { echo "STEP $1 $2 $((($(now_us) - $3) / 1000))"; }

# render_conf SERVICE: templates/nginx.conf.tmpl with SERVICE down ("" = none).
render_conf() {
	{
		echo "upstream app {"
		local i s
		for ((i = 1; i <= replicas; i++)); do
			s=app_$i
			if [[ $s == "$1" ]]; then
				echo "    server $s:3000 max_fails=0 down;"
			else
				echo "    server $s:3000 max_fails=0;"
			fi
		done
		cat <<'EOF'
    keepalive 32;
}

server {
    listen 80;

    location / {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;
    }
}
EOF
	} >"$conf.floor.tmp"
	mv "$conf.floor.tmp" "$conf"
}

workers() { docker top "$proxy" -o pid,args | awk '/nginx: worker process/ {print $1}' | sort; }

# reload [new]: test, reload, wait until the old workers have exited (15 s
# at most); with "new", only until new workers run.
reload() {
	docker exec "$proxy" nginx -t >/dev/null 2>&1 || {
		docker exec "$proxy" nginx -t >&2 || true
		echo "floor: nginx rejected $conf" >&2
		return 1
	}
	local old cur n t
	old=$(workers)
	t=$(now_us)
	docker exec "$proxy" nginx -s reload 2>/dev/null
	for ((n = 0; n < 300; n++)); do
		cur=$(workers)
		if [[ ${1:-} == new && -n $(comm -13 <(echo "$old") <(echo "$cur")) ]]; then
			return 0
		fi
		if [[ -n $cur && -z $(comm -12 <(echo "$old") <(echo "$cur")) ]]; then
			echo "SUB $s reload_wait $((($(now_us) - t) / 1000))"
			return 0
		fi
		sleep 0.05
	done
	echo "floor: old nginx workers still running after 15s" >&2
	return 1
}

# recreate SERVICE
recreate() {
	local s=$1 old labels=()
	case $mode in
	docker)
		old=$(docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$s")
		# Compose's labels (but the old image's ID), so that Compose tooling,
		# the teardown included, still sees the service: Compose ignores a
		# container without a config-hash label.
		mapfile -t labels < <(docker inspect -f '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$old" |
			grep '^com\.docker\.compose\.' | grep -v '^com\.docker\.compose\.image=' | sed 's/^/--label=/')
		docker stop -t 15 "$old" >/dev/null
		docker rm "$old" >/dev/null
		docker run -d --name "$project-$s-1" --network "${project}_default" --network-alias "$s" "${labels[@]}" \
			-e REDIS_ADDR=db:6379 --memory 128m --cpus 1 --restart unless-stopped --stop-timeout 15 \
			"$image:$version" >/dev/null
		;;
	compose)
		docker-compose -p "$project" -f "$v1" stop "$s" 2>/dev/null
		docker-compose -p "$project" -f "$v1" up -d --no-deps --force-recreate "$s" 2>/dev/null
		;;
	*)
		echo "floor: unknown mode $mode (docker or compose)" >&2
		return 2
		;;
	esac
}

# tick US: sleep until the next multiple of US microseconds since tick_start,
# like a Go time.Ticker (the poll itself does not stretch the period).
tick() {
	local now left
	now=$(now_us)
	left=$(($1 - (now - tick_start) % $1))
	sleep "$(printf '0.%06d' "$left")"
}

# wait_healthy SERVICE: zdplay's wait_healthy (100 ms, 3 x /ping 200 counted
# while Docker health is starting, then healthy).
wait_healthy() {
	local s=$1 streak=0 n health ip id
	tick_start=$(now_us)
	# The new container, found once (docker-compose v1 names it differently).
	id=$(docker ps -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$s" | head -1)
	for ((n = 0; n < 600; n++)); do
		read -r health ip < <(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id" 2>/dev/null || echo "missing -")
		if [[ $health != unhealthy && -n $ip ]] && curl -fsS -o /dev/null --max-time 2 "http://$ip:3000/ping"; then
			streak=$((streak + 1))
			[[ $health == healthy || $health == none ]] && ((streak >= 3)) && return 0
		else
			streak=0
		fi
		tick 100000
	done
	echo "floor: $s not healthy after 60s" >&2
	return 1
}

if [[ $mode == compose ]]; then
	# docker-compose v1 rejects the top-level `name:` of the Compose spec.
	v1=$dir/docker-compose.v1.yml
	sed -e '/^name:/d' -e "s#image: $image:.*#image: $image:$version#" "$compose" >"$v1"
fi

for ((i = 1; i <= replicas; i++)); do
	s=app_$i
	t=$(now_us)
	render_conf "$s"
	step "$s" render_conf "$t"
	t=$(now_us)
	reload
	step "$s" reload "$t"
	t=$(now_us)
	recreate "$s"
	step "$s" recreate "$t"
	t=$(now_us)
	wait_healthy "$s"
	step "$s" wait_healthy "$t"
	t=$(now_us)
	render_conf ""
	step "$s" render_conf "$t"
	t=$(now_us)
	reload new
	step "$s" reload "$t"
done
