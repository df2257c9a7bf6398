# bluegreen provision: render the compose file, bring up the db and the live
# colour (blue at var.version on a fresh dir), then the proxy on it once
# every replica of it is healthy, and record the state. Once provisioned it
# converges what the state files say (a later release goes out with
# -t deploy): a re-run changes nothing.
tags = ["provision"]

include "bluegreen_state" {}

task "compose_check" "images and daemon" {
  file    = local.compose
  project = var.project
}

# The live colour (and the db, its dependency) first; the switch waits
# until it is healthy, then starts the proxy on it (bluegreen_switch).
task "compose_up" "live colour" {
  file     = local.compose
  project  = var.project
  services = local.services[local.live]
}

include "bluegreen_switch" {
  vars = { to = local.live, release = local.live_release }
}
