# compose_deploy: bring a user's compose app to its release with its
# replica count, from whatever state it is in, as app.hcl's deploy does:
# the other services come up (and are recreated only when their own
# definition changed), a migration runs once in a container of the new
# release before anything is drained, and the rollout does the rest.
tags = ["provision", "upgrade"]

task "lock" "project" {
  path = local.lock
}

task "proxy" "setup" {
  proxy       = var.proxy
  action      = "setup"
  dir         = local.dir
  templates   = "../templates"
  project     = local.project
  health_path = var.health_path
}

# The file's values for what -e leaves unset; refuses a service that cannot
# be replicated (container_name) before anything changes.
task "compose_app" "app" {
  compose           = var.compose
  service           = var.service
  project           = local.project
  replicas          = var.replicas
  version           = var.version
  app_port          = var.app_port
  parallelism       = var.parallelism
  order             = var.order
  update_delay      = var.delay
  monitor           = var.monitor
  failure_action    = var.failure_action
  max_failure_ratio = var.max_failure_ratio
  env               = local.env
  register          = "app"
}

task "compose_render" "stack" {
  compose       = var.compose
  service       = var.service
  project       = local.project
  replicas      = app.outputs.services
  version       = app.outputs.version
  dest          = local.compose
  port          = var.port
  proxy         = var.proxy
  proxy_image   = var.proxy_image
  haproxy_image = var.haproxy_image
  proxy_dir     = "${local.dir}/${var.proxy}"
  migrate       = var.migrate
  env           = local.env
}

task "compose_check" "images and daemon" {
  file    = local.compose
  project = local.project
}

task "compose_up" "other services" {
  when     = length(app.outputs.others) > 0
  file     = local.compose
  project  = local.project
  services = app.outputs.others
}

# Once per release: when a replica is not at it yet.
task "compose_outdated" "release pending" {
  when     = length(var.migrate) > 0
  file     = local.compose
  project  = local.project
  services = app.outputs.services
  register = "pending"
}
task "compose_run" "migrate" {
  when    = length(var.migrate) > 0 && pending.changed
  file    = local.compose
  project = local.project
  service = "${var.service}_migrate"
}

include "rollout" {
  vars = {
    stack             = local.stack
    rolling_to        = app.outputs.version
    fallback          = local.previous != "" ? local.previous : app.outputs.version
    parallelism       = app.outputs.parallelism
    order             = app.outputs.order
    delay             = app.outputs.delay
    monitor           = app.outputs.monitor
    failure_action    = app.outputs.failure_action
    max_failure_ratio = app.outputs.max_failure_ratio
    services          = app.outputs.services
    app_port          = app.outputs.app_port
    health_path       = var.health_path
    compose           = var.compose
    service           = var.service
    migrate           = var.migrate
  }
}

include "record_release" {
  vars = { now_at = app.outputs.version, previous = local.previous != "" ? local.previous : app.outputs.version }
}
