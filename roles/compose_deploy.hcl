# compose_deploy: bring a user's compose app to its release with its
# replica count, from whatever state it is in: the other services come up
# (and are recreated only when their own definition changed), a migration
# runs once in a container of the new release before anything is drained,
# and the rollout does the rest. With -t rollback the release is the one
# before the last upgrade that changed it (DIR/previous-release), with no
# migration, and a second rollback changes nothing.
tags = ["provision", "upgrade", "rollback"]

vars = {
  rolling_back = contains(run.tags, "rollback")
  target       = fileexists(local.previous_release) ? trimspace(file(local.previous_release)) : ""
}

# What the tasks below all say: the stack file zdplay renders, its project,
# and the user's compose file with its values.
task_defaults {
  file    = local.compose
  project = local.project
  compose = var.compose
  proxy   = var.proxy
  env     = local.env
}

task "lock" "project" {
  path = local.lock
}

# -t rollback,upgrade asks for two releases at once: refused, nothing changed.
task "assert" "one direction" {
  when     = local.rolling_back
  that     = [!contains(run.tags, "provision") && !contains(run.tags, "upgrade")]
  fail_msg = "-t ${join(",", run.tags)}: rollback returns to the release before the last upgrade, provision and upgrade go to -e version; ask for one of them"
}
task "assert" "a release to roll back to" {
  when     = local.rolling_back
  that     = [local.target != ""]
  fail_msg = "nothing to roll back to: ${local.previous_release} does not exist; an upgrade that changes the release records the one before it there"
}

task "proxy" "setup" {
  action      = "setup"
  dir         = local.dir
  templates   = "../templates"
  health_path = var.health_path
}

# The file's values for what -e leaves unset; refuses a service that cannot
# be replicated (container_name) before anything changes.
task "compose_app" "app" {
  service       = var.service
  replicas      = var.replicas
  version       = local.rolling_back ? local.target : var.version
  app_port      = var.app_port
  update_config = { parallelism = var.parallelism, order = var.order, delay = var.delay, monitor = var.monitor, failure_action = var.failure_action, max_failure_ratio = var.max_failure_ratio }
  register      = "app"
}

# The stack at the release, checked before anything is drained: its images
# are present, the file is valid, the daemon answers.
task "compose_render" "stack" {
  service       = var.service
  replicas      = app.outputs.services
  version       = app.outputs.version
  dest          = local.compose
  proxy_port    = var.port
  proxy_image   = var.proxy_image
  haproxy_image = var.haproxy_image
  proxy_dir     = "${local.dir}/${var.proxy}"
  migrate       = var.migrate
}
task "compose_check" "images and daemon" {}

task "compose_up" "other services" {
  when     = length(app.outputs.others) > 0
  services = app.outputs.others
}

# Once per release: when a replica is not at it yet.
task "compose_outdated" "release pending" {
  when     = length(var.migrate) > 0 && !local.rolling_back
  services = app.outputs.services
  register = "pending"
}
task "compose_run" "migrate" {
  when    = length(try(pending.outputs.outdated, [])) > 0 # [] when skipped
  service = "${var.service}_migrate"
}

include "rollout" {
  vars = {
    stack    = local.stack
    app      = app.outputs
    fallback = local.previous != "" ? local.previous : app.outputs.version
  }
}

# The release every replica now runs, and, when this upgrade changed it,
# the one before (what -t rollback returns to), written first, so that a
# run interrupted in between records it again when resumed.
task "template" "record previous release" {
  when = local.previous != "" && local.previous != app.outputs.version && !local.rolling_back
  src  = "../templates/release.tmpl"
  dest = local.previous_release
  vars = { version = local.previous }
}
task "template" "record release" {
  src  = "../templates/release.tmpl"
  dest = local.release
  vars = { version = app.outputs.version }
}
