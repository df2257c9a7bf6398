# bluegreen retire: remove the idle colour's containers (after a deploy: the
# previous release; after a failed deploy: the release that did not turn
# healthy), so that only the live colour runs; switchback is then refused
# until the next deploy. Tagged never: -t retire.
tags = ["never", "retire"]

include "bluegreen_state" {}

# The proxy on the recorded live colour (with HAProxy: the idle colour's
# slots drained and in maint) before the idle colour is stopped.
include "bluegreen_switch" {
  vars = { to = local.live, release = local.live_release }
}

# Nothing reaches them any more: stop them (SIGTERM, then SIGKILL after
# stop_timeout seconds) and remove them.
task "compose_remove" "idle colour" {
  project      = var.project
  services     = local.idle_services
  grace_period = var.stop_timeout
}

task "file" "idle colour's release record" {
  path  = local.idle_record
  state = "absent"
}

task "template" "compose file" {
  src  = "../templates/bluegreen-compose.yml.tmpl"
  dest = local.compose
  vars = { colours = { (local.live) = local.live_release } }
}

# Once it is gone, the proxy forgets it (nginx's conf listed it as down;
# HAProxy's slots held it in maint): a retire re-run changes nothing.
include "bluegreen_switch" {
  vars = { to = local.live, release = local.live_release, existing = { (local.live) = local.live_release } }
}
