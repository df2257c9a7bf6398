# bluegreen retire: remove the idle colour's containers (after a deploy: the
# previous release; after a failed deploy: the release that did not turn
# healthy), so that only the live colour runs; switchback is then refused
# until the next deploy. Tagged never: -t retire.
tags = ["never", "retire"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

include "bluegreen_live" {}

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
