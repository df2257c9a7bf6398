# deploy: bring the stack to var.version with var.replicas replicas, from
# whatever state it is in: nothing yet (provision), a healthy stack at an
# older release (upgrade), a dead, missing or extra replica, a changed
# template. Tagged provision and upgrade: both converge the same way, so
# that no path into a live stack stops a replica that serves before the
# proxy has let go of it. Converged, it changes nothing.
tags = ["provision", "upgrade"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

# The proxy's files before it starts: nginx's conf directory (its conf
# names the replicas, so the first drain renders it); HAProxy's haproxy.cfg,
# which names none (slots), reloaded seamlessly only when it changed.
task "proxy" "setup" {
  proxy     = var.proxy
  action    = "setup"
  dir       = local.dir
  templates = "../templates"
  project   = local.project
}

task "template" "compose file" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
}

# Fails before anything is drained when an image is missing, the rendered
# file is invalid or the daemon does not answer.
task "compose_check" "images and daemon" {
  file    = local.compose
  project = local.project
}

task "compose_up" "db" {
  file     = local.compose
  project  = local.project
  services = ["db"]
}

include "rollout" {
  vars = {
    stack             = local.stack
    rolling_to        = var.version
    fallback          = local.previous
    parallelism       = var.parallelism
    order             = var.order
    delay             = var.delay
    monitor           = var.monitor
    failure_action    = var.failure_action
    max_failure_ratio = var.max_failure_ratio
    services          = local.services
  }
}

include "record_release" {
  vars = { now_at = var.version }
}
