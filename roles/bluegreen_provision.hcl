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

# The live colour (and the db, its dependency) first, healthy; then the
# proxy, with what it reads before it starts (nginx's conf dir; HAProxy's
# haproxy.cfg and its runtime API's socket dir), serving nothing until the
# switch puts the live colour in.
task "compose_up" "live colour" {
  file     = local.compose
  project  = var.project
  services = local.services[local.live]
}
include "healthy" {
  vars = { waiting_for = local.services[local.live] }
}
task "proxy" "setup" {
  proxy     = var.proxy
  action    = "setup"
  dir       = local.dir
  templates = "../templates"
  project   = var.project
}
task "compose_up" "proxy" {
  file     = local.compose
  project  = var.project
  services = ["proxy"]
}

include "bluegreen_switch" {
  vars = { to = local.live, release = local.live_release }
}
