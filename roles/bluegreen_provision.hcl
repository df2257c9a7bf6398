# bluegreen provision: render the files and bring up the db and the live
# colour (blue at var.version on a fresh dir), wait until every replica of it
# is healthy, then the proxy pointing at it, and record the state. Once
# provisioned it converges what the state files say (a later release goes
# out with -t deploy): a re-run changes nothing.
tags = ["provision"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "assert" "state" {
  that     = [contains(local.colour_names, local.live)]
  fail_msg = "${local.live_file} says the live colour is \"${local.live}\", not blue or green: fix or remove it"
}

task "file" "deploy dir" {
  path  = "${local.dir}/nginx"
  state = "directory"
}

task "template" "compose file" {
  src  = "../templates/bluegreen-compose.yml.tmpl"
  dest = local.compose
  vars = { colours = local.existing }
}

task "template" "nginx conf" {
  src  = "../templates/bluegreen-nginx.conf.tmpl"
  dest = local.conf
  vars = { upstream = local.live_services, live_colour = local.live, live_release = local.live_release }
}

task "compose_check" "images and daemon" {
  file    = local.compose
  project = var.project
}

# The live colour (and the db, its dependency) first: nginx resolves the
# upstream's names when it starts.
task "compose_up" "live colour" {
  file     = local.compose
  project  = var.project
  services = local.live_services
}

include "healthy" {
  vars = { waiting_for = local.live_services }
}

task "compose_up" "proxy" {
  file     = local.compose
  project  = var.project
  services = ["proxy"]
}

task "proxy_reload" "proxy conf" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}

task "template" "record the live colour's release" {
  src  = "../templates/bluegreen-value.tmpl"
  dest = local.live_record
  vars = { value = local.live_release }
}

task "template" "record the live colour" {
  src  = "../templates/bluegreen-value.tmpl"
  dest = local.live_file
  vars = { value = local.live }
}

task "template" "record the live release" {
  src  = "../templates/bluegreen-value.tmpl"
  dest = "${local.dir}/live-release"
  vars = { value = local.live_release }
}
