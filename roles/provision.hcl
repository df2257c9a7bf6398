# provision: render the files and bring the whole stack up, then wait until
# every replica is healthy. Converged, it changes nothing.
tags = ["provision"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "file" "deploy dir" {
  path  = "${local.dir}/nginx"
  state = "directory"
}

task "template" "compose file" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
}

task "template" "nginx conf" {
  src  = "../templates/nginx.conf.tmpl"
  dest = local.conf
  vars = { down = [] }
}

task "compose_check" "images and daemon" {
  file    = local.compose
  project = var.project
}

task "compose_up" "stack" {
  file    = local.compose
  project = var.project
}

include "healthy" {
  vars = { waiting_for = local.services }
}

task "proxy_reload" "proxy conf" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}

include "record_release" {}
