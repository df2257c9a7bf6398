# bluegreen provision: render the compose file, bring up the db and the live
# colour (blue at var.version on a fresh dir), then the proxy on it once
# every replica of it is healthy, and record the state. Once provisioned it
# converges what the state files say (a later release goes out with
# -t deploy): a re-run changes nothing.
tags = ["provision"]

include "bluegreen_state" {}

# nginx's conf dir; with HAProxy, the dir its runtime API's sockets are
# created in (bind-mounted into the proxy, read by zdplay on the host).
task "file" "proxy dir" {
  path  = var.proxy == "haproxy" ? local.haproxy_run : dirname(local.conf)
  state = "directory"
}

task "compose_check" "images and daemon" {
  file    = local.compose
  project = var.project
}

# The live colour (and the db, its dependency) first, healthy: nginx
# resolves the upstream's names when it starts, and serves them at once.
# Then the proxy, with its conf (the switch's, which then has nothing to
# render; HAProxy's slots stay in maint until the switch).
task "compose_up" "live colour" {
  file     = local.compose
  project  = var.project
  services = local.services[local.live]
}
include "healthy" {
  vars = { waiting_for = local.services[local.live] }
}
task "template" "proxy conf" {
  src  = local.conf_src
  dest = local.conf
  vars = { upstream = local.services[local.live], live_colour = local.live, live_release = local.live_release, slots = 2 * var.replicas }
}
task "compose_up" "proxy" {
  file     = local.compose
  project  = var.project
  services = ["proxy"]
}

include "bluegreen_switch" {
  vars = { to = local.live, release = local.live_release }
}
