# compose_rollback: return a user's compose app to the release before the
# last upgrade that changed it (DIR/previous-release), one replica at a
# time, as app.hcl's rollback does. -t rollback only.
tags = ["never", "rollback"]

vars = {
  target = fileexists(local.previous_release) ? trimspace(file(local.previous_release)) : ""
}

task "lock" "project" {
  path = local.lock
}

task "assert" "a release to roll back to" {
  that     = [local.target != ""]
  fail_msg = "nothing to roll back to: ${local.previous_release} does not exist; an upgrade that changes the release records the one before it there"
}

task "compose_app" "app" {
  compose  = var.compose
  service  = var.service
  project  = local.project
  replicas = var.replicas
  app_port = var.app_port
  env      = local.env
  register = "app"
}

# The stack at the release rolled back to, checked before anything is
# drained: its image is present, the file is valid, the daemon answers.
task "compose_render" "stack" {
  compose       = var.compose
  service       = var.service
  project       = local.project
  replicas      = app.outputs.services
  version       = local.target
  dest          = local.compose
  port          = var.port
  proxy         = var.proxy
  proxy_image   = var.proxy_image
  haproxy_image = var.haproxy_image
  proxy_dir     = "${local.dir}/${var.proxy}"
  env           = local.env
}
task "compose_check" "images and daemon" {
  file    = local.compose
  project = local.project
}

include "rollout" {
  vars = {
    stack        = local.stack
    rolling_to   = local.target
    fallback     = local.previous
    services     = app.outputs.services
    app_port     = app.outputs.app_port
    health_path  = var.health_path
    compose      = var.compose
    service      = var.service
  }
}

task "template" "record release" {
  src  = "../templates/release.tmpl"
  dest = local.release
  vars = { version = local.target }
}
