#!/usr/bin/env bash
# make demo: provision the demo stack at 0.0.1, then upgrade it to 0.0.2
# while `zdplay probe` sends 40 keep-alive clients through the proxy, and
# print the probe's verdict. Exit status: the probe's (1 if any request failed).
set -euo pipefail
cd "$(dirname "$0")/.."
ZDPLAY=bin/zdplay
PLAYBOOK=playbooks/app.hcl
PORT=${PORT:-8000}
VARS=(-e port="$PORT" -e project=zdplay-demo -e dir=.zdplay/zdplay-demo)

mkdir -p .zdplay
echo "== teardown of any earlier demo (project zdplay-demo)"
$ZDPLAY run $PLAYBOOK -t teardown "${VARS[@]}" >/dev/null

echo "== provision 0.0.1"
$ZDPLAY run $PLAYBOOK -t provision "${VARS[@]}" -e version=0.0.1
curl -fsS "http://127.0.0.1:$PORT/" || true

echo "== upgrade to 0.0.2 under load (zdplay probe, 40 keep-alive clients)"
$ZDPLAY probe "http://127.0.0.1:$PORT/" -c 40 --svg .zdplay/demo-probe.svg >.zdplay/demo-probe.txt &
probe=$!
trap 'kill -INT $probe 2>/dev/null || true' EXIT
sleep 1
$ZDPLAY run $PLAYBOOK -t upgrade "${VARS[@]}" -e version=0.0.2
sleep 1
kill -INT $probe
status=0
wait $probe || status=$?
trap - EXIT

echo "== probe verdict"
cat .zdplay/demo-probe.txt
echo
echo "The stack is still up on http://127.0.0.1:$PORT/ ; remove it with:"
echo "  $ZDPLAY run $PLAYBOOK -t teardown ${VARS[*]}"
exit $status
